import { Type } from 'typebox';
import { DateTime } from '../../schemas.js';

const strict = { additionalProperties: false } as const;
export const Scope = Type.Enum(['credential', 'account', 'address']);

export const BucketView = Type.Object(
  {
    scope: Scope,
    capacity: Type.Integer(),
    refill_per_minute: Type.Integer(),
    remaining: Type.Integer({ description: 'Tokens available now' }),
  },
  strict,
);

export const FairUseView = Type.Object(
  {
    buckets: Type.Array(BucketView, { description: 'The buckets this credential spends; a call must find tokens in each' }),
    costs: Type.Array(Type.Object({ operation_id: Type.String(), cost: Type.Integer() }, strict), { description: 'Operations that cost more than 1' }),
  },
  strict,
);

export const Limit = Type.Object({ scope: Scope, capacity: Type.Integer({ minimum: 1 }), refill_per_minute: Type.Integer({ minimum: 0 }), updated_at: DateTime }, strict);
export const LimitBody = Type.Object(
  { capacity: Type.Integer({ minimum: 1, maximum: 10_000_000 }), refill_per_minute: Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'At least 1: a bucket that never refills would lock a caller out for good' }) },
  strict,
);
export const Cost = Type.Object({ operation_id: Type.String(), cost: Type.Integer({ minimum: 1 }), updated_at: DateTime }, strict);
export const CostBody = Type.Object({ cost: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }, strict);
export const LimitsView = Type.Object({ limits: Type.Array(Limit), costs: Type.Array(Cost) }, strict);

import { Type, type Static, type TSchema } from 'typebox';
import { BigIntId, Currency, DateTime, documentAs, Int32, iso, MoneyAmount, named, Page } from '../../schemas.js';
import type { IncidentRow } from './incident-service.js';
import type { LadderStanding } from './incidents.js';

const strict = { additionalProperties: false } as const;
export const Scope = Type.Enum(['credential', 'account', 'address']);

export const BucketView = Type.Object(
  {
    scope: Scope,
    capacity: Int32(),
    refill_per_minute: Int32(),
    remaining: Int32({ description: 'Tokens available now' }),
  },
  strict,
);

const BucketsAndCosts = Type.Object(
  {
    buckets: Type.Array(BucketView, {
      description: 'The buckets this credential spends; a call must find tokens in each',
    }),
    costs: Type.Array(Type.Object({ operation_id: Type.String(), cost: Int32() }, strict), {
      description: 'Operations that cost more than 1',
    }),
  },
  strict,
);

export const Limit = Type.Object(
  { scope: Scope, capacity: Int32({ minimum: 1 }), refill_per_minute: Int32({ minimum: 0 }), updated_at: DateTime },
  strict,
);
export const LimitBody = Type.Object(
  {
    capacity: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
    refill_per_minute: Type.Integer({
      minimum: 1,
      maximum: 100_000_000,
      description: 'At least 1: a bucket that never refills would lock a caller out for good',
    }),
  },
  strict,
);
export const Cost = Type.Object(
  { operation_id: Type.String(), cost: Int32({ minimum: 1 }), updated_at: DateTime },
  strict,
);
export const CostBody = Type.Object({ cost: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }, strict);
export const LimitsView = Type.Object({ limits: Type.Array(Limit), costs: Type.Array(Cost) }, strict);

export const Incident = named(
  'Incident',
  Type.Object(
    {
      id: BigIntId(),
      account_id: Type.String({ format: 'uuid' }),
      type: Type.Enum([
        'repeated_failed_command',
        'rate_limit_sustained',
        'bulk_without_notice',
        'drop_catch_pattern',
        'abuse_unanswered',
      ]),
      occurred_at: DateTime,
      evidence: Type.Object({}, { additionalProperties: true }),
      status: Type.Enum(['open', 'cleared']),
      annotation: Type.Union([Type.String(), Type.Null()]),
      actions: Type.Array(Type.String(), { description: 'Ladder steps this incident triggered' }),
      cleared_at: Type.Union([DateTime, Type.Null()]),
    },
    {
      ...strict,
      description: 'A fair-use incident: something the account did that the ladder counts (R-API-3)',
      examples: [
        {
          id: 17,
          account_id: '8a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
          type: 'rate_limit_sustained',
          occurred_at: '2026-03-01T08:05:00.000Z',
          evidence: { hits_in_minute: 240, minute: '2026-03-01T08:05:00.000Z', last_request_id: 'req-7f3a9c2e' },
          status: 'open',
          annotation: null,
          actions: ['warning'],
          cleared_at: null,
        },
      ],
    },
  ),
);
export const IncidentList = Page(Incident);

// The document shows an incident as one variant per type, its evidence typed (runtime: one object).
const incidentVariant = (type: string, evidence: Record<string, TSchema>, description: string) =>
  Type.Object(
    {
      id: BigIntId(),
      account_id: Type.String({ format: 'uuid' }),
      type: Type.Literal(type),
      occurred_at: DateTime,
      evidence: Type.Object(evidence, { additionalProperties: true, description }),
      status: Type.Enum(['open', 'cleared']),
      annotation: Type.Union([Type.String(), Type.Null()]),
      actions: Type.Array(Type.String(), { description: 'Ladder steps this incident triggered' }),
      cleared_at: Type.Union([DateTime, Type.Null()]),
    },
    strict,
  );
const RequestId = Type.String({ description: 'The X-Request-Id of the request, to find it in the audit trail' });
const INCIDENT_VARIANTS = {
  RepeatedFailedCommandIncident: incidentVariant(
    'repeated_failed_command',
    {
      operation: Type.String({ description: 'operationId of the command' }),
      first_failure_request_id: RequestId,
      first_failure_code: Type.Union([Type.String(), Type.Null()]),
      repeat_request_id: RequestId,
    },
    'R-API-2: the same failed command sent again unchanged',
  ),
  RateLimitSustainedIncident: incidentVariant(
    'rate_limit_sustained',
    { hits_in_minute: Int32(), minute: DateTime, last_request_id: RequestId },
    'R-API-1: refused calls in one minute past the threshold',
  ),
  BulkWithoutNoticeIncident: incidentVariant(
    'bulk_without_notice',
    {
      day: Type.String({ format: 'date' }),
      count: Int32(),
      threshold: Int32(),
      noticed: Int32(),
      request_id: RequestId,
    },
    'R-API-3: more commands in a UTC day than the threshold without a bulk notice covering them',
  ),
  DropCatchPatternIncident: incidentVariant(
    'drop_catch_pattern',
    { names_in_minute: Int32(), minute: DateTime, request_id: RequestId },
    'R-DOM-4: more distinct names checked in one minute than the drop-catch threshold',
  ),
  AbuseUnansweredIncident: incidentVariant(
    'abuse_unanswered',
    {
      complaint_id: Type.String({ format: 'uuid' }),
      domain: Type.String(),
      category: Type.String(),
      filed_at: DateTime,
      respond_by: DateTime,
    },
    'R-DOM-6: an abuse complaint not answered by respond_by',
  ),
};
documentAs({
  ...INCIDENT_VARIANTS,
  Incident: Type.Unsafe({
    oneOf: Object.keys(INCIDENT_VARIANTS).map((id) => Type.Ref(id)),
    description: 'A fair-use incident: something the account did that the ladder counts; `evidence` by `type`',
    discriminator: {
      propertyName: 'type',
      mapping: Object.fromEntries(
        Object.entries(INCIDENT_VARIANTS).map(([id, v]) => [v.properties.type.const, `#/components/schemas/${id}`]),
      ),
    },
  }),
});

/** The incident as the API shows it (GET /v1/fair-use/incidents, the fair_use.* events). */
export const incidentView = (i: IncidentRow): Static<typeof Incident> => ({
  id: i.id,
  account_id: i.accountId,
  type: i.type as Static<typeof Incident>['type'],
  occurred_at: i.occurredAt.toISOString(),
  evidence: i.evidence as Record<string, unknown>,
  status: i.status as 'open' | 'cleared',
  annotation: i.annotation,
  actions: i.actions,
  cleared_at: iso(i.clearedAt),
});

const standingFields = {
  api_suspended_until: Type.Union([DateTime, Type.Null()]),
  termination_review: Type.Boolean(),
  open_incidents: Int32({ description: 'Open incidents within the rolling period' }),
  counted_incidents: Int32({
    description: 'What the ladder counts: open incidents within the period, once per cause (type) per UTC day',
  }),
  incident_days: Int32({ description: 'Distinct UTC days with open incidents within the period' }),
  period_days: Int32(),
};
export const Standing = Type.Object(standingFields, strict);

/** The account's standing as `standing` of GET /v1/fair-use shows it at `at` (a suspension past its end shows null). */
export const standingView = (
  account: { apiSuspendedUntil: Date | null; terminationReview: boolean },
  standing: LadderStanding,
  periodDays: number,
  at: Date,
): Static<typeof Standing> => ({
  api_suspended_until:
    account.apiSuspendedUntil && account.apiSuspendedUntil > at ? account.apiSuspendedUntil.toISOString() : null,
  termination_review: account.terminationReview,
  open_incidents: standing.open,
  counted_incidents: standing.counted,
  incident_days: standing.days,
  period_days: periodDays,
});

/** fair_use.api_suspension_lifted: the standing after the lift, and who lifted it. */
export const LiftedStanding = Type.Object(
  {
    ...standingFields,
    lifted_by: Type.Enum(['operator', 'expiry'], {
      description:
        "operator: DELETE /v1/admin/fair-use/suspensions/{account_id}; expiry: its time passed (reported when the server next looks: the expiry job, or the account's next incident)",
    }),
  },
  { ...strict, description: '`standing` of GET /v1/fair-use after the lift, and who lifted it' },
);

export const Today = Type.Object(
  {
    day: Type.String({ format: 'date' }),
    commands: Int32({ description: 'Orders and updates counted today (UTC)' }),
    threshold: Int32(),
    ceiling: Int32(),
    noticed: Int32({ description: 'The largest count a bulk notice for today announced' }),
  },
  strict,
);

export const BulkNotice = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    date: Type.String({ format: 'date' }),
    expected_count: Int32(),
    description: Type.String(),
    created_at: DateTime,
  },
  strict,
);
export const BulkNoticeBody = Type.Object(
  {
    date: Type.String({ format: 'date', description: 'UTC day of the bulk work: today or later' }),
    expected_count: Type.Integer({ minimum: 1, maximum: 100_000_000 }),
    description: Type.String({ minLength: 1, maxLength: 2000 }),
  },
  strict,
);

export const IncidentPatch = Type.Object(
  {
    annotation: Type.Optional(Type.String({ maxLength: 4000 })),
    status: Type.Optional(Type.Enum(['open', 'cleared'])),
  },
  { ...strict, minProperties: 1 },
);

export const LadderStep = Type.Object(
  {
    threshold: Type.Integer({
      minimum: 1,
      maximum: 1000,
      description:
        'Open incidents within the period, counted once per cause (type) per UTC day, at which this step fires',
    }),
    min_days: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 3650,
        description: 'Distinct UTC days with incidents within the period that the step also needs (default 1)',
      }),
    ),
    action: Type.Enum(['warning', 'suspend_api', 'fee', 'termination_review']),
    suspension_hours: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 8760 }), Type.Null()])),
    fee: Type.Optional(
      Type.Union([
        // Keyed by currency: each key an ISO 4217 code (the one Currency check).
        Type.Record(Type.String(), MoneyAmount({ minimum: 1 }), { propertyNames: Currency }),
        Type.Null(),
      ]),
    ),
  },
  strict,
);
export const Ladder = Type.Object({ steps: Type.Array(LadderStep, { maxItems: 50 }) }, strict);

export const FairUseView = Type.Object(
  {
    standing: Standing,
    today: Today,
    recent_incidents: Type.Array(Incident, { description: 'The 20 newest' }),
    ...BucketsAndCosts.properties,
  },
  strict,
);

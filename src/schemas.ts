// TypeBox schemas shared by every module: money, times, ids, pagination (cursors: plugins/cursors.ts).
import { Type, type TSchema } from 'typebox';

// Integer bounds. Every integer a request carries has bounds that fit its column, so an
// out-of-range number is a 422 at validation, never a database error (and the OpenAPI document
// shows them). Money columns are bigint, but amounts are added and compared in JavaScript numbers:
// the business bound keeps any sum of a few of them exact (far below 2^53).
export const INT32_MAX = 2_147_483_647;
/** The largest amount of money, in minor units, that a request may carry (10^12: ten billion EUR). */
export const MONEY_MAX = 1_000_000_000_000;

type IntegerOptions = Parameters<typeof Type.Integer>[0];
/** An integer that fits a PostgreSQL integer (int4) column; `opts` may narrow the bounds. */
export const Int32 = (opts: IntegerOptions = {}) =>
  Type.Integer({ minimum: -INT32_MAX - 1, maximum: INT32_MAX, ...opts });
/** The id of a bigint identity column: positive and exact in a JavaScript number. */
export const BigIntId = (opts: IntegerOptions = {}) =>
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, ...opts });
/** An amount of money in minor units, within ±MONEY_MAX; `opts` may narrow the bounds. */
export const MoneyAmount = (opts: IntegerOptions = {}) =>
  Type.Integer({ minimum: -MONEY_MAX, maximum: MONEY_MAX, ...opts });

export const Uuid = Type.String({ format: 'uuid' });
export const DateTime = Type.String({ format: 'date-time', description: 'RFC 3339, UTC' });
export const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' });
export const Money = Type.Object(
  {
    amount: Type.Integer({
      minimum: -Number.MAX_SAFE_INTEGER,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'Minor units (cents, kopecks)',
    }),
    currency: Currency,
  },
  { additionalProperties: false },
);
export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
};

export function Page<T extends TSchema>(item: T) {
  return Type.Object(
    { data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) },
    { additionalProperties: false },
  );
}

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

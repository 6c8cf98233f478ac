// TypeBox schemas shared by every module: money, times, ids, pagination (cursors: plugins/cursors.ts).
import { Type, type Static, type TSchema, type TUnsafe } from 'typebox';
import { CURRENCY_CODES } from './lib/currencies.js';

const NAMED = new Map<string, TSchema>();

/**
 * A schema with a name: it is registered once (app.addSchema, by the openapi plugin) under its `$id`,
 * which becomes its component name in the OpenAPI document, and every use is a `$ref` to it, typed as
 * the schema. Declare named schemas at module level, so they exist before the app registers them.
 */
export function named<T extends TSchema>(id: string, schema: T): TUnsafe<Static<T>> {
  if (NAMED.has(id)) throw new Error(`schema named twice: ${id}`);
  NAMED.set(id, { ...schema, $id: id });
  return Type.Unsafe<Static<T>>(Type.Ref(id));
}

/** Every named schema, with its `$id`, for app.addSchema. */
export const namedSchemas = (): TSchema[] => [...NAMED.values()];

const DOCUMENT_FORMS = new Map<string, TSchema>();

/**
 * How the OpenAPI document shows named schemas whose runtime schema stays one plain object for fast
 * serialisation while the payload's shape depends on a field: e.g. a discriminated union (oneOf +
 * discriminator) over variants, each a component of its own. test/plugins/openapi.test.ts checks
 * real responses against these forms. `$ref`s name components bare (`Money`), as in named schemas.
 */
export function documentAs(forms: Record<string, TSchema>): void {
  for (const [id, form] of Object.entries(forms)) DOCUMENT_FORMS.set(id, form);
}

/** The document-only forms of components, by name. */
export const documentForms = (): ReadonlyMap<string, TSchema> => DOCUMENT_FORMS;

/** A reference to a named schema with a description of its own (OpenAPI 3.1 keeps siblings of `$ref`). */
export const describedRef = <T extends TSchema>(ref: T, description: string): T => ({ ...ref, description });

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
/**
 * A currency: an ISO 4217 code in current use (lib/currencies.ts), the one check of every currency a
 * request carries (an account's, prices, credits, max_price...): an unknown code is 422. An `enum`,
 * so the document lists the codes; typed as a string.
 */
export const Currency = named(
  'Currency',
  Type.Unsafe<string>({
    type: 'string',
    enum: [...CURRENCY_CODES],
    description: 'ISO 4217 currency code in current use (not a fund, metal, test or withdrawn code)',
    examples: ['EUR'],
  }),
);
export const Money = named(
  'Money',
  Type.Object(
    {
      amount: Type.Integer({
        minimum: -Number.MAX_SAFE_INTEGER,
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'Minor units (cents, kopecks)',
      }),
      currency: Currency,
    },
    {
      additionalProperties: false,
      description: 'An amount of money: integer minor units and an ISO 4217 currency',
      examples: [{ amount: 1299, currency: 'EUR' }],
    },
  ),
);
export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

/** List query parameters; the OpenAPI document shows them once, as the Limit and Cursor parameters. */
export const PageQuery = {
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'How many items to return at most' }),
  ),
  cursor: Type.Optional(
    Type.String({ maxLength: 512, description: 'The next_cursor of the previous page; omit for the first page' }),
  ),
};

/**
 * The list envelope. For a named item (`X`) it is the named schema `XList`: declare it next to the
 * item (`export const XList = Page(X)`) so it exists when the app registers named schemas; later calls
 * return the same reference.
 */
export function Page<T extends TSchema>(item: T) {
  const envelope = Type.Object(
    {
      data: Type.Array(item),
      next_cursor: Type.Union([Type.String(), Type.Null()], {
        description: 'Pass as `cursor` for the next page; null on the last page',
      }),
    },
    { additionalProperties: false },
  );
  const ref = (item as { $ref?: unknown }).$ref;
  if (typeof ref !== 'string') return envelope;
  const id = `${ref}List`;
  if (NAMED.has(id)) return Type.Unsafe<Static<typeof envelope>>(Type.Ref(id));
  return named(id, { ...envelope, description: `A page of ${ref} items` });
}

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

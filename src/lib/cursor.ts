// Opaque pagination cursors. A cursor carries its list position itself (the sort key and the id of
// the last row served) and an HMAC tag over it, keyed for one list, one tenant and one set of
// filters: a cursor is never looked up, a forged one fails the tag, and one issued for another
// account or another list (or other filters) fails it too. The position is still checked against
// its shape (types, bounds, dates in range) before it reaches SQL.

import { isUnsafeText } from './unsafe-text.js';

/** What signs and verifies cursor payloads: a signer keyed for one list binding (plugins/cursors.ts). */
export interface CursorSigner {
  sign(payload: string): string;
  /** The payload, or null when the token was not signed by this signer. */
  verify(token: string): string | null;
}

/** The kinds of value a position holds: a bigint identity id, a UUID, a time, or text of at most n characters. */
export type PositionField = 'id' | 'uuid' | 'time' | { text: number };
export type PositionShape = Record<string, PositionField>;
export type Position<S extends PositionShape> = {
  [K in keyof S]: S[K] extends 'id' ? number : S[K] extends 'time' ? Date : string;
};
/** What a list puts in a cursor: the same keys, times as Dates. */
export type PositionValues = Record<string, string | number | Date>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
// Rows are made by this service: nothing is older than 2000 or newer than 9999.
const EARLIEST = Date.UTC(2000, 0, 1);
const LATEST = Date.UTC(9999, 11, 31);

export function encodeCursor(signer: CursorSigner, position: PositionValues): string {
  const plain: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(position)) plain[k] = v instanceof Date ? v.toISOString() : v;
  return signer.sign(JSON.stringify(plain));
}

function field(kind: PositionField, value: unknown): string | number | Date | undefined {
  if (kind === 'id') return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 ? value : undefined;
  if (kind === 'uuid') return typeof value === 'string' && UUID.test(value) ? value : undefined;
  if (kind === 'time') {
    if (typeof value !== 'string' || !ISO_TIME.test(value)) return undefined;
    const at = Date.parse(value);
    return at >= EARLIEST && at <= LATEST ? new Date(at) : undefined;
  }
  return typeof value === 'string' && value.length >= 1 && value.length <= kind.text && !isUnsafeText(value)
    ? value
    : undefined;
}

/**
 * The position in `cursor`, or null when this signer did not issue it or it does not have `shape`
 * (exactly its keys, each of its kind).
 */
export function decodeCursor<S extends PositionShape>(
  signer: CursorSigner,
  cursor: string,
  shape: S,
): Position<S> | null {
  const payload = signer.verify(cursor);
  if (payload === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const keys = Object.keys(shape);
  if (Object.keys(value).length !== keys.length) return null;
  const out: Record<string, string | number | Date> = {};
  for (const key of keys) {
    const v = field(shape[key]!, (value as Record<string, unknown>)[key]);
    if (v === undefined) return null;
    out[key] = v;
  }
  return out as Position<S>;
}

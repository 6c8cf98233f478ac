// TypeBox schemas shared by every module: money, times, ids, pagination.
import { Type, type TSchema } from 'typebox';
import { decodeCursor, encodeCursor } from './lib/cursor.js';
import { BadRequest } from './errors.js';

export const Uuid = Type.String({ format: 'uuid' });
export const DateTime = Type.String({ format: 'date-time', description: 'RFC 3339, UTC' });
export const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' });
export const Money = Type.Object(
  {
    amount: Type.Integer({ description: 'Minor units (cents, kopecks)' }),
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

/** The numeric id position in a cursor, or a 400 for a cursor we did not issue. */
export function cursorId(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const pos = decodeCursor<{ id: number }>(cursor, ['id']);
  if (!pos || typeof pos.id !== 'number') throw new BadRequest('The cursor is not one this API issued');
  return pos.id;
}

/** A cursor's string position (`key`), or a 400 for a cursor we did not issue. */
export function cursorAt(cursor: string | undefined, key: string): string | undefined {
  if (cursor === undefined) return undefined;
  const pos = decodeCursor<Record<string, string>>(cursor, [key]);
  if (!pos || typeof pos[key] !== 'string') throw new BadRequest('The cursor is not one this API issued');
  return pos[key];
}

/** Builds `{data, next_cursor}` from rows fetched with limit + 1. */
export function page<R, O>(rows: R[], limit: number, position: (row: R) => Record<string, string | number>, view: (row: R) => O) {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const last = items.at(-1);
  return { data: items.map(view), next_cursor: more && last !== undefined ? encodeCursor(position(last)) : null };
}

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

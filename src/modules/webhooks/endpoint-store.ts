// SQL of webhook endpoints that carries no rule: single reads, lists with their cursor positions.
import { and, asc, count, eq, gt, or, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { webhookEndpoints as we } from '../../db/schema/index.js';
import type { EndpointRow } from './schemas.js';

/** A list position: the last row served (created_at, id). */
export interface EndpointPosition {
  createdAt: Date;
  id: string;
}

const after = (p: EndpointPosition | undefined) =>
  p ? or(gt(we.createdAt, p.createdAt), and(eq(we.createdAt, p.createdAt), gt(we.id, p.id))) : undefined;

/** The endpoint if it is the account's (any account's when accountId is null: operators). */
export async function findEndpoint(db: Tx, accountId: string | null, id: string): Promise<EndpointRow | undefined> {
  const [row] = await db
    .select()
    .from(we)
    .where(and(eq(we.id, id), accountId === null ? undefined : eq(we.accountId, accountId)));
  return row;
}

/** The row locked for an update in `tx` (same tenancy rule as findEndpoint). */
export async function lockEndpoint(tx: Tx, accountId: string | null, id: string): Promise<EndpointRow | undefined> {
  const [row] = await tx
    .select()
    .from(we)
    .where(and(eq(we.id, id), accountId === null ? undefined : eq(we.accountId, accountId)))
    .for('update');
  return row;
}

/** Up to `limit` rows (pass limit + 1 to know whether a page follows), oldest first. */
export function listEndpoints(
  db: Db,
  f: {
    accountId?: string | undefined;
    enabled?: boolean | undefined;
    after?: EndpointPosition | undefined;
    limit: number;
  },
): Promise<EndpointRow[]> {
  return db
    .select()
    .from(we)
    .where(
      and(
        f.accountId !== undefined ? eq(we.accountId, f.accountId) : undefined,
        f.enabled !== undefined ? eq(we.enabled, f.enabled) : undefined,
        after(f.after),
      ),
    )
    .orderBy(asc(we.createdAt), asc(we.id))
    .limit(f.limit);
}

export async function countEndpoints(tx: Tx, accountId: string): Promise<number> {
  const [row] = await tx.select({ n: count() }).from(we).where(eq(we.accountId, accountId));
  return Number(row?.n ?? 0);
}

/**
 * Serialises endpoint creation per account until `tx` ends (the per-account cap holds under
 * concurrent creates) without locking the account row, which the ledger uses.
 */
export async function lockAccountEndpoints(tx: Tx, accountId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`webhook_endpoints:${accountId}`}, 0))`);
}

export async function insertEndpoint(tx: Tx, values: typeof we.$inferInsert): Promise<EndpointRow> {
  const [row] = await tx.insert(we).values(values).returning();
  return row!;
}

export async function updateEndpoint(tx: Tx, id: string, set: Partial<typeof we.$inferInsert>): Promise<EndpointRow> {
  const [row] = await tx.update(we).set(set).where(eq(we.id, id)).returning();
  return row!;
}

/** Deletes the account's endpoint (its deliveries and attempts go with it); false when there is none. */
export async function deleteEndpoint(db: Db, accountId: string, id: string): Promise<boolean> {
  const gone = await db
    .delete(we)
    .where(and(eq(we.id, id), eq(we.accountId, accountId)))
    .returning({ id: we.id });
  return gone.length > 0;
}

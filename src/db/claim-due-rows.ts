// The one way a job takes its work: due rows claimed in batches with FOR UPDATE SKIP LOCKED, each
// batch handled in its own short transaction. Instances (and a retry running beside the next
// scheduled run) split the rows instead of waiting for each other, no lock is held across batches,
// and a batch that fails is skipped for the rest of the run instead of being claimed again.
import { and, getTableColumns, notInArray, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Db, Tx } from './client.js';

export interface ClaimDueRows<T extends PgTable, R> {
  db: Db;
  table: T;
  /** The table's key: a failed batch's rows are left out of later claims of this run by it. */
  key: PgColumn;
  /** Which rows are due (written against the job's `now`). */
  due: SQL | undefined;
  /** Earliest due first, usually. */
  orderBy?: SQL | PgColumn;
  /** Rows per transaction (default 1: each row in its own). */
  batchSize?: number;
  /** Most rows one run claims, handled or failed (default: until none is due). */
  limit?: number;
  /** Handles the claimed rows in the transaction that locked them. */
  handle(tx: Tx, rows: T['$inferSelect'][]): Promise<R>;
  /** After the batch committed: work that must not run inside it (another transaction, on PGlite's one connection). */
  afterCommit?(result: R, rows: T['$inferSelect'][]): Promise<void>;
  /**
   * A batch whose transaction failed (rolled back). Without it the run stops with the error; with
   * it the run goes on without those rows (none when the claim itself failed: then the run ends).
   */
  onError?(err: unknown, rows: T['$inferSelect'][]): void;
}

/** Claims and handles due rows until none is left or the limit is reached; returns how many rows were handled. */
export async function claimDueRows<T extends PgTable, R>(c: ClaimDueRows<T, R>): Promise<number> {
  const batchSize = c.batchSize ?? 1;
  const limit = c.limit ?? Infinity;
  const keyName = keyNameOf(c.table, c.key);
  const failed: unknown[] = [];
  let handled = 0;
  while (handled + failed.length < limit) {
    const take = Math.min(batchSize, limit - handled - failed.length);
    // The rows this run claimed, kept past a rollback: the failure is theirs. Looking "the earliest
    // due" up again would find rows another instance holds and blame them.
    let claimed: T['$inferSelect'][] = [];
    let result: R;
    try {
      result = await c.db.transaction(async (tx) => {
        const table: PgTable = c.table;
        const query = tx
          .select()
          .from(table)
          .where(and(c.due, failed.length ? notInArray(c.key, failed) : undefined))
          .$dynamic();
        const ordered = c.orderBy ? query.orderBy(c.orderBy) : query;
        claimed = await ordered.limit(take).for('update', { skipLocked: true });
        return claimed.length ? c.handle(tx, claimed) : (undefined as R);
      });
    } catch (err) {
      if (!c.onError) throw err;
      c.onError(err, claimed);
      if (claimed.length === 0) return handled;
      for (const row of claimed) failed.push((row as Record<string, unknown>)[keyName]);
      continue;
    }
    if (claimed.length === 0) return handled;
    handled += claimed.length;
    if (c.afterCommit) await c.afterCommit(result, claimed);
    if (claimed.length < take) return handled;
  }
  return handled;
}

/** The property name of `key` on the table's rows (Drizzle selects by property, not column name). */
function keyNameOf(table: PgTable, key: PgColumn): string {
  for (const [name, column] of Object.entries(getTableColumns(table))) if (column === key) return name;
  throw new Error(`claimDueRows: ${key.name} is not a column of the table`);
}

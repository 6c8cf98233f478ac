// R-API-3: orders and updates per account per UTC day, and the notices that announce bulk work.
import { and, eq, max, sql } from 'drizzle-orm';
import { batched, preparedStatement, type Db } from '../../db/client.js';
import { bulkNotices, dailyCounters } from '../../db/schema/index.js';

export const utcDay = (at = new Date()): string => at.toISOString().slice(0, 10);

/**
 * Counts commands per account and UTC day, many concurrent ones in one upsert: the counts of one account and day are
 * added up first (one statement may not update a row twice), then handed out in order, so each
 * command still gets its own n-th place in the day, exactly as one upsert per command would.
 */
export function commandCounter(db: Db): (accountId: string, day: string) => Promise<number> {
  const upsert = preparedStatement<{ account_id: string; day: string; commands: number }>(
    'daily_counters_add',
    sql`insert into daily_counters (account_id, day, commands)
        select account_id, day, n from jsonb_to_recordset(${sql.placeholder('rows')}::jsonb) as r(account_id uuid, day date, n integer)
        on conflict (account_id, day) do update set commands = daily_counters.commands + excluded.commands
        returning account_id, to_char(day, 'YYYY-MM-DD') as day, commands`,
  );
  const count = batched<{ accountId: string; day: string }, number>(async (items) => {
    const totals = new Map<string, { account_id: string; day: string; n: number }>();
    for (const i of items) {
      const key = `${i.accountId} ${i.day}`;
      const t = totals.get(key);
      if (t) t.n++;
      else totals.set(key, { account_id: i.accountId, day: i.day, n: 1 });
    }
    // A fixed order of row locks, so two batches (two instances) cannot deadlock.
    const rows = [...totals.values()].sort((a, b) =>
      a.account_id < b.account_id ? -1 : a.account_id > b.account_id ? 1 : a.day < b.day ? -1 : 1,
    );
    const after = await upsert(db, { rows: JSON.stringify(rows) });
    // The first command of a key in this batch is the (total - n + 1)-th of the day.
    const next = new Map(
      after.map((r) => [
        `${r.account_id} ${r.day}`,
        Number(r.commands) - totals.get(`${r.account_id} ${r.day}`)!.n + 1,
      ]),
    );
    return items.map((i) => {
      const key = `${i.accountId} ${i.day}`;
      const n = next.get(key)!;
      next.set(key, n + 1);
      return n;
    });
  });
  return (accountId, day) => count({ accountId, day });
}

export async function commandsOn(db: Db, accountId: string, day: string): Promise<number> {
  const [row] = await db
    .select({ commands: dailyCounters.commands })
    .from(dailyCounters)
    .where(and(eq(dailyCounters.accountId, accountId), eq(dailyCounters.day, day)));
  return row?.commands ?? 0;
}

/** The largest count that notices filed for the day announce (0 when none). */
export async function noticedCount(db: Db, accountId: string, day: string): Promise<number> {
  const [row] = await db
    .select({ n: max(bulkNotices.expectedCount) })
    .from(bulkNotices)
    .where(and(eq(bulkNotices.accountId, accountId), eq(bulkNotices.day, day)));
  return row?.n ?? 0;
}

export type BulkVerdict = { kind: 'ok' } | { kind: 'warn'; firstPast: boolean } | { kind: 'refuse' };

/** What R-API-3 says about the n-th command of the day, given the notice on file. */
export function judgeBulk(n: number, noticed: number, threshold: number, ceiling: number): BulkVerdict {
  if (n <= threshold || n <= noticed) return { kind: 'ok' };
  if (n > ceiling) return { kind: 'refuse' };
  return { kind: 'warn', firstPast: n === threshold + 1 || (noticed > threshold && n === noticed + 1) };
}

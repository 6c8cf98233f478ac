// R-API-3: orders and updates per account per UTC day, and the notices that announce bulk work.
import { and, eq, max, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { bulkNotices, dailyCounters } from '../../db/schema/index.js';

export const utcDay = (at = new Date()): string => at.toISOString().slice(0, 10);

/** Counts one command and returns the day's count so far (this one included). */
export async function countCommand(db: Db, accountId: string, day: string): Promise<number> {
  const [row] = await db
    .insert(dailyCounters)
    .values({ accountId, day, commands: 1 })
    .onConflictDoUpdate({ target: [dailyCounters.accountId, dailyCounters.day], set: { commands: sql`${dailyCounters.commands} + 1` } })
    .returning({ commands: dailyCounters.commands });
  return row!.commands;
}

export async function commandsOn(db: Db, accountId: string, day: string): Promise<number> {
  const [row] = await db.select({ commands: dailyCounters.commands }).from(dailyCounters).where(and(eq(dailyCounters.accountId, accountId), eq(dailyCounters.day, day)));
  return row?.commands ?? 0;
}

/** The largest count that notices filed for the day announce (0 when none). */
export async function noticedCount(db: Db, accountId: string, day: string): Promise<number> {
  const [row] = await db.select({ n: max(bulkNotices.expectedCount) }).from(bulkNotices).where(and(eq(bulkNotices.accountId, accountId), eq(bulkNotices.day, day)));
  return row?.n ?? 0;
}

export type BulkVerdict = { kind: 'ok' } | { kind: 'warn'; firstPast: boolean } | { kind: 'refuse' };

/** What R-API-3 says about the n-th command of the day, given the notice on file. */
export function judgeBulk(n: number, noticed: number, threshold: number, ceiling: number): BulkVerdict {
  if (n <= threshold || n <= noticed) return { kind: 'ok' };
  if (n > ceiling) return { kind: 'refuse' };
  return { kind: 'warn', firstPast: n === threshold + 1 || (noticed > threshold && n === noticed + 1) };
}

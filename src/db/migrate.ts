// Applies the committed drizzle-kit migrations at start, under an advisory lock so that instances
// starting together run them once, and reports whether the database is at the latest one.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { queryRows, type Db, type Schema, type Store } from './client.js';
import { installJobQueue } from './job-queue.js';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../migrations', import.meta.url));
/** Arbitrary but fixed: every instance must use the same key. */
const MIGRATION_LOCK_KEY = 0x7265_7365_6c6c_6572n; // "reseller"

export interface JournalEntry {
  idx: number;
  when: number;
  tag: string;
}

export function readJournal(folder = MIGRATIONS_FOLDER): JournalEntry[] {
  const journal = JSON.parse(readFileSync(`${folder}/meta/_journal.json`, 'utf8')) as { entries: JournalEntry[] };
  return journal.entries;
}

export async function runMigrations(store: Store, folder = MIGRATIONS_FOLDER): Promise<void> {
  await store.withAdvisoryLock(MIGRATION_LOCK_KEY, async (db) => {
    if (store.kind === 'postgres') {
      await migratePg(db as unknown as NodePgDatabase<Schema>, { migrationsFolder: folder });
    } else {
      await migratePglite(db as unknown as PgliteDatabase<Schema>, { migrationsFolder: folder });
    }
    await installJobQueue(db);
  });
}

/** The `when` of the newest migration applied, or null when none (or the table is missing). */
export async function latestAppliedMigration(db: Db): Promise<number | null> {
  try {
    const rows = await queryRows<{ latest: string | null }>(
      db,
      sql`select max(created_at)::text as latest from drizzle.__drizzle_migrations`,
    );
    const latest = rows[0]?.latest;
    return latest == null ? null : Number(latest);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01' || (err as { code?: string }).code === '3F000') return null;
    throw err;
  }
}

/**
 * drizzle 0.45's migrator applies only migrations newer than the newest applied one, so an entry
 * whose `when` is not above its predecessor's is silently skipped forever. Returns what is wrong.
 */
export function journalOrderProblems(entries: readonly JournalEntry[]): string[] {
  const problems: string[] = [];
  entries.forEach((entry, i) => {
    if (entry.idx !== i) problems.push(`${entry.tag}: idx ${entry.idx} where ${i} was expected`);
    const prev = entries[i - 1];
    if (prev && !(entry.when > prev.when)) {
      problems.push(
        `${entry.tag}: when ${entry.when} is not after ${prev.tag}'s ${prev.when}; the migrator would skip it`,
      );
    }
  });
  return problems;
}

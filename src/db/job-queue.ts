// pg-boss (the job library, see plugins/jobs.ts) over our store: the SQL adapters it runs through
// on PostgreSQL and on embedded PGlite, and its schema, installed with the migrations.
import { createRequire } from 'node:module';
import { PGlite } from '@electric-sql/pglite';
import { sql, type SQL } from 'drizzle-orm';
import PgBoss from 'pg-boss';
import type { Db, Tx } from './client.js';

/** The PostgreSQL schema pg-boss keeps its tables in. */
export const JOB_SCHEMA = 'pgboss';
/** Every job of the app goes through one queue: creating a queue is DDL (a partition), ~60 ms each on PGlite. */
export const JOB_QUEUE = 'app-jobs';
/** Where a job lands once its retries are spent (pg-boss's deadLetter). */
export const DEAD_LETTER_QUEUE = 'app-jobs-dead';
/** How long a dead-lettered job stays visible. */
const DEAD_LETTER_RETENTION_MINUTES = 30 * 24 * 60;

/** The schema version this pg-boss expects. */
const SCHEMA_VERSION = (createRequire(import.meta.url)('pg-boss/version.json') as { schema: number }).schema;

/** What pg-boss needs of a database: one function. */
export interface SqlExecutor {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

type RawClient = PGlite | { query(text: string, values?: unknown[]): Promise<unknown> };

/**
 * pg-boss's own statements on the store's driver, outside any request transaction: the pg pool (or
 * the migration's client), or PGlite, where a statement waits for an open transaction to end (PGlite
 * has one connection), so it must never be awaited from inside one. pg-boss sends its DDL and
 * maintenance as several statements in one string without parameters: PGlite runs those with exec.
 */
export function driverExecutor(db: Db): SqlExecutor {
  const client = (db as unknown as { $client: RawClient }).$client;
  return {
    async executeSql(text, values) {
      if (client instanceof PGlite) {
        if (values !== undefined && values.length > 0) return client.query(text, values);
        const results = await client.exec(text);
        return { rows: results.at(-1)?.rows ?? [] };
      }
      type Result = { rows: Record<string, unknown>[] };
      const result = (await client.query(text, values)) as Result | Result[];
      return Array.isArray(result) ? (result.at(-1) ?? { rows: [] }) : result;
    },
  };
}

/** pg-boss's numbered parameters ($1...) as a Drizzle statement, so it runs on a Drizzle handle. */
function numbered(text: string, values: readonly unknown[] = []): SQL {
  const parts = text.split(/\$(\d+)/);
  return sql.join(
    parts.map((part, i) => (i % 2 === 0 ? sql.raw(part) : sql.param(values[Number(part) - 1]))),
    sql.raw(''),
  );
}

/**
 * pg-boss statements on a Drizzle handle: a given transaction, or the store's `db`, which is the
 * caller's request transaction while one is ambient (db/client.ts). A job sent through it commits
 * or rolls back with the caller's work.
 */
export function transactionExecutor(tx: Tx): SqlExecutor {
  return {
    async executeSql(text, values) {
      const result: unknown = await tx.execute(numbered(text, values));
      return result as { rows: Record<string, unknown>[] };
    },
  };
}

/**
 * Installs (or upgrades) pg-boss's schema and creates the app's queues. Called by runMigrations under
 * its advisory lock, so it lands in the test template and snapshot too and building an app creates
 * nothing. pg-boss's own migrations run here, not in drizzle's folder: the library owns that schema.
 */
export async function installJobQueue(db: Db): Promise<void> {
  const executor = driverExecutor(db);
  // Every start (and every app a test builds) comes here: when all is in place, one statement.
  if (await installed(executor)) return;
  const boss = new PgBoss({ db: executor, schema: JOB_SCHEMA, migrate: true, supervise: false, schedule: false });
  boss.on('error', () => {});
  await boss.start();
  try {
    const queues = await executor.executeSql(`select name from ${JOB_SCHEMA}.queue where name = any($1::text[])`, [
      [JOB_QUEUE, DEAD_LETTER_QUEUE],
    ]);
    const have = new Set(queues.rows.map((r) => r.name));
    if (!have.has(DEAD_LETTER_QUEUE)) {
      await boss.createQueue(DEAD_LETTER_QUEUE, {
        name: DEAD_LETTER_QUEUE,
        retentionMinutes: DEAD_LETTER_RETENTION_MINUTES,
      });
    }
    if (!have.has(JOB_QUEUE)) {
      await boss.createQueue(JOB_QUEUE, { name: JOB_QUEUE, deadLetter: DEAD_LETTER_QUEUE });
    }
  } finally {
    await boss.stop({ graceful: false, close: false, wait: true });
  }
}

async function installed(executor: SqlExecutor): Promise<boolean> {
  try {
    const { rows } = await executor.executeSql(
      `select v.version::int as version,
              (select count(*)::int from ${JOB_SCHEMA}.queue where name in ($1, $2)) as queues
         from ${JOB_SCHEMA}.version v`,
      [JOB_QUEUE, DEAD_LETTER_QUEUE],
    );
    return rows[0]?.version === SCHEMA_VERSION && rows[0]?.queues === 2;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '42P01' || code === '3F000') return false; // no table, no schema: not installed
    throw err;
  }
}

/** pg-boss's schema as SQL: the test helpers hash it into the template's name, so a new pg-boss gets a new template. */
export const jobQueueSchemaSql = (): string => PgBoss.getConstructionPlans(JOB_SCHEMA);

// The store: a node-postgres pool when DATABASE_URL is set, embedded PGlite otherwise. One Drizzle
// schema serves both, so the rest of the code never knows which it runs on.
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import type { SQL } from 'drizzle-orm';
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.js';
import * as schema from './schema/index.js';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** Any Drizzle handle: the app's db or a transaction's tx. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0] | Db;

export interface Store {
  readonly kind: 'postgres' | 'pglite';
  readonly db: Db;
  /** Runs fn on one connection holding a session-level advisory lock (PGlite has one connection). */
  withAdvisoryLock<T>(key: bigint, fn: (db: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function createPostgresStore(url: string, opts: { max?: number; applicationName?: string } = {}): Store {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'reseller-api',
    // A dead database must fail requests quickly rather than queue them forever.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection emits here; without a listener the process would crash.
  pool.on('error', () => {});
  let closed = false;
  return {
    kind: 'postgres',
    db: drizzlePg({ client: pool, schema }) as unknown as Db,
    async withAdvisoryLock(key, fn) {
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [key.toString()]);
        try {
          return await fn(drizzlePg({ client, schema }) as unknown as Db);
        } finally {
          await client.query('select pg_advisory_unlock($1)', [key.toString()]);
        }
      } finally {
        client.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

export function pgliteStore(client: PGlite, onClose?: () => Promise<void>): Store {
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return {
    kind: 'pglite',
    db,
    // One connection in one process: nothing else can interleave.
    withAdvisoryLock: (_key, fn) => fn(db),
    async close() {
      if (!client.closed) await client.close();
      await onClose?.();
    },
  };
}

/**
 * PGlite on a directory, held for this process alone (data-dir-lock.ts): a second process on the
 * same DATA_DIR throws DataDirInUse naming this one, instead of forking the database.
 */
export async function createEmbeddedStore(dataDir: string): Promise<Store> {
  const lock = await lockDataDir(dataDir);
  try {
    return pgliteStore(await PGlite.create(dataDir), () => lock.release());
  } catch (err) {
    await lock.release();
    throw err;
  }
}

export async function createStore(config: { databaseUrl: string | undefined; databasePoolMax: number; dataDir: string }): Promise<Store> {
  return config.databaseUrl !== undefined
    ? createPostgresStore(config.databaseUrl, { max: config.databasePoolMax })
    : createEmbeddedStore(config.dataDir);
}

/** Raw SQL through Drizzle; node-postgres and PGlite both answer with `{ rows }`. */
export async function queryRows<T extends Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

const dialect = new PgDialect();

/**
 * A hot statement written once: its SQL is built here, not per call, and it is sent as a named
 * (prepared) statement, so PostgreSQL parses and plans it once per connection. Values go in as
 * `sql.placeholder(name)` and are filled per call; the statement runs on whatever handle it is
 * given (the pool, or a transaction's connection). Rows come back as the driver gives them (snake_case,
 * timestamps as strings).
 */
export function preparedStatement<R extends Record<string, unknown>>(name: string, query: SQL): (db: Tx, params?: Record<string, unknown>) => Promise<R[]> {
  const built = dialect.sqlToQuery(query);
  return async (db, params = {}) => {
    const result = (await db._.session.prepareQuery(built, undefined, name, false).execute(params)) as { rows: R[] };
    return result.rows;
  };
}

/** PostgreSQL unique_violation (23505), whether the driver or Drizzle's wrapper carries it. */
export const isUniqueViolation = (err: unknown): boolean =>
  (err as { code?: string })?.code === '23505' || (err as { cause?: { code?: string } })?.cause?.code === '23505';

/** The code a statement raised with raise_problem(code) (SQLSTATE P0001), or null. */
export function raisedProblem(err: unknown): string | null {
  const e = (err as { cause?: { code?: string; message?: string } })?.cause ?? (err as { code?: string; message?: string });
  return e?.code === 'P0001' && typeof e.message === 'string' ? e.message : null;
}

export interface BatchOptions {
  /** Most items in one statement. */
  maxItems?: number;
  /** Batches of this instance on their way to the database at once. */
  concurrency?: number;
  /** When a batch of several fails, run each of its items alone, so one bad item fails only itself. */
  retryAlone?: boolean;
}

/**
 * Never call a batched function inside a transaction on PGlite: its one connection is held by the
 * transaction, and the batch would wait for it forever.
 *
 * Group commit for a statement that many requests issue at the same moment (an audit row, a
 * counter, a lookup by key): the first call goes out at once; calls made while a batch is on its
 * way to the database queue, and the next batch carries them all in one statement. Each caller
 * still awaits its own result, so a write is done before its caller goes on. `run` answers one
 * result per item, in order.
 */
export function batched<I, O>(run: (items: I[]) => Promise<O[]>, opts: BatchOptions = {}): (item: I) => Promise<O> {
  const maxItems = opts.maxItems ?? 500;
  const concurrency = opts.concurrency ?? 1;
  type Waiter = { item: I; resolve: (o: O) => void; reject: (err: unknown) => void };
  let queue: Waiter[] = [];
  let running = 0;
  let scheduled = false;

  const runChecked = async (items: I[]): Promise<O[]> => {
    const out = await run(items);
    if (out.length !== items.length) throw new Error(`batched: ${out.length} results for ${items.length} items`);
    return out;
  };
  async function send(batch: Waiter[]): Promise<void> {
    try {
      const out = await runChecked(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(out[i]!));
    } catch (err) {
      if (!opts.retryAlone || batch.length === 1) {
        for (const w of batch) w.reject(err);
        return;
      }
      // One at a time: a bad item fails only itself, and the retry never floods the pool.
      for (const w of batch) {
        try {
          w.resolve((await runChecked([w.item]))[0]!);
        } catch (e) {
          w.reject(e);
        }
      }
    }
  }
  function pump(): void {
    scheduled = false;
    while (running < concurrency && queue.length > 0) {
      const batch = queue.length <= maxItems ? queue : queue.slice(0, maxItems);
      queue = queue.length <= maxItems ? [] : queue.slice(maxItems);
      running++;
      void send(batch).finally(() => {
        running--;
        pump();
      });
    }
  }
  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      // Calls made in the same tick share the first batch too.
      if (!scheduled && running < concurrency) {
        scheduled = true;
        queueMicrotask(pump);
      }
    });
}

/** A jsonb/json column as an object, whichever driver parsed (or did not parse) it. */
export const jsonValue = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

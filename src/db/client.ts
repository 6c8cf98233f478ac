// The store: a node-postgres pool when DATABASE_URL is set, embedded PGlite otherwise. One Drizzle
// schema serves both, so the rest of the code never knows which it runs on.
import { AsyncLocalStorage } from 'node:async_hooks';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { sql, type SQL } from 'drizzle-orm';
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

// --- Request transactions ----------------------------------------------------------------------
// A request that must commit its outcome together with its changes (an idempotent command: see
// plugins/idempotency.ts) runs in ONE transaction that stays open from before its handler until its
// response is recorded. It is ambient: while the request's async context is inside it, the store's
// `db` is that transaction, so services need not know: `db.transaction(fn)` becomes a savepoint in
// it, and plain statements and preparedStatements run on it.

interface Ambient {
  /** The store's own handle the transaction belongs to (two stores can share a process). */
  readonly base: Db;
  /** Null once the transaction has committed or rolled back: later work of the request uses the pool. */
  tx: Tx | null;
}

const ambient = new AsyncLocalStorage<Ambient>();
/**
 * Request transactions open in this process. While it is 0 (every request without an
 * Idempotency-Key, the benchmarked path) nothing reads the async context, and the context tracking
 * itself is switched off: Node's AsyncLocalStorage costs every promise while it is enabled.
 */
let openRequestTransactions = 0;
const baseOf = new WeakMap<Db, Db>();

function ambientTx(base: Db): Tx | null {
  const a = ambient.getStore();
  return a !== undefined && a.base === base ? a.tx : null;
}

/** True when the caller's async context is inside an open request transaction. */
function insideRequestTransaction(): boolean {
  return openRequestTransactions !== 0 && (ambient.getStore()?.tx ?? null) !== null;
}

/**
 * The store's handle: itself, or the caller's request transaction while one is ambient. While no
 * request transaction is open, a property read costs one comparison more than the bare handle.
 */
function followsRequestTransaction(base: Db): Db {
  const db = new Proxy(base, {
    get(target, prop) {
      if (openRequestTransactions !== 0) {
        const tx = ambientTx(target);
        if (tx !== null) return Reflect.get(tx, prop) as unknown;
      }
      return Reflect.get(target, prop) as unknown;
    },
  });
  baseOf.set(db, base);
  return db;
}

/**
 * The request's own statements run each under a savepoint (what pgJDBC's autosave=always does): a
 * statement that fails and is handled (a unique violation turned into 409, a refused charge read
 * back as insufficient_funds) is undone alone, as it would be outside a transaction, instead of
 * aborting the whole request transaction. Statements inside a service's own `db.transaction`
 * (a savepoint already) run as they are.
 */
function statementSavepoints(raw: Tx): Tx {
  const rawSession = (raw as unknown as { session: Session }).session;
  let nestedTransactions = 0;
  const run = (text: string) => rawSession.execute(sql.raw(text));
  const guarded =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (nestedTransactions > 0) return fn(...args);
      await run('savepoint request_statement');
      try {
        const result = await fn(...args);
        await run('release savepoint request_statement');
        return result;
      } catch (err) {
        await run('rollback to savepoint request_statement').catch(() => {});
        throw err;
      }
    };
  const session = Object.create(rawSession) as Session;
  session.prepareQuery = (...args: unknown[]) => {
    const query = rawSession.prepareQuery(...args);
    query.execute = guarded(query.execute.bind(query));
    query.all = guarded(query.all.bind(query));
    return query;
  };
  const Transaction = raw.constructor as new (
    dialect: unknown,
    session: Session,
    schema: unknown,
    nestedIndex: number,
  ) => Tx;
  const internals = raw as unknown as { dialect: unknown; schema: unknown };
  const tx = new Transaction(internals.dialect, session, internals.schema, 0);
  const savepoint = (tx as unknown as { transaction: (fn: (t: Tx) => Promise<unknown>) => Promise<unknown> })
    .transaction;
  Object.defineProperty(tx, 'transaction', {
    value: async (fn: (t: Tx) => Promise<unknown>) => {
      nestedTransactions++;
      try {
        return await savepoint.call(tx, fn);
      } finally {
        nestedTransactions--;
      }
    },
  });
  return tx;
}

interface PreparedQueryLike {
  execute: (...args: unknown[]) => Promise<unknown>;
  all: (...args: unknown[]) => Promise<unknown>;
}
interface Session {
  execute(query: SQL): Promise<unknown>;
  prepareQuery(...args: unknown[]): PreparedQueryLike;
}

export interface RequestTransaction {
  /** Calls fn with the transaction ambient for fn and everything it starts. */
  enter<T>(fn: () => T): T;
  /** Runs `last` in the transaction (it records the outcome), then commits. Rejects when that failed: then nothing was done. */
  commit(last: (tx: Tx) => Promise<unknown>): Promise<void>;
  /** Undoes everything the request did in the transaction. */
  rollback(): Promise<void>;
}

class RolledBack extends Error {}

/**
 * Opens a request transaction on the store's `db` (one connection of the pool, or PGlite's one).
 * On PGlite every other statement of the process waits until it ends, so work the request must not
 * wait for (audit, counters) runs after commit/rollback, and batched() runs the request's own items
 * in it.
 */
export function beginRequestTransaction(db: Db): Promise<RequestTransaction> {
  const base = baseOf.get(db) ?? db;
  const holder: Ambient = { base, tx: null };
  let decide!: (last: ((tx: Tx) => Promise<unknown>) | null) => void;
  const decided = new Promise<((tx: Tx) => Promise<unknown>) | null>((resolve) => (decide = resolve));
  return new Promise<RequestTransaction>((opened, failedToOpen) => {
    let began = false;
    const finished = base.transaction(async (raw) => {
      began = true;
      const tx = statementSavepoints(raw);
      holder.tx = tx;
      openRequestTransactions++;
      try {
        opened({
          enter: (fn) => ambient.run(holder, fn),
          commit: (last) => {
            decide(last);
            return finished.then(() => undefined);
          },
          rollback: () => {
            decide(null);
            return finished.then(
              () => undefined,
              (err: unknown) => {
                if (!(err instanceof RolledBack)) throw err;
              },
            );
          },
        });
        const last = await decided;
        if (last === null) throw new RolledBack('request transaction rolled back');
        await last(tx);
      } finally {
        holder.tx = null;
        if (--openRequestTransactions === 0) ambient.disable();
      }
    });
    finished.catch((err: unknown) => {
      if (!began) failedToOpen(err);
    });
  });
}

export interface PostgresStoreOptions {
  max?: number;
  applicationName?: string;
  /**
   * Longest a statement may run (PostgreSQL's statement_timeout, which cancels it with 57014) and,
   * a second later, longest the driver waits for any answer (query_timeout: a stalled server that
   * never answers). Unset: no limit (tests and tools).
   */
  statementTimeoutMs?: number;
}

export function createPostgresStore(url: string, opts: PostgresStoreOptions = {}): Store {
  const timeouts =
    opts.statementTimeoutMs === undefined
      ? {}
      : { statement_timeout: opts.statementTimeoutMs, query_timeout: opts.statementTimeoutMs + 1_000 };
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'reseller-api',
    // A dead database must fail requests quickly rather than queue them forever.
    connectionTimeoutMillis: Math.min(5_000, opts.statementTimeoutMs ?? 5_000),
    idleTimeoutMillis: 30_000,
    ...timeouts,
  });
  // An idle client losing its connection emits here; without a listener the process would crash.
  pool.on('error', () => {});
  // A client in use losing its connection emits too: its query fails (and the pool drops it on
  // release), but without this listener the 'error' event would crash the process.
  pool.on('connect', (client) => client.on('error', () => {}));
  let closed = false;
  return {
    kind: 'postgres',
    db: followsRequestTransaction(drizzlePg({ client: pool, schema })),
    async withAdvisoryLock(key, fn) {
      // A connection of its own, without the request timeouts: waiting for another instance's
      // migration lock, or a migration rewriting a big table, may take longer than any request may.
      const client = new pg.Client({
        connectionString: url,
        application_name: opts.applicationName ?? 'reseller-api',
        connectionTimeoutMillis: 30_000,
      });
      client.on('error', () => {});
      await client.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [key.toString()]);
        try {
          return await fn(drizzlePg({ client, schema }));
        } finally {
          await client.query('select pg_advisory_unlock($1)', [key.toString()]);
        }
      } finally {
        await client.end().catch(() => {});
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
  const db = followsRequestTransaction(drizzlePglite({ client, schema }));
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

export async function createStore(config: {
  databaseUrl: string | undefined;
  databasePoolMax: number;
  dataDir: string;
  databaseStatementTimeoutMs?: number;
}): Promise<Store> {
  return config.databaseUrl !== undefined
    ? createPostgresStore(config.databaseUrl, {
        max: config.databasePoolMax,
        ...(config.databaseStatementTimeoutMs !== undefined
          ? { statementTimeoutMs: config.databaseStatementTimeoutMs }
          : {}),
      })
    : createEmbeddedStore(config.dataDir);
}

/** Raw SQL through Drizzle; node-postgres and PGlite both answer with `{ rows }`. */
export async function queryRows<T extends Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as { rows: T[] };
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
export function preparedStatement<R extends Record<string, unknown>>(
  name: string,
  query: SQL,
): (db: Tx, params?: Record<string, unknown>) => Promise<R[]> {
  const built = dialect.sqlToQuery(query);
  return async (db, params = {}) => {
    const result = (await db._.session.prepareQuery(built, undefined, name, false).execute(params)) as { rows: R[] };
    return result.rows;
  };
}

/**
 * The placeholder values of a prepared statement gathered from several parts, later parts winning.
 * Copied key by key: spreading these wide objects (`{ ...a, ...b }`) measured 30-50 us per
 * registration on Node 20, copying them like this 4-10 us (bench/RESULTS.md, issue 13).
 */
export function statementParams(...parts: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of parts) for (const key in part) out[key] = part[key];
  return out;
}

/** PostgreSQL unique_violation (23505), whether the driver or Drizzle's wrapper carries it. */
export const isUniqueViolation = (err: unknown): boolean =>
  (err as { code?: string })?.code === '23505' || (err as { cause?: { code?: string } })?.cause?.code === '23505';

const UNAVAILABLE_SQLSTATES = new Set([
  '57014', // query_canceled: statement_timeout
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovering)
  '53300', // too_many_connections
  '08000',
  '08001',
  '08003',
  '08004',
  '08006', // connection exceptions
]);
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
// node-postgres and pg-pool say these in words only.
const UNAVAILABLE_MESSAGES =
  /^(Query read timeout|timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|Cannot use a pool after calling end|PGlite is clos(ed|ing))/;

/**
 * Whether an error means the database cannot be reached or did not answer in time (down, restarting,
 * stalled, pool exhausted), as opposed to a failing statement: the request may succeed on retry.
 * Looks through Drizzle's wrapper (its `cause`).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 4;
    e = e.cause as typeof e, depth++
  ) {
    if (typeof e.code === 'string' && (UNAVAILABLE_SQLSTATES.has(e.code) || UNAVAILABLE_ERRNOS.has(e.code)))
      return true;
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.test(e.message)) return true;
  }
  return false;
}

/** The code a statement raised with raise_problem(code) (SQLSTATE P0001), or null. */
export function raisedProblem(err: unknown): string | null {
  const e =
    (err as { cause?: { code?: string; message?: string } })?.cause ?? (err as { code?: string; message?: string });
  return e?.code === 'P0001' && typeof e.message === 'string' ? e.message : null;
}

/**
 * A batch on its way this long is stalled (a lock wait, a slow statement): with extraLaneAfterMs set
 * to it, the next batch starts beside it. Under load a batch takes 1-6 ms (bench/RESULTS.md).
 */
export const STALLED_BATCH_MS = 50;

export interface BatchOptions {
  /** Most items in one statement. */
  maxItems?: number;
  /** Batches of this instance on their way to the database at once. */
  concurrency?: number;
  /**
   * When every batch in flight has been on its way this long (a lock wait, a slow statement), one
   * more may start, up to maxConcurrency: the calls queued behind a stalled batch do not wait for it.
   * Unset: never more than `concurrency`.
   */
  extraLaneAfterMs?: number;
  /** Most batches in flight with the extra lanes (default 4 × concurrency). */
  maxConcurrency?: number;
  /** When a batch of several fails, run each of its items alone, so one bad item fails only itself. */
  retryAlone?: boolean;
}

/**
 * Never call a batched function inside a service's `db.transaction(fn)` on PGlite: its one
 * connection is held by the transaction, and the batch would wait for it forever. (Inside a request
 * transaction it is safe: the item runs alone, in that transaction.)
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
  const extraAfter = opts.extraLaneAfterMs;
  const maxConcurrency = Math.max(concurrency, opts.maxConcurrency ?? 4 * concurrency);
  type Waiter = { item: I; resolve: (o: O) => void; reject: (err: unknown) => void };
  let queue: Waiter[] = [];
  /** When each batch in flight started (performance.now()). */
  const inFlight = new Set<{ at: number }>();
  let scheduled = false;
  let laneTimer: ReturnType<typeof setTimeout> | undefined;
  const laneFree = (now: number): boolean => {
    if (inFlight.size < concurrency) return true;
    if (extraAfter === undefined || inFlight.size >= maxConcurrency) return false;
    for (const b of inFlight) if (now - b.at < extraAfter) return false;
    return true;
  };

  const runChecked = async (items: I[]): Promise<O[]> => {
    const out = await run(items);
    if (out.length !== items.length) throw new Error(`batched: ${out.length} results for ${items.length} items`);
    return out;
  };
  /** Sends a batch; `release` frees its lane (once), before its callers are answered. */
  async function send(batch: Waiter[], release: () => void): Promise<void> {
    let out: O[];
    try {
      out = await runChecked(batch.map((w) => w.item));
    } catch (err) {
      if (!opts.retryAlone || batch.length === 1) {
        release();
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
      release();
      return;
    }
    // The next batch leaves before this one's callers go on: the database works on it while they
    // answer their requests, instead of waiting for them all.
    release();
    batch.forEach((w, i) => w.resolve(out[i]!));
  }
  function pump(): void {
    scheduled = false;
    const now = performance.now();
    while (queue.length > 0 && laneFree(now)) {
      const batch = queue.length <= maxItems ? queue : queue.slice(0, maxItems);
      queue = queue.length <= maxItems ? [] : queue.slice(maxItems);
      const lane = { at: now };
      inFlight.add(lane);
      void send(batch, () => {
        if (!inFlight.delete(lane)) return;
        pump();
      });
    }
    // Calls left waiting: look again when the youngest batch in flight has taken extraAfter.
    if (queue.length > 0 && extraAfter !== undefined && inFlight.size < maxConcurrency && !laneTimer) {
      let youngest = 0;
      for (const b of inFlight) youngest = Math.max(youngest, b.at);
      laneTimer = setTimeout(
        () => {
          laneTimer = undefined;
          pump();
        },
        Math.max(1, youngest + extraAfter - now),
      );
      laneTimer.unref?.();
    }
  }
  return (item) => {
    // A request transaction's own item runs alone in it: never another request's items in this
    // transaction, and never this one queued behind a batch that (on PGlite) waits for it.
    if (insideRequestTransaction()) return runChecked([item]).then((out) => out[0]!);
    return new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      // Calls made in the same tick share the first batch too.
      if (!scheduled && (inFlight.size < concurrency || (extraAfter !== undefined && !laneTimer))) {
        scheduled = true;
        queueMicrotask(pump);
      }
    });
  };
}

/** A jsonb/json column as an object, whichever driver parsed (or did not parse) it. */
export const jsonValue = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

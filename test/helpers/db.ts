// An isolated, migrated database per test file.
// - DATABASE_URL set: a fresh PostgreSQL database cloned from a migrated template (cheap), dropped after.
// - unset: an in-memory PGlite restored from a migrated snapshot cached in the OS temp dir.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import pg from 'pg';
import { createPostgresStore, pgliteStore, type Store } from '../../src/db/client.js';
import { jobQueueSchemaSql } from '../../src/db/job-queue.js';
import { MIGRATIONS_FOLDER, runMigrations } from '../../src/db/migrate.js';

export const TEST_DATABASE_URL = process.env.DATABASE_URL || undefined;
export const onPostgres = TEST_DATABASE_URL !== undefined;

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Hash of every migration file: a new migration means a new template and a new snapshot. */
function migrationsHash(): string {
  const h = createHash('sha256');
  const files = readdirSync(MIGRATIONS_FOLDER)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  for (const f of files) h.update(f).update(readFileSync(join(MIGRATIONS_FOLDER, f)));
  h.update(readFileSync(join(MIGRATIONS_FOLDER, 'meta/_journal.json')));
  h.update(jobQueueSchemaSql());
  h.update('pglite snapshot: 1 MB WAL segments, no templates');
  return h.digest('hex').slice(0, 16);
}

function urlForDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/** Creates an empty database (no migrations) and returns its URL; dropped at teardown. */
export async function createEmptyDatabase(t: Teardown, prefix = 'rtest'): Promise<string> {
  if (!TEST_DATABASE_URL) throw new Error('createEmptyDatabase needs DATABASE_URL');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`create database "${name}"`));
  t.teardown(() => dropDatabase(name));
  return urlForDatabase(TEST_DATABASE_URL, name);
}

/**
 * A migrated PostgreSQL database of this test's own: cloned from the template, or the one the
 * process's previous test used, put back as the template left it (see "one database per test process" below).
 */
export async function postgresTestDatabase(t: Teardown): Promise<string> {
  await maySpare(); // before this test's teardown is registered, so that it runs after it
  let name: string;
  if (pgSpare !== undefined) {
    name = pgSpare;
    pgSpare = undefined;
    postgresDatabases.reused++;
  } else {
    name = await cloneTemplate();
    postgresDatabases.created++;
    pgPristine ??= onDatabase(name, readPristine);
    await pgPristine;
  }
  // Registered before the test's store and app, so it runs after they are closed.
  t.teardown(() => releaseDatabase(name));
  return urlForDatabase(TEST_DATABASE_URL!, name);
}

async function cloneTemplate(): Promise<string> {
  const template = `reseller_tpl_${migrationsHash()}`;
  const name = `rtest_${randomBytes(6).toString('hex')}`;
  await withAdmin(async (admin) => {
    // Test files run in parallel: one builds the template, and clones are taken one at a time
    // (CREATE DATABASE ... TEMPLATE refuses while anything else is connected to the template).
    await admin.query('select pg_advisory_lock(7261)');
    try {
      const exists = await admin.query('select 1 from pg_database where datname = $1', [template]);
      if (exists.rowCount === 0) {
        await admin.query(`create database "${template}"`);
        const store = createPostgresStore(urlForDatabase(TEST_DATABASE_URL!, template), { max: 1 });
        try {
          await runMigrations(store);
        } catch (err) {
          await store.close();
          await admin.query(`drop database "${template}"`);
          throw err;
        }
        await store.close();
      }
      await admin.query(`create database "${name}" template "${template}"`);
    } finally {
      await admin.query('select pg_advisory_unlock(7261)');
    }
  });
  return name;
}

/** A clone of the template, never reused: the reference a reset database is compared with. */
export async function freshPostgresDatabase(t: Teardown): Promise<string> {
  const name = await cloneTemplate();
  t.teardown(() => dropDatabase(name));
  return urlForDatabase(TEST_DATABASE_URL!, name);
}

const dropDatabase = (name: string) => withAdmin((c) => c.query(`drop database if exists "${name}" with (force)`));

async function onDatabase<T>(name: string, fn: (db: Sql) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlForDatabase(TEST_DATABASE_URL!, name) });
  await client.connect();
  try {
    return await fn({
      query: async <T>(text: string, params?: unknown[]) => ({ rows: (await client.query(text, params)).rows as T[] }),
      exec: (text) => client.query(text),
    });
  } finally {
    await client.end();
  }
}

// --- PostgreSQL: one database per test process, reused between tests ---------------------------
// Cloning the template and dropping the clone cost about 0.3 s of the server's time per test, the
// clones one at a time (they were a queue when three test files asked at once). So, as with PGlite
// below, a test process keeps its database when a test ends, puts it back as the template left it
// (same reset), and hands it to its next test; the last one is dropped when the process ends.
// Whatever still uses the database when its test is over (a connection a test leaked) is
// disconnected first; a database whose schema the test changed, or whose reset fails, is dropped.

let pgSpare: string | undefined;
let pgPristine: Promise<Pristine> | undefined;
/** Databases this process cloned and handed out again (test/db/store-reuse.test.ts reads them). */
export const postgresDatabases = { created: 0, reused: 0 };

async function releaseDatabase(name: string): Promise<void> {
  if (pgSpare === undefined && (await maySpare()) && (await resetDatabase(name))) pgSpare = name;
  else await dropDatabase(name);
}

async function resetDatabase(name: string): Promise<boolean> {
  try {
    // A connection the test left open (its transaction, its locks) is ended first.
    await withAdmin((admin) =>
      admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [name]),
    );
    return await onDatabase(name, async (db) => resetToPristine(db, await pgPristine!, 'set lock_timeout = 5000'));
  } catch {
    return false;
  }
}

let snapshot: Promise<Blob> | undefined;
/** The migrated snapshot, read once per test process (a test file builds many stores from it). */
const pgliteSnapshot = (): Promise<Blob> => (snapshot ??= readOrMakeSnapshot().then((b) => new Blob([b])));

async function readOrMakeSnapshot(): Promise<Buffer> {
  const file = join(tmpdir(), `reseller-api-pglite-${migrationsHash()}.tar`);
  if (existsSync(file)) return readFileSync(file);
  // Small, because every store loads it again: WAL segments of 1 MB instead of 16, and only the
  // one database (no template0/template1: tests never create a database on PGlite). 44 MB -> 20 MB,
  // and a store starts in about 1.0 s instead of 1.6 on a busy machine.
  const db = await PGlite.create({ initDbStartParams: ['--wal-segsize=1'], ...(await pgliteParts()) });
  await runMigrations(pgliteStore(db));
  for (const template of ['template0', 'template1'])
    for (const statement of [`ALTER DATABASE ${template} IS_TEMPLATE false`, `DROP DATABASE ${template}`])
      await db.exec(statement);
  await db.exec('CHECKPOINT');
  const dump = await db.dumpDataDir('none');
  await db.close();
  const buf = Buffer.from(await dump.arrayBuffer());
  // Written under a unique name then renamed, so a parallel test file never reads half a file.
  const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(partial, buf);
  await rename(partial, file);
  return buf;
}

type WasmModule = NonNullable<PGliteOptions['pgliteWasmModule']>;
let parts: Promise<Pick<PGliteOptions, 'pgliteWasmModule' | 'initdbWasmModule' | 'fsBundle'>> | undefined;
/**
 * PGlite's WebAssembly modules compiled and its file bundle read once per test process, not at
 * every store (a test file builds one per test; about a quarter of a store's start).
 */
const pgliteParts = () =>
  (parts ??= (async () => {
    const dist = dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
    // WebAssembly is a Node global our TypeScript lib (no DOM) does not declare.
    const wasm = (globalThis as unknown as { WebAssembly: { compile(b: Buffer): Promise<WasmModule> } }).WebAssembly;
    const [pgliteWasmModule, initdbWasmModule, bundle] = await Promise.all([
      readFile(join(dist, 'pglite.wasm')).then((b) => wasm.compile(b)),
      readFile(join(dist, 'initdb.wasm')).then((b) => wasm.compile(b)),
      readFile(join(dist, 'pglite.data')),
    ]);
    return { pgliteWasmModule, initdbWasmModule, fsBundle: new Blob([bundle]) };
  })());

/** A migrated store of this test's own. Closed (on PostgreSQL dropped, on PGlite reset) at teardown. */
export async function testStore(t: Teardown, opts: { poolMax?: number } = {}): Promise<Store> {
  if (onPostgres) {
    const url = await postgresTestDatabase(t);
    const store = createPostgresStore(url, { max: opts.poolMax ?? 10 });
    t.teardown(() => store.close());
    return store;
  }
  const client = await leasePglite();
  const lease = leased(client);
  // Torn down after the test's app (tap runs teardowns last-registered first), so nothing of the
  // test writes after the reset: and the lease refuses whatever still tries.
  t.teardown(() => release(client, lease));
  return pgliteStore(lease.client);
}

// --- PGlite: one instance per test process, reset between tests ---------------------------------
// A new instance from the snapshot costs about 0.7 s of CPU (1.5 s with CI beside); putting one
// back as the snapshot left it costs a fraction of that, so a test process keeps one spare
// instance and hands it to the next test that asks. The reset empties every table the test wrote
// (foreign keys and triggers off for it), puts back the seeded rows and the sequences, and
// discards the session's state (settings, advisory locks, prepared statements, temporary tables).
// An instance whose schema changed (a test that ran DDL) or that a test closed is not reused.
// Two stores at once in one test: the second is a new instance, as before.

interface Pristine {
  /** Every table of ours and of the job queue, qualified and quoted. */
  tables: string[];
  /** The tables migrations fill, their rows as JSON and their columns one can insert. */
  seeds: { table: string; columns: string; rows: string }[];
  sequences: { name: string; value: string; called: boolean }[];
  /** Counts and newest row versions of the catalogs: any DDL changes it. */
  catalog: string;
}

const CATALOGS = [
  'pg_class',
  'pg_attribute',
  'pg_attrdef',
  'pg_constraint',
  'pg_index',
  'pg_namespace',
  'pg_proc',
  'pg_trigger',
  'pg_type',
];
/** What a reset runs through: a PGlite, or one connection to a PostgreSQL database. */
interface Sql {
  query<T>(text: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** Several statements in one round trip. */
  exec(text: string): Promise<unknown>;
}
const viaPglite = (db: PGlite): Sql => ({
  query: (text, params) => db.query(text, params),
  exec: (text) => db.exec(text),
});

const catalogFingerprint = async (db: Sql): Promise<string> =>
  (
    await db.query<{ f: string }>(
      `select concat_ws(' ', ${CATALOGS.map((c) => `(select count(*) || '/' || max(xmin::text::bigint) from ${c})`).join(', ')}) as f`,
    )
  ).rows[0]!.f;

async function readPristine(db: Sql): Promise<Pristine> {
  const tables = (
    await db.query<{ t: string }>(
      `select format('%I.%I', n.nspname, c.relname) as t
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')
          and n.nspname !~ '^pg_(toast|temp)'
        order by 1`,
    )
  ).rows.map((r) => r.t);
  const counts = (
    await db.query<Record<string, number>>(
      `select ${tables.map((t, i) => `(select count(*)::int from ${t}) as c${i}`).join(', ')}`,
    )
  ).rows[0]!;
  const seeds = [];
  for (const [i, table] of tables.entries()) {
    if (counts[`c${i}`] === 0) continue;
    const columns = (
      await db.query<{ c: string }>(
        `select string_agg(quote_ident(attname), ', ' order by attnum) as c from pg_attribute
          where attrelid = $1::regclass and attnum > 0 and not attisdropped and attgenerated = ''`,
        [table],
      )
    ).rows[0]!.c;
    const rows = (await db.query<{ j: string }>(`select json_agg(t)::text as j from ${table} t`)).rows[0]!.j;
    seeds.push({ table, columns, rows });
  }
  const sequences = (
    await db.query<{ name: string; value: string; called: boolean }>(
      `select format('%I.%I', schemaname, sequencename) as name,
              coalesce(last_value, start_value)::text as value, last_value is not null as called
         from pg_sequences`,
    )
  ).rows;
  return { tables, seeds, sequences, catalog: await catalogFingerprint(db) };
}

let pristine: Promise<Pristine> | undefined;
let spare: PGlite | undefined;
/** Instances this process made and handed out again (test/db/store-reuse.test.ts reads them). */
export const pgliteInstances = { created: 0, reused: 0 };

/** A PGlite from the migrated snapshot, never reused: the reference a reset instance is compared with. */
export async function freshPglite(): Promise<PGlite> {
  return PGlite.create({ loadDataDir: await pgliteSnapshot(), ...(await pgliteParts()) });
}

async function leasePglite(): Promise<PGlite> {
  await maySpare(); // before this test's teardown is registered, so that it runs after it
  const reused = spare;
  spare = undefined;
  if (reused && !reused.closed) {
    pgliteInstances.reused++;
    return reused;
  }
  const client = await freshPglite();
  pgliteInstances.created++;
  pristine ??= readPristine(viaPglite(client));
  await pristine;
  return client;
}

/** The client a test uses: once it is given back, any call through it fails as a closed database would. */
function leased(client: PGlite): { client: PGlite; over: boolean } {
  const lease = { client, over: false };
  lease.client = new Proxy(client, {
    get(target, prop) {
      if (prop === 'closed') return lease.over || target.closed;
      const value: unknown = Reflect.get(target, prop); // PGlite's getters read private fields of the target
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (lease.over && prop !== 'close') throw new Error('PGlite is closed (this test is over)');
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return lease;
}

async function release(client: PGlite, lease: { over: boolean }): Promise<void> {
  lease.over = true;
  if (client.closed) return;
  if (
    spare === undefined &&
    (await maySpare()) &&
    (await client.exec('rollback').then(
      // a transaction the test left open (a warning when there is none), then the session's settings,
      // advisory locks, prepared statements and temporary tables
      () => client.exec('discard all').then(async () => resetToPristine(viaPglite(client), await pristine!)),
      () => false,
    ))
  ) {
    spare = client;
  } else await client.close();
}

/**
 * Puts a database back as `p` found it: empties every table the test wrote (foreign keys and
 * triggers off for it), puts back the seeded rows and the sequences. False (hand it on to no one)
 * when its schema changed or a statement failed.
 */
async function resetToPristine(db: Sql, p: Pristine, setting?: string): Promise<boolean> {
  try {
    if ((await catalogFingerprint(db)) !== p.catalog) return false;
    const written = (
      await db.query<Record<string, boolean>>(
        `select ${p.tables.map((t, i) => `exists (select from ${t}) as t${i}`).join(', ')}`,
      )
    ).rows[0]!;
    const statements = [...(setting ? [setting] : []), 'set session_replication_role = replica'];
    for (const [i, table] of p.tables.entries()) if (written[`t${i}`]) statements.push(`delete from ${table}`);
    for (const seed of p.seeds)
      statements.push(
        `insert into ${seed.table} (${seed.columns}) overriding system value
         select ${seed.columns} from json_populate_recordset(null::${seed.table}, ${quoteLiteral(seed.rows)})`,
      );
    for (const q of p.sequences) statements.push(`select setval(${quoteLiteral(q.name)}, ${q.value}, ${q.called})`);
    statements.push('reset session_replication_role');
    await db.exec(statements.join(';\n'));
    return true;
  } catch {
    return false;
  }
}

// The spares (a database, an instance) go when the file's last test is over: at the end of tap's
// root test, which a file's own tests never outlive. (An open PGlite keeps a process from ending,
// and an idle timer instead kept every test process waiting for a test that might still come.)
// Registered at the first lease, so that it runs after the teardown of a store a file keeps for
// all its tests (one made at the top level is released by the root's own teardown). Outside a tap
// run (scripts/fuzz.ts, a test file run with plain node) nothing is kept.
let sparesGo: Promise<boolean> | undefined;
/** Set once the spares went: a store released after that (it should not be) is not kept. */
let sparesGone = false;
const maySpare = async (): Promise<boolean> =>
  !sparesGone &&
  (await (sparesGo ??=
    process.env.TAP === '1'
      ? import('tap').then(({ default: root }) => {
          root.teardown(async () => {
            sparesGone = true;
            const [database, instance] = [pgSpare, spare];
            pgSpare = spare = undefined;
            if (database !== undefined) await dropDatabase(database);
            if (instance !== undefined) await instance.close();
          });
          return true;
        })
      : Promise.resolve(false)));

const quoteLiteral = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * For concurrency tests on PostgreSQL: waits until `n` statements of the client's database wait for
 * a lock (as pg_stat_activity shows them), or until `settled` settles first (the statement did not
 * wait at all). True when they wait.
 */
export async function untilLockWaits(client: pg.ClientBase, n = 1, settled?: Promise<unknown>): Promise<boolean> {
  let done = false;
  void settled?.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done) {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    if (rows[0]!.n >= n) return true;
    await new Promise((res) => setTimeout(res, 5));
  }
  return false;
}

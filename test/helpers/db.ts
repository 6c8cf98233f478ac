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
  t.teardown(() => withAdmin((c) => c.query(`drop database if exists "${name}" with (force)`)));
  return urlForDatabase(TEST_DATABASE_URL, name);
}

/** A fresh migrated PostgreSQL database (cloned from the template); dropped at teardown. */
export async function postgresTestDatabase(t: Teardown): Promise<string> {
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
  t.teardown(() => withAdmin((c) => c.query(`drop database if exists "${name}" with (force)`)));
  return urlForDatabase(TEST_DATABASE_URL!, name);
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

/** A migrated store of this test file's own. Closed (and on PostgreSQL dropped) at teardown. */
export async function testStore(t: Teardown, opts: { poolMax?: number } = {}): Promise<Store> {
  if (onPostgres) {
    const url = await postgresTestDatabase(t);
    const store = createPostgresStore(url, { max: opts.poolMax ?? 10 });
    t.teardown(() => store.close());
    return store;
  }
  const client = await PGlite.create({ loadDataDir: await pgliteSnapshot(), ...(await pgliteParts()) });
  const store = pgliteStore(client);
  t.teardown(() => store.close());
  return store;
}

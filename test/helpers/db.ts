// An isolated, migrated database per test file.
// - DATABASE_URL set: a fresh PostgreSQL database cloned from a migrated template (cheap), dropped after.
// - unset: an in-memory PGlite restored from a migrated snapshot cached in the OS temp dir.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
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

let snapshot: Promise<Buffer> | undefined;
/** The migrated snapshot, read once per test process (a test file builds many stores from it). */
const pgliteSnapshot = (): Promise<Buffer> => (snapshot ??= readOrMakeSnapshot());

async function readOrMakeSnapshot(): Promise<Buffer> {
  const file = join(tmpdir(), `reseller-api-pglite-${migrationsHash()}.tar`);
  if (existsSync(file)) return readFileSync(file);
  const db = await PGlite.create();
  await runMigrations(pgliteStore(db));
  const dump = await db.dumpDataDir('none');
  await db.close();
  const buf = Buffer.from(await dump.arrayBuffer());
  // Written under a unique name then renamed, so a parallel test file never reads half a file.
  const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(partial, buf);
  await rename(partial, file);
  return buf;
}

/** A migrated store of this test file's own. Closed (and on PostgreSQL dropped) at teardown. */
export async function testStore(t: Teardown, opts: { poolMax?: number } = {}): Promise<Store> {
  if (onPostgres) {
    const url = await postgresTestDatabase(t);
    const store = createPostgresStore(url, { max: opts.poolMax ?? 10 });
    t.teardown(() => store.close());
    return store;
  }
  const client = await PGlite.create({ loadDataDir: new Blob([await pgliteSnapshot()]) });
  const store = pgliteStore(client);
  t.teardown(() => store.close());
  return store;
}

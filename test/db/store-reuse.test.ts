// The test helper's store reuse (test/helpers/db.ts): a test process keeps its PGlite instance, or on
// PostgreSQL its database, and hands it to the next test after putting it back as the migrated
// snapshot (the template) left it. Here: a test writes through the real API (accounts, keys, a
// registration, the ledger, events, audit) and changes seeded rows, sequences and session settings;
// the next test's store must then hold exactly what a new one holds, and the first test's handle
// must be refused.
import t from 'tap';
import { sql } from 'drizzle-orm';
import type { PGlite } from '@electric-sql/pglite';
import { queryRows, type Store } from '../../src/db/client.js';
import { buildTestApp } from '../helpers/app.js';
import pg from 'pg';
import {
  freshPglite,
  freshPostgresDatabase,
  onPostgres,
  pgliteInstances,
  postgresDatabases,
  postgresTestDatabase,
  testStore,
} from '../helpers/db.js';
import { apiKey } from '../helpers/fixtures.js';
import { domainSetup, registered } from '../helpers/domains.js';

/** Every table's rows (in a stable order) and every sequence's position, as one comparable text. */
async function contents(query: (text: string) => Promise<{ rows: Record<string, unknown>[] }>): Promise<string[]> {
  const tables = (
    await query(
      `select format('%I.%I', n.nspname, c.relname) as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        order by 1`,
    )
  ).rows.map((r) => String(r.t));
  const out: string[] = [];
  for (const table of tables) {
    const r = (
      await query(
        `select count(*)::int as n, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from ${table} x`,
      )
    ).rows[0]!;
    out.push(`${table}: ${String(r.n)} rows ${String(r.h)}`);
  }
  for (const r of (await query(`select schemaname, sequencename, last_value from pg_sequences order by 1, 2`)).rows)
    out.push(`sequence ${String(r.schemaname)}.${String(r.sequencename)}: ${String(r.last_value)}`);
  out.push(`timezone ${String((await query('show timezone')).rows[0]!.TimeZone)}`);
  return out;
}

let first: Store | undefined;
/** This process's count of stores made and handed out again, on the pass's kind of store. */
const counts = () => (onPostgres ? { ...postgresDatabases } : { ...pgliteInstances });
const before = counts();

t.test('a test writes through the API and changes seeds, sequences and settings', async (t) => {
  const { app, store } = await buildTestApp(t);
  first = store;
  const { op, r } = await domainSetup(app);
  await apiKey(app, r.token, ['domains:read']);
  await registered(app, r, 'reuse-check.com');
  t.ok(op.token, 'an operator');
  await app.db.execute(sql`update tlds set enabled = not enabled`);
  await app.db.execute(sql`select nextval(pg_get_serial_sequence('audit_events', 'id'))`);
  await app.db.execute(sql`set timezone = 'Pacific/Chatham'`);
  const written = await contents(async (text) => (await app.db.execute(sql.raw(text))) as never);
  t.ok(
    written.some((line) => /^public\.domains: 1 rows/.test(line)),
    'the registration is there before the reset',
  );
});

t.test('the next test gets the same store, as a new one would be', async (t) => {
  const store = await testStore(t);
  t.equal(counts().reused, before.reused + 1, 'the store was handed out again');
  t.equal(counts().created, before.created + 1, 'no second store was made');
  const reset = await contents(async (text) => (await store.db.execute(sql.raw(text))) as never);
  let fresh: string[];
  if (onPostgres) {
    const reference = new pg.Client({ connectionString: await freshPostgresDatabase(t) });
    await reference.connect();
    t.teardown(() => reference.end());
    fresh = await contents((text) => reference.query(text));
  } else {
    const reference: PGlite = await freshPglite();
    t.teardown(() => reference.close());
    fresh = await contents((text) => reference.query(text));
  }
  t.same(reset, fresh, 'every table, sequence and setting as in a new store');
  t.ok(
    fresh.some((line) => /^public\.tlds: [1-9]/.test(line)),
    'the comparison covers the seeded rows',
  );
  const refused = await first!.db.execute(sql`select 1`).then(
    () => null,
    (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
  );
  t.match(
    refused,
    onPostgres ? /Cannot use a pool after calling end/ : /PGlite is closed/,
    "the first test's handle is refused once that test is over",
  );
});

if (onPostgres)
  t.test('a connection a test leaves open is ended, and the database handed on reset', async (t) => {
    t.test('it leaves a transaction open, holding a lock and a row', async (t) => {
      const client = new pg.Client({ connectionString: await postgresTestDatabase(t) });
      await client.connect();
      client.on('error', () => {}); // ended by the helper, not by the test
      await client.query('begin');
      await client.query('lock table tlds in access exclusive mode');
      await client.query(`update tlds set enabled = not enabled`);
    });
    t.test('the next test gets that database back, as new', async (t) => {
      const reused = counts().reused;
      const store = await testStore(t);
      t.equal(counts().reused, reused + 1, 'handed out again (the lock did not stop its reset)');
      const rows = await queryRows<{ n: number }>(store.db, sql`select count(*)::int as n from tlds where enabled`);
      const reference = new pg.Client({ connectionString: await freshPostgresDatabase(t) });
      await reference.connect();
      t.teardown(() => reference.end());
      const fresh = await reference.query<{ n: number }>('select count(*)::int as n from tlds where enabled');
      t.equal(rows[0]!.n, fresh.rows[0]!.n, 'the seeded rows as the template has them');
    });
    t.end();
  });
else {
  t.test('a test that closes its store gets it replaced, not reused', async (t) => {
    const store = await testStore(t);
    await store.close();
    t.end();
  });

  t.test('after a closed one, the next store is a new instance', async (t) => {
    const created = pgliteInstances.created;
    const store = await testStore(t);
    t.equal(pgliteInstances.created, created + 1, 'a new instance');
    const rows = await queryRows<{ n: number }>(store.db, sql`select count(*)::int as n from domains`);
    t.equal(rows[0]!.n, 0, 'empty as the snapshot');
  });
}

t.test('a test that changes the schema does not hand its store on', async (t) => {
  t.test('it adds a table', async (t) => {
    const store = await testStore(t);
    await store.db.execute(sql`create table scratch_reuse (id int)`);
  });
  t.test('the next test has no such table', async (t) => {
    const created = counts().created;
    const store = await testStore(t);
    t.equal(counts().created, created + 1, 'a new store');
    const found = await queryRows<{ there: boolean }>(
      store.db,
      sql`select to_regclass('scratch_reuse') is not null as there`,
    );
    t.equal(found[0]!.there, false, 'without it');
  });
  t.end();
});

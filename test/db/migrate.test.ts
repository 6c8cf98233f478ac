import { cpSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sql } from 'drizzle-orm';
import { createPostgresStore, queryRows, type Store } from '../../src/db/client.js';
import { journalOrderProblems, MIGRATIONS_FOLDER, readJournal, runMigrations } from '../../src/db/migrate.js';
import { accounts } from '../../src/db/schema/index.js';
import { createEmptyDatabase, onPostgres, testStore } from '../helpers/db.js';

async function appliedCount(store: Store): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    store.db,
    sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
  );
  return rows[0]!.n;
}

t.test('migrations applied twice are a no-op', async (t) => {
  const store = await testStore(t);
  const journal = readJournal();
  t.equal(await appliedCount(store), journal.length, 'every journal entry applied once');
  await store.db.insert(accounts).values({ name: 'Keep me' });
  await runMigrations(store);
  await runMigrations(store);
  t.equal(await appliedCount(store), journal.length, 'no entry applied again');
  const kept = await store.db.select().from(accounts);
  t.equal(kept.length, 1, 'data survives');
  t.equal(kept[0]?.name, 'Keep me');
});

t.test(
  'two instances migrating one empty database at once apply each migration once',
  { skip: !onPostgres && 'needs PostgreSQL (DATABASE_URL)' },
  async (t) => {
    const url = await createEmptyDatabase(t);
    const a = createPostgresStore(url, { max: 2 });
    const b = createPostgresStore(url, { max: 2 });
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    const results = await Promise.allSettled([runMigrations(a), runMigrations(b)]);
    t.same(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled'],
    );
    t.equal(await appliedCount(a), readJournal().length);
  },
);

t.test('the committed journal is strictly increasing', async (t) => {
  t.same(journalOrderProblems(readJournal()), []);
});

t.test('an out-of-order or duplicate journal timestamp is reported', async (t) => {
  const cases = [
    {
      entries: [
        { idx: 0, when: 10, tag: 'a' },
        { idx: 1, when: 20, tag: 'b' },
      ],
      problems: 0,
    },
    {
      entries: [
        { idx: 0, when: 10, tag: 'a' },
        { idx: 1, when: 5, tag: 'b' },
      ],
      problems: 1,
    },
    {
      entries: [
        { idx: 0, when: 10, tag: 'a' },
        { idx: 1, when: 10, tag: 'b' },
      ],
      problems: 1,
    },
    {
      entries: [
        { idx: 0, when: 10, tag: 'a' },
        { idx: 2, when: 20, tag: 'b' },
      ],
      problems: 1,
    },
  ];
  for (const c of cases) t.equal(journalOrderProblems(c.entries).length, c.problems, JSON.stringify(c.entries));
});

t.test(
  'R-SEC-7: migration 0029 carries the license reports a database holds: ids kept, the shared sequence moved past them',
  { skip: !onPostgres && 'needs PostgreSQL (DATABASE_URL)' },
  async (t) => {
    // A database as the release before 0029 left it: reports numbered by their own sequence, ahead of
    // the audit trail's.
    const folder = mkdtempSync(join(tmpdir(), 'migrations-'));
    t.teardown(() => rmSync(folder, { recursive: true, force: true }));
    cpSync(realpathSync(MIGRATIONS_FOLDER), folder, { recursive: true, dereference: true });
    const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as {
      entries: { tag: string }[];
    };
    const upTo = journal.entries.findIndex((e) => e.tag.startsWith('0029_'));
    t.ok(upTo > 0, 'the journal holds 0029');
    journal.entries = journal.entries.slice(0, upTo);
    writeFileSync(join(folder, 'meta/_journal.json'), JSON.stringify(journal));

    const store = createPostgresStore(await createEmptyDatabase(t), { max: 2 });
    t.teardown(() => store.close());
    await runMigrations(store, folder);
    const licenseId = '00000000-0000-4000-8000-000000000029';
    await store.db.execute(sql`
      INSERT INTO plesk_licenses (id, account_id, server_id, product, period_months, key_number,
        activation_code_sealed, bound_address, binding_mode, period_anchor, expires_at)
      VALUES (${licenseId}, gen_random_uuid(), gen_random_uuid(), 'PLESK-12-WEB-ADMIN', 1, 'KEY-0029',
        'sealed', '185.10.20.30', 'lookup', now(), now() + interval '1 month')`);
    await store.db.execute(sql`SELECT setval('license_ip_reports_id_seq', 1000)`);
    await store.db.execute(sql`
      INSERT INTO license_ip_reports (license_id, addresses, source, seen_at)
      SELECT ${licenseId}, ARRAY['185.10.20.30'], 'check_in', now() FROM generate_series(1, 3)`);
    const before = await queryRows<{ id: string }>(store.db, sql`SELECT id FROM license_ip_reports ORDER BY id`);
    t.same(
      before.map((r) => Number(r.id)),
      [1001, 1002, 1003],
    );

    await runMigrations(store);
    const kept = await queryRows<{ id: string; request_id: string | null }>(
      store.db,
      sql`SELECT id, request_id FROM license_ip_reports ORDER BY id`,
    );
    t.same(
      kept.map((r) => [Number(r.id), r.request_id]),
      [
        [1001, null],
        [1002, null],
        [1003, null],
      ],
      'the reports keep their ids; they are not audit records (their requests wrote audit_events rows)',
    );
    const next = await queryRows<{ id: string }>(
      store.db,
      sql`INSERT INTO license_ip_reports (license_id, addresses, source, seen_at)
          VALUES (${licenseId}, ARRAY['185.10.20.30'], 'check_in', now()) RETURNING id`,
    );
    const audit = await queryRows<{ id: string }>(
      store.db,
      sql`INSERT INTO audit_events (address, operation, method, path, status_code, result, request_id)
          VALUES ('127.0.0.1', 'x', 'POST', '/x', 200, 'success', 'r') RETURNING id`,
    );
    t.ok(Number(next[0]!.id) > 1003, 'a new report is numbered after them');
    t.ok(Number(audit[0]!.id) > Number(next[0]!.id), 'from the one sequence the audit trail uses');
    await t.rejects(
      store.db.execute(sql`DELETE FROM plesk_licenses WHERE id = ${licenseId}`),
      'a license with reports is not deleted, and its reports (audit records) with it',
    );
  },
);

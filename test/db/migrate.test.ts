import t from 'tap';
import { sql } from 'drizzle-orm';
import { createPostgresStore, queryRows, type Store } from '../../src/db/client.js';
import { journalOrderProblems, readJournal, runMigrations } from '../../src/db/migrate.js';
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

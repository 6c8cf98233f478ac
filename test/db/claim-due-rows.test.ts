// claimDueRows: due rows in batches, each batch in its own transaction, failed batches skipped,
// and two claimers at once splitting the rows (FOR UPDATE SKIP LOCKED), on a table of the test's own.
import t from 'tap';
import { asc, eq, inArray, lte, sql } from 'drizzle-orm';
import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { claimDueRows } from '../../src/db/claim-due-rows.js';
import { queryRows, type Store } from '../../src/db/client.js';
import { onPostgres, testStore } from '../helpers/db.js';

const tasks = pgTable('claim_test_tasks', {
  id: text('id').primaryKey(),
  dueAt: timestamp('due_at', { withTimezone: true }).notNull(),
  doneBy: text('done_by'),
  tries: integer('tries').notNull().default(0),
});

const NOW = new Date('2030-01-01T00:00:00Z');

async function withTasks(t: Parameters<typeof testStore>[0], n: number, opts: { notDue?: number } = {}) {
  const store = await testStore(t);
  await store.db.execute(
    sql`create table claim_test_tasks (id text primary key, due_at timestamptz not null, done_by text, tries int not null default 0)`,
  );
  const rows = Array.from({ length: n }, (_, i) => ({
    id: `t${String(i).padStart(3, '0')}`,
    dueAt: new Date(NOW.getTime() - (n - i) * 1000),
  }));
  for (let i = 0; i < (opts.notDue ?? 0); i++) rows.push({ id: `later${i}`, dueAt: new Date(NOW.getTime() + 60_000) });
  await store.db.insert(tasks).values(rows);
  return store;
}

const markDone = (store: Store, by: string, opts: { batchSize?: number; limit?: number; failOn?: string } = {}) =>
  claimDueRows({
    db: store.db,
    table: tasks,
    key: tasks.id,
    due: lte(tasks.dueAt, NOW),
    orderBy: asc(tasks.dueAt),
    ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
    ...(opts.limit ? { limit: opts.limit } : {}),
    handle: async (tx, rows) => {
      await tx
        .update(tasks)
        .set({ doneBy: by, dueAt: new Date(NOW.getTime() + 86_400_000) })
        .where(
          inArray(
            tasks.id,
            rows.map((r) => r.id),
          ),
        );
      if (rows.some((r) => r.id === opts.failOn)) throw new Error(`cannot handle ${opts.failOn}`);
    },
    ...(opts.failOn ? { onError: () => {} } : {}),
  });

t.test('claims every due row in batches and leaves the rest', async (t) => {
  const store = await withTasks(t, 25, { notDue: 3 });
  t.equal(await markDone(store, 'a', { batchSize: 10 }), 25);
  const rows = await store.db.select().from(tasks);
  t.equal(rows.filter((r) => r.doneBy === 'a').length, 25);
  t.equal(rows.filter((r) => r.doneBy === null).length, 3, 'rows not yet due are not touched');
  t.equal(await markDone(store, 'a', { batchSize: 10 }), 0, 'nothing is due any more');
});

t.test('a limit bounds one run', async (t) => {
  const store = await withTasks(t, 12);
  t.equal(await markDone(store, 'a', { batchSize: 5, limit: 7 }), 7);
  const [left] = await queryRows<{ n: number }>(
    store.db,
    sql`select count(*)::int as n from claim_test_tasks where done_by is null`,
  );
  t.equal(left!.n, 5);
});

t.test('a failing batch rolls back alone and is not claimed again in that run', async (t) => {
  const store = await withTasks(t, 5);
  const errors: string[] = [];
  const handled = await claimDueRows({
    db: store.db,
    table: tasks,
    key: tasks.id,
    due: lte(tasks.dueAt, NOW),
    orderBy: asc(tasks.dueAt),
    handle: async (tx, [row]) => {
      await tx.update(tasks).set({ doneBy: 'a' }).where(eq(tasks.id, row!.id));
      if (row!.id === 't002') throw new Error('step failed');
      await tx
        .update(tasks)
        .set({ dueAt: new Date(NOW.getTime() + 1) })
        .where(eq(tasks.id, row!.id));
    },
    onError: (err, rows) => errors.push(`${rows.map((r) => r.id).join()}: ${(err as Error).message}`),
  });
  t.equal(handled, 4);
  t.same(errors, ['t002: step failed']);
  const [failed] = await store.db.select().from(tasks).where(eq(tasks.id, 't002'));
  t.equal(failed!.doneBy, null, "the failed row's changes were rolled back");
});

t.test('without onError a failure stops the run with the error', async (t) => {
  const store = await withTasks(t, 3);
  await t.rejects(
    claimDueRows({
      db: store.db,
      table: tasks,
      key: tasks.id,
      due: lte(tasks.dueAt, NOW),
      handle: async () => {
        throw new Error('no');
      },
    }),
    /no/,
  );
});

t.test(
  'two claimers at once split the rows and never take one twice',
  { skip: !onPostgres && 'PGlite has one connection: claimers run one after the other' },
  async (t) => {
    const store = await withTasks(t, 60);
    const [a, b] = await Promise.all([markDone(store, 'a', { batchSize: 4 }), markDone(store, 'b', { batchSize: 4 })]);
    t.equal(a + b, 60, 'every row handled once');
    const rows = await store.db.select().from(tasks);
    t.ok(
      rows.every((r) => r.doneBy === 'a' || r.doneBy === 'b'),
      'by one claimer or the other',
    );
  },
);

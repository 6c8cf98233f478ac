// The job engine (pg-boss through plugins/jobs.ts): one run per schedule slot across instances,
// retries then the dead letter, enqueueing inside the caller's transaction, runs at an injected time.
// Queue outcomes are awaited with a generous bound; nothing asserts how long anything took.
import t from 'tap';
import { sql } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { beginRequestTransaction, createPostgresStore, queryRows } from '../../src/db/client.js';
import { buildTestApp } from '../helpers/app.js';
import { onPostgres, postgresTestDatabase } from '../helpers/db.js';
import { eventually } from '../helpers/eventually.js';

/** Jobs on, polling often; the app's own jobs keep their slow default schedule. */
const ENABLED = { JOBS_ENABLED: 'true', JOBS_POLL_INTERVAL_MS: '500', JOBS_INTERVAL_MS: '3600000' };

const queued = (app: App, job: string) =>
  queryRows<{ state: string; singleton_on: string | null; retry_count: number; retry_backoff: boolean }>(
    app.db,
    sql`select state::text as state, singleton_on::text as singleton_on, retry_count, retry_backoff
        from pgboss.job where name = 'app-jobs' and data->>'job' = ${job}`,
  );

t.test(
  'a scheduled job runs once per slot across two instances on one database',
  { skip: !onPostgres && 'needs two connections to one PostgreSQL' },
  async (t) => {
    const url = await postgresTestDatabase(t);
    let runs = 0;
    const instances: App[] = [];
    for (let i = 0; i < 2; i++) {
      const store = createPostgresStore(url, { max: 4 });
      t.teardown(() => store.close());
      const { app } = await buildTestApp(t, {
        store,
        env: ENABLED,
        configure: (app) =>
          app.jobs.register(
            'count-slots',
            async () => {
              runs++;
              return 0;
            },
            { every: 1000 },
          ),
      });
      instances.push(app);
    }
    await eventually('four runs', () => runs >= 4);
    // Stopped before counting: no run is halfway between its queue row and its handler.
    for (const app of instances) await app.close();
    const store = createPostgresStore(url, { max: 1 });
    t.teardown(() => store.close());
    const rows = await queryRows<{ singleton_on: string | null }>(
      store.db,
      sql`select singleton_on::text as singleton_on from pgboss.job
          where name = 'app-jobs' and data->>'job' = 'count-slots' and state in ('active', 'completed')`,
    );
    t.equal(rows.length, runs, 'one queued run per handler call');
    t.equal(
      new Set(rows.map((r) => r.singleton_on)).size,
      rows.length,
      'each slot ran once, whichever instance offered it',
    );
    t.ok(
      rows.every((r) => r.singleton_on !== null),
      'every run belongs to a slot',
    );
  },
);

t.test('a failing job is retried with backoff, then dead-lettered with its payload and error', async (t) => {
  let attempts = 0;
  const { app } = await buildTestApp(t, {
    env: ENABLED,
    configure: (app) =>
      app.jobs.register(
        'always-fails',
        async () => {
          attempts++;
          throw new Error(`boom ${attempts}`);
        },
        { every: false, retries: 2, retryDelayMs: 1000, backoff: true },
      ),
  });
  await app.jobs.enqueue('always-fails', { order: 42 });
  await eventually('the dead letter', async () => (await app.jobs.deadLetters()).length > 0);
  t.equal(attempts, 3, 'the first run and two retries');
  const [dead] = await app.jobs.deadLetters();
  t.match(dead, { job: 'always-fails', payload: { order: 42 }, error: 'boom 3' });
  t.ok(dead!.failedAt instanceof Date);
  const [row] = await queued(app, 'always-fails');
  t.match(row, { state: 'failed', retry_count: 2, retry_backoff: true }, 'retries spent, backing off');
});

t.test('a job enqueued in a transaction that rolls back never runs; one that commits does', async (t) => {
  const seen: unknown[] = [];
  const { app } = await buildTestApp(t, {
    env: ENABLED,
    configure: (app) =>
      app.jobs.register(
        'remember',
        async (_now, payload) => {
          seen.push(payload);
          return 1;
        },
        { every: false },
      ),
  });
  // A given transaction.
  await app.db
    .transaction(async (tx) => {
      await app.jobs.enqueue('remember', { n: 'given tx, rolled back' }, { tx });
      throw new Error('undo');
    })
    .catch(() => {});
  // The ambient request transaction (what an idempotent command runs in): enqueue needs no tx then.
  const rt = await beginRequestTransaction(app.db);
  await new Promise<void>((resolve, reject) =>
    rt.enter(() => void app.jobs.enqueue('remember', { n: 'request tx, rolled back' }).then(() => resolve(), reject)),
  );
  await rt.rollback();
  const committed = await beginRequestTransaction(app.db);
  await new Promise<void>((resolve, reject) =>
    committed.enter(
      () => void app.jobs.enqueue('remember', { n: 'request tx, committed' }).then(() => resolve(), reject),
    ),
  );
  await committed.commit(async () => {});
  await app.jobs.enqueue('remember', { n: 'no tx' });
  await eventually('the committed runs', () => seen.length >= 2);
  t.same(seen.map((p) => (p as { n: string }).n).sort(), ['no tx', 'request tx, committed'], 'only committed jobs ran');
  t.equal((await queued(app, 'remember')).length, 2, 'the rolled-back ones were never queued');
});

t.test('a job runs at an injected time, with a payload, outside the queue', async (t) => {
  const calls: { now: Date; payload: unknown }[] = [];
  const { app } = await buildTestApp(t, {
    configure: (app) =>
      app.jobs.register('injected', async (now, payload) => {
        calls.push({ now, payload });
        return 7;
      }),
  });
  const at = new Date('2031-05-06T07:08:09.000Z');
  t.equal(await app.jobs.run('injected', at), 7, 'returns what the job handled');
  t.equal(await app.jobs.run('injected', at, { id: 'x' }), 7);
  t.same(calls, [
    { now: at, payload: undefined },
    { now: at, payload: { id: 'x' } },
  ]);
  t.ok(app.jobs.names().includes('domain-lifecycle'), 'the areas registered their jobs');
  // With JOBS_ENABLED=false (the test default) enqueueing still queues; no worker takes it here.
  const id = await app.jobs.enqueue('injected', { id: 'y' });
  t.type(id, 'string');
  t.equal((await queued(app, 'injected'))[0]?.state, 'created');
  await t.rejects(app.jobs.enqueue('nobody', {}), /no job nobody/);
});

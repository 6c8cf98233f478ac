// app.jobs.enqueueMany: several runs of one job queued in one statement, in the caller's transaction,
// with the job's retry options (the e-mail fan-out queues one e-mail per recipient this way).
import t from 'tap';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.js';
import { buildTestApp } from '../helpers/app.js';

t.test(
  'enqueueMany queues one run per payload with the job options, and nothing when its transaction rolls back',
  async (t) => {
    const { app } = await buildTestApp(t, {
      configure: (app) =>
        app.jobs.register('many-test', async () => 1, {
          every: false,
          retries: 5,
          retryDelayMs: 20_000,
          backoff: true,
        }),
    });
    const rows = () =>
      queryRows<{
        data: unknown;
        retry_limit: number;
        retry_delay: number;
        retry_backoff: boolean;
        dead_letter: string;
      }>(
        app.db,
        sql`select data, retry_limit, retry_delay, retry_backoff, dead_letter from pgboss.job
          where name = 'app-jobs' and data->>'job' = 'many-test'`,
      );
    await t.rejects(
      app.db.transaction(async (tx) => {
        await app.jobs.enqueueMany('many-test', [{ n: 1 }, { n: 2 }], { tx });
        throw new Error('roll back');
      }),
    );
    t.same(await rows(), [], 'rolled back with the transaction');

    const payloads = Array.from({ length: 1_500 }, (_, n) => ({ n }));
    await app.db.transaction((tx) => app.jobs.enqueueMany('many-test', payloads, { tx }));
    const queued = await rows();
    t.equal(queued.length, 1_500, 'every payload, past the 1,000 of one statement');
    const ns = queued
      .map((r) => (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as { payload: { n: number } })
      .map((d) => d.payload.n)
      .sort((a, b) => a - b);
    t.same(
      ns,
      payloads.map((p) => p.n),
    );
    t.ok(
      queued.every(
        (r) => r.retry_limit === 5 && r.retry_delay === 20 && r.retry_backoff && r.dead_letter === 'app-jobs-dead',
      ),
      "the job's retries and dead letter",
    );
    await app.jobs.enqueueMany('many-test', []);
    t.equal((await rows()).length, 1_500, 'an empty list queues nothing');
  },
);

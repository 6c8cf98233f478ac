// Issue 13 item 5: delivered at least once, never twice in normal operation. Two app instances on
// one PostgreSQL database run their dispatchers at the same time over many deliveries: the receiver
// sees every webhook-id exactly once, and no endpoint ever has more than max_concurrency in flight.
// PostgreSQL only (PGlite is one process, one connection).
import t from 'tap';
import { createPostgresStore } from '../../../src/db/client.js';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres, postgresTestDatabase } from '../../helpers/db.js';
import { operator, reseller } from '../../helpers/fixtures.js';
import { emitTestEvents, insertEndpoint, LOOPBACK_ENV, receiver } from '../../helpers/webhooks.js';

if (!onPostgres) {
  t.comment('PostgreSQL only (set DATABASE_URL)');
} else {
  t.test('issue 13 item 5: two instances on one PostgreSQL deliver each of 300 deliveries exactly once', async (t) => {
    const url = await postgresTestDatabase(t);
    const storeA = createPostgresStore(url, { max: 5 });
    const storeB = createPostgresStore(url, { max: 5 });
    t.teardown(() => storeA.close());
    t.teardown(() => storeB.close());
    const a = await buildTestApp(t, { env: LOOPBACK_ENV, store: storeA });
    const b = await buildTestApp(t, { env: LOOPBACK_ENV, store: storeB });
    const op = await operator(a.app);
    const r = await reseller(a.app, op.token);
    let maxPerEndpoint = 0;
    const rx = await receiver(t, async (req) => {
      maxPerEndpoint = Math.max(maxPerEndpoint, rx.inFlight.get(req.path) ?? 0);
      await new Promise((res) => setTimeout(res, 2));
      return { status: 200 };
    });
    for (let i = 0; i < 3; i++)
      await insertEndpoint(a.app, { accountId: r.accountId, url: `${rx.url}/e${i}`, maxConcurrency: 4 });
    await emitTestEvents(a.app, r.accountId, 100);
    // Both fan out at once too: each event is fanned out by one of them.
    await Promise.all([a.app.eventFanout.run(), b.app.eventFanout.run()]);
    // Each instance claims and sends again and again until everything arrived (a worker's loop).
    const deadline = Date.now() + 60_000;
    const loop = async (app: typeof a.app) => {
      let n = 0;
      while (rx.received.length < 300 && Date.now() < deadline) {
        n += await app.jobs.run('webhooks.deliver', new Date());
        await new Promise((res) => setImmediate(res));
      }
      return n;
    };
    const [na, nb] = await Promise.all([loop(a.app), loop(b.app)]);
    t.equal(na + nb, 300, `300 attempts between them (${na} + ${nb})`);
    const ids = rx.received.map((x) => String(x.headers['webhook-id']));
    t.equal(ids.length, 300, 'the receiver got 300 requests');
    t.equal(new Set(ids).size, 300, 'each webhook-id exactly once');
    t.ok(
      maxPerEndpoint <= 4,
      `at most max_concurrency (4) in flight per endpoint across both instances (max ${maxPerEndpoint})`,
    );
  });
}

// hardening-17: a stalled Redis (the process frozen with SIGSTOP: connections stay open, nothing
// answers) must not hang requests. Commands time out, rate limits fail open, /readyz says so.
// No timed assertion: a request that hung would never complete, and the test's timeout catches it.
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { bearer, operator, reseller } from '../helpers/fixtures.js';
import { startPrivateRedis } from '../helpers/private-services.js';

t.test(
  'hardening-17 / R-API-1: with Redis frozen, metered requests still answer (unmetered) and /readyz reports redis degraded',
  { timeout: 60_000 },
  async (t) => {
    const redis = await startPrivateRedis(t);
    const { app } = await buildTestApp(t, {
      env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'stall:', REDIS_COMMAND_TIMEOUT_MS: '200' },
    });
    const op = await operator(app);
    const owner = await reseller(app, op.token);

    const before = await app.inject({ method: 'GET', url: '/readyz' });
    t.equal(before.statusCode, 200);
    t.same(before.json(), { status: 'ready', checks: { database: 'ok', migrations: 'ok', redis: 'ok' } });
    const metered = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(owner.token) });
    t.equal(metered.statusCode, 200);
    t.ok(metered.headers['ratelimit-remaining'], 'metered through Redis while it answers');

    redis.pause();
    t.teardown(() => redis.resume());

    // Many at once: a timed-out command must not leave the next requests queued behind it.
    const during = await Promise.all([
      ...Array.from({ length: 20 }, () =>
        app.inject({ method: 'GET', url: '/v1/account', headers: bearer(owner.token) }),
      ),
      ...Array.from({ length: 5 }, () => app.inject({ method: 'GET', url: '/v1/no-such-route' })),
    ]);
    t.same(
      during.slice(0, 20).map((r) => r.statusCode),
      Array(20).fill(200),
      'authenticated requests answer while Redis is frozen',
    );
    t.same(
      during.slice(20).map((r) => r.statusCode),
      Array(5).fill(404),
      'unknown routes answer too',
    );
    t.equal(
      during[0]!.headers['ratelimit-remaining'],
      undefined,
      'unmetered: no RateLimit headers while the store fails',
    );

    const later = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(owner.token) });
    t.equal(later.statusCode, 200, 'a request after the first timeouts answers as well');

    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    t.equal(ready.statusCode, 200, 'still ready: a shared Redis stalling must not take every instance out');
    t.same(ready.json(), { status: 'ready', checks: { database: 'ok', migrations: 'ok', redis: 'degraded' } });

    redis.resume();
    let recovered = false;
    for (let i = 0; i < 100 && !recovered; i++) {
      const r = await app.inject({ method: 'GET', url: '/readyz' });
      recovered = r.json().checks.redis === 'ok';
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    t.ok(recovered, '/readyz reports redis ok again once it answers');
  },
);

t.test(
  'hardening-17: with Redis gone (connection refused), /readyz reports it degraded and requests are served',
  { timeout: 60_000 },
  async (t) => {
    const redis = await startPrivateRedis(t);
    const { app } = await buildTestApp(t, {
      env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'gone:', REDIS_COMMAND_TIMEOUT_MS: '200' },
    });
    await redis.kill();
    const res = await app.inject({ method: 'GET', url: '/v1/no-such-route' });
    t.equal(res.statusCode, 404);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    t.equal(ready.statusCode, 200);
    t.equal(ready.json().checks.redis, 'degraded');
  },
);

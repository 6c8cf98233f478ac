import t from 'tap';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { memoryBuckets } from '../../../src/modules/fair-use/buckets.js';
import { buildTestApp, redisEnv, TEST_REDIS_URL, type TestApp } from '../../helpers/app.js';
import { testStore } from '../../helpers/db.js';
import { apiKey, bearer, operator, reseller } from '../../helpers/fixtures.js';

const stores = [
  { name: 'memory', env: () => ({}) },
  { name: 'redis', env: () => redisEnv(), skip: !TEST_REDIS_URL && 'REDIS_URL not set' },
] as const;

async function setLimit(
  app: TestApp['app'],
  opToken: string,
  scope: string,
  capacity: number,
  refillPerMinute: number,
) {
  const res = await app.inject({
    method: 'PUT',
    url: `/v1/admin/fair-use/limits/${scope}`,
    headers: bearer(opToken),
    payload: { capacity, refill_per_minute: refillPerMinute },
  });
  if (res.statusCode !== 200) throw new Error(res.body);
}

for (const store of stores) {
  t.test(
    `R-API-1 (${store.name}): a credential's bucket empties, answers 429 with headers, and costs apply`,
    { skip: 'skip' in store ? store.skip : false },
    async (t) => {
      const { app } = await buildTestApp(t, { env: store.env() });
      const op = await operator(app);
      const r = await reseller(app, op.token);
      const key = await apiKey(app, r.token, ['account:read', 'fair_use:read']);
      const key2 = await apiKey(app, r.token, ['account:read']);
      await setLimit(app, op.token, 'credential', 5, 1);

      const first = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) });
      t.equal(first.statusCode, 200);
      t.equal(first.headers['ratelimit-limit'], '5');
      t.equal(first.headers['ratelimit-remaining'], '4');
      for (let i = 0; i < 4; i++)
        t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) })).statusCode, 200);
      const limited = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) });
      t.equal(limited.statusCode, 429);
      t.equal(limited.json().code, 'rate_limited');
      t.match(limited.headers['content-type'], 'application/problem+json');
      t.equal(limited.headers['ratelimit-remaining'], '0');
      t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After is set');
      t.equal(
        (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) })).statusCode,
        200,
        'another credential has its own bucket',
      );

      // Costs: with an unused key and capacity 5, an operation costing 2 passes twice.
      await app.inject({
        method: 'PUT',
        url: '/v1/admin/fair-use/costs/getAccount',
        headers: bearer(op.token),
        payload: { cost: 2 },
      });
      const codes = [];
      for (let i = 0; i < 3; i++)
        codes.push((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key2.key) })).statusCode);
      t.same(codes, [200, 200, 429], 'cost 2 from 5 tokens: two calls');
    },
  );

  t.test(
    `R-API-1 (${store.name}): the account bucket caps all its credentials together`,
    { skip: 'skip' in store ? store.skip : false },
    async (t) => {
      const { app } = await buildTestApp(t, { env: store.env() });
      const op = await operator(app);
      const r = await reseller(app, op.token);
      const a = await apiKey(app, r.token, ['account:read']);
      const b = await apiKey(app, r.token, ['account:read']);
      await setLimit(app, op.token, 'account', 4, 1);
      const codes = [];
      for (const k of [a, b, a, b, a, b])
        codes.push((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(k.key) })).statusCode);
      t.same(codes, [200, 200, 200, 200, 429, 429]);
    },
  );

  t.test(
    `R-API-1 (${store.name}): callers without a credential are limited per address, 404s included`,
    { skip: 'skip' in store ? store.skip : false },
    async (t) => {
      const { app } = await buildTestApp(t, { env: store.env() });
      const op = await operator(app);
      await setLimit(app, op.token, 'address', 3, 1);
      const codes = [];
      for (let i = 0; i < 2; i++)
        codes.push(
          (
            await app.inject({
              method: 'POST',
              url: '/v1/auth/login',
              payload: { username: 'x', password: 'y' },
              remoteAddress: '192.0.2.44',
            })
          ).statusCode,
        );
      for (let i = 0; i < 2; i++)
        codes.push((await app.inject({ method: 'GET', url: '/v1/nope', remoteAddress: '192.0.2.44' })).statusCode);
      t.same(codes, [401, 401, 404, 429]);
      t.equal(
        (await app.inject({ method: 'GET', url: '/v1/nope', remoteAddress: '192.0.2.45' })).statusCode,
        404,
        'another address is not affected',
      );
      t.equal(
        (await app.inject({ method: 'GET', url: '/healthz', remoteAddress: '192.0.2.44' })).statusCode,
        200,
        'health checks are never limited',
      );
    },
  );
}

t.test(
  'R-API-1: two instances sharing Redis spend one bucket',
  { skip: (!TEST_REDIS_URL || !process.env.DATABASE_URL) && 'needs REDIS_URL and PostgreSQL' },
  async (t) => {
    const store = await testStore(t);
    const env = redisEnv();
    const a = await buildTestApp(t, { store, env });
    const b = await buildTestApp(t, { store, env: { ...env, FAIR_USE_REFRESH_MS: '100' } });
    const op = await operator(a.app);
    const r = await reseller(a.app, op.token);
    const key = await apiKey(a.app, r.token, ['account:read']);
    await setLimit(a.app, op.token, 'credential', 6, 1);
    await b.app.fairUsePolicy.refresh();
    const codes = [];
    for (let i = 0; i < 8; i++)
      codes.push(
        (await (i % 2 ? b : a).app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) })).statusCode,
      );
    t.same(codes, [200, 200, 200, 200, 200, 200, 429, 429], 'six calls in all, whichever instance serves them');
  },
);

t.test(
  'R-API-1: the Redis bucket refills at the configured rate (state aged in Redis, no sleeping)',
  { skip: !TEST_REDIS_URL && 'REDIS_URL not set' },
  async (t) => {
    const prefix = `test:${randomUUID()}:`;
    const { app } = await buildTestApp(t, { env: redisEnv(prefix) });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const key = await apiKey(app, r.token, ['account:read']);
    await setLimit(app, op.token, 'credential', 10, 1); // 1 token a minute: test run time adds next to nothing
    const redis = new Redis(TEST_REDIS_URL!);
    t.teardown(() => redis.disconnect());
    const [secs] = (await redis.time()) as [number | string, number | string];
    // An empty bucket last touched 4.5 minutes ago holds 4.5 tokens now.
    await redis.hset(`${prefix}bucket:credential:${key.id}`, 't', '0', 'a', String(Number(secs) * 1000 - 270_000));
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) });
      codes.push(res.statusCode);
    }
    t.same(
      codes,
      [200, 200, 200, 200, 429],
      JSON.stringify(await redis.hgetall(`${prefix}bucket:credential:${key.id}`)),
    );
  },
);

t.test('R-API-1: the in-memory bucket refills at the configured rate (injected clock)', async (t) => {
  let now = 0;
  const buckets = memoryBuckets(100, () => now);
  const policy = [{ capacity: 3, refillPerSecond: 0.5 }];
  for (let i = 0; i < 3; i++) t.equal((await buckets.take(['k'], policy, 1)).allowed, true);
  t.equal((await buckets.take(['k'], policy, 1)).allowed, false);
  now = 1999;
  t.equal((await buckets.take(['k'], policy, 1)).allowed, false, 'not yet a whole token');
  now = 2000;
  t.equal((await buckets.take(['k'], policy, 1)).allowed, true, 'one token after 2 s at 0.5/s');
  t.same(await buckets.peek(['k'], policy), [0]);
});

t.test('R-API-1: with Redis unreachable, requests pass unmetered and the failure is logged', async (t) => {
  const { app, logs } = await buildTestApp(t, { env: { REDIS_URL: 'redis://127.0.0.1:1', REDIS_KEY_PREFIX: 'x:' } });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const res = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) });
  t.equal(res.statusCode, 200);
  t.ok(logs().some((l) => l.msg === 'rate-limit store failed; letting requests through unmetered' && l.level === 50));
});

t.test('R-API-1: operators change limits through the API; resellers see their buckets', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const limits = (
    await app.inject({ method: 'GET', url: '/v1/admin/fair-use/limits', headers: bearer(op.token) })
  ).json();
  t.same(
    limits.limits.map((l: { scope: string }) => l.scope),
    ['account', 'address', 'credential'],
  );
  await setLimit(app, op.token, 'credential', 50, 120);
  const view = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
  t.match(view.buckets, [{ scope: 'credential', capacity: 50, refill_per_minute: 120 }, { scope: 'account' }]);
  t.ok(view.buckets[0].remaining <= 50 && view.buckets[0].remaining >= 48, 'remaining reflects the calls just made');
  t.ok(view.costs.some((c: { operation_id: string }) => c.operation_id === 'createApiKey'));
  const reseller403 = await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/limits/credential',
    headers: bearer(r.token),
    payload: { capacity: 1e6, refill_per_minute: 1e6 },
  });
  t.equal(reseller403.statusCode, 403);
  t.equal(
    (await app.inject({ method: 'DELETE', url: '/v1/admin/fair-use/costs/getAccount', headers: bearer(op.token) }))
      .statusCode,
    404,
  );

  // A cost no bucket could hold would answer 429 forever, each Retry-After a promise never kept.
  const tooDear = await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/costs/restoreDomain',
    headers: bearer(op.token),
    payload: { cost: 51 },
  });
  t.equal(tooDear.statusCode, 422, 'above the credential bucket of 50');
  t.equal(tooDear.json().errors[0].code, 'cost_above_capacity');
  const dear = await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/costs/restoreDomain',
    headers: bearer(op.token),
    payload: { cost: 40 },
  });
  t.equal(dear.statusCode, 200);
  // A bucket made smaller than a cost afterwards: the call takes a full bucket, and is served.
  await setLimit(app, op.token, 'credential', 30, 60);
  const key = await apiKey(app, r.token, ['account:read']);
  t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) })).statusCode, 200);
  await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/costs/getAccount',
    headers: bearer(op.token),
    payload: { cost: 30 },
  });
  await setLimit(app, op.token, 'credential', 20, 60);
  const fresh = await apiKey(app, r.token, ['account:read']);
  const full = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(fresh.key) });
  t.equal(full.statusCode, 200, 'a cost of 30 from a bucket of 20 takes the full bucket');
  const next = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(fresh.key) });
  t.equal(next.statusCode, 429);
  t.ok(Number(next.headers['retry-after']) <= 20, 'and the wait is for a full bucket, which comes');
});

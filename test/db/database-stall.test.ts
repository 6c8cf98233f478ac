// hardening-18: a stalled PostgreSQL (its processes frozen with SIGSTOP) or one that is gone must
// not hang requests or /readyz, and answers 503 service_unavailable with Retry-After, never 500.
// On a server of the test's own; PGlite has no network and none of this applies to it.
// No timed assertion: a request that hung would never complete, and the test's timeout catches it.
import t, { type Test } from 'tap';
import { createPostgresStore } from '../../src/db/client.js';
import { buildTestApp } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import { bearer, operator, reseller } from '../helpers/fixtures.js';
import { startPrivatePostgres } from '../helpers/private-services.js';

function assertUnavailable(
  t: Test,
  res: { statusCode: number; headers: Record<string, unknown>; json(): any },
  what: string,
) {
  t.equal(res.statusCode, 503, `${what}: 503`);
  t.equal(res.json().code, 'service_unavailable', `${what}: service_unavailable`);
  t.ok(Number(res.headers['retry-after']) > 0, `${what}: Retry-After`);
}

t.test(
  'hardening-18: a stalled database answers 503 with Retry-After within the timeouts, /readyz 503; once it is gone, 503 and not 500',
  { timeout: 90_000, skip: onPostgres ? false : 'needs PostgreSQL (PGlite has no network to stall)' },
  async (t) => {
    const pg = await startPrivatePostgres(t);
    const store = createPostgresStore(pg.url, { max: 4, statementTimeoutMs: 500 });
    t.teardown(() => store.close());
    // No credential cache: every request reaches the database.
    const { app, logs } = await buildTestApp(t, {
      store,
      env: { AUTH_CACHE_TTL_MS: '0', DATABASE_READY_TIMEOUT_MS: '300' },
    });
    const op = await operator(app);
    const owner = await reseller(app, op.token);
    t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(owner.token) })).statusCode, 200);

    pg.pause();
    const stalled = await Promise.all([
      app.inject({ method: 'GET', url: '/v1/account', headers: bearer(owner.token) }),
      app.inject({ method: 'GET', url: '/v1/users', headers: bearer(owner.token) }),
      app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { username: owner.ownerUsername, password: 'not the password at all' },
      }),
    ]);
    stalled.forEach((res, i) => assertUnavailable(t, res, `request ${i} during the stall`));
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    t.equal(ready.statusCode, 503, '/readyz answers 503 while the database stalls');
    t.same(ready.json(), { status: 'not_ready', checks: { database: 'failing', migrations: 'pending' } });

    pg.resume();
    let back = 0;
    for (let i = 0; i < 100 && back !== 200; i++) {
      back = (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(owner.token) })).statusCode;
      if (back !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(back, 200, 'requests succeed again once the database answers');

    await pg.kill();
    assertUnavailable(
      t,
      await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(owner.token) }),
      'after the database is gone',
    );
    assertUnavailable(
      t,
      await app.inject({ method: 'GET', url: '/v1/users', headers: bearer(owner.token) }),
      'again after it is gone (new connections refused)',
    );
    const gone = await app.inject({ method: 'GET', url: '/readyz' });
    t.equal(gone.statusCode, 503);
    t.equal(gone.json().checks.database, 'failing');
    t.notOk(
      logs().some(
        (l) =>
          l.level === 50 &&
          (l as { msg?: string }).msg === 'request failed' &&
          JSON.stringify(l).includes('internal_error'),
      ),
      'no request was answered as an internal error',
    );
  },
);

t.test('hardening-18: every operation documents 503 (database unavailable, or the instance draining)', async (t) => {
  const { app } = await buildTestApp(t);
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  let n = 0;
  for (const item of Object.values<Record<string, { operationId: string; responses: Record<string, unknown> }>>(
    doc.paths,
  )) {
    for (const op of Object.values(item)) {
      t.ok(op.responses['503'], `${op.operationId} documents 503`);
      n++;
    }
  }
  t.ok(n > 50, `${n} operations`);
});

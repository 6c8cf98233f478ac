import t from 'tap';
import { eq } from 'drizzle-orm';
import { Type } from 'typebox';
import { failedCommands, idempotencyKeys } from '../../../src/db/schema/index.js';
import { AppError, NotFound } from '../../../src/errors.js';
import type { App } from '../../../src/app.js';
import { DeliveryInFlight } from '../../../src/modules/webhooks/delivery-service.js';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres } from '../../helpers/db.js';
import { bearer, operator, reseller } from '../../helpers/fixtures.js';

const WEAK = { username: 'weak-user-x', email: 'w@hosting.test', name: 'W', role: 'support', password: 'password' };

// Test-only routes: one that fails the way we tell it to, one that waits for a latch.
let failWith: { status: number; code: string } | null = null;
let calls = 0;
let release: () => void = () => {};
function testRoutes(app: App) {
  app.post(
    '/v1/test-flaky',
    {
      schema: {
        operationId: 'testFlaky',
        tags: ['test'],
        summary: 'flaky',
        // The codes it is told to fail with that no plugin declares for it.
        errors: [NotFound, DeliveryInFlight],
        body: Type.Object({ n: Type.Integer() }),
        response: { 200: Type.Object({ calls: Type.Integer() }) },
      },
      config: { permission: 'account:write' },
    },
    async () => {
      calls++;
      if (failWith) throw new AppError({ code: failWith.code, status: failWith.status, title: failWith.code });
      return { calls };
    },
  );
  app.post(
    '/v1/test-slow',
    {
      schema: {
        operationId: 'testSlow',
        tags: ['test'],
        summary: 'slow',
        body: Type.Object({ n: Type.Integer() }),
        response: { 200: Type.Object({ ok: Type.Boolean() }) },
      },
      config: { permission: 'account:write' },
    },
    async () => {
      await new Promise<void>((r) => (release = r));
      return { ok: true };
    },
  );
}

t.test('R-API-2: an identical failed command is refused without running; an altered one runs', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const first = await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(r.token), payload: WEAK });
  t.equal(first.statusCode, 422);
  t.equal(first.json().code, 'weak_password');

  // Same command, keys reordered and whitespace added: still identical.
  const reordered = `{ "password": "password",  "role": "support", "name": "W", "email": "w@hosting.test", "username": "weak-user-x" }`;
  const repeat = await app.inject({
    method: 'POST',
    url: '/v1/users',
    headers: { ...bearer(r.token), 'content-type': 'application/json' },
    payload: reordered,
  });
  t.equal(repeat.statusCode, 409);
  t.equal(repeat.json().code, 'repeated_failed_command');
  t.match(repeat.json().first_failure, {
    status: 422,
    code: 'weak_password',
    request_id: first.headers['x-request-id'],
  });
  t.ok(Date.parse(repeat.json().first_failure.at) > 0);

  const users = (await app.inject({ method: 'GET', url: '/v1/users', headers: bearer(r.token) })).json().data;
  t.equal(users.length, 1, 'nothing ran: only the owner exists');

  const altered = await app.inject({
    method: 'POST',
    url: '/v1/users',
    headers: bearer(r.token),
    payload: { ...WEAK, password: 'copper-Meadow-thistle-27#brook' },
  });
  t.equal(altered.statusCode, 201, 'an altered command runs');
  const otherAccount = await reseller(app, op.token);
  const elsewhere = await app.inject({
    method: 'POST',
    url: '/v1/users',
    headers: bearer(otherAccount.token),
    payload: { ...WEAK, username: 'weak-user-y' },
  });
  t.equal(elsewhere.json().code, 'weak_password', "another account's command is its own");
});

t.test('R-API-2: 5xx, 429, 401 and 403 are never remembered', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  for (const fail of [
    { status: 500, code: 'internal_error' },
    { status: 503, code: 'service_unavailable' },
    { status: 429, code: 'rate_limited' },
    { status: 403, code: 'permission_denied' },
    { status: 401, code: 'invalid_credentials' },
  ]) {
    failWith = fail;
    const before = calls;
    await app.inject({ method: 'POST', url: '/v1/test-flaky', headers: bearer(r.token), payload: { n: fail.status } });
    await app.inject({ method: 'POST', url: '/v1/test-flaky', headers: bearer(r.token), payload: { n: fail.status } });
    t.equal(calls - before, 2, `a repeat after ${fail.status} runs again`);
  }
  failWith = { status: 404, code: 'not_found' };
  await app.inject({ method: 'POST', url: '/v1/test-flaky', headers: bearer(r.token), payload: { n: 404 } });
  const before = calls;
  const refused = await app.inject({
    method: 'POST',
    url: '/v1/test-flaky',
    headers: bearer(r.token),
    payload: { n: 404 },
  });
  t.equal(refused.json().code, 'repeated_failed_command', 'a 404 is remembered');
  t.equal(calls, before, 'and the refused repeat did not run');
  failWith = null;
});

t.test('R-API-2: operators exempt an operation; a failure is forgotten after the window', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(r.token), payload: WEAK });
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(r.token), payload: WEAK })).json().code,
    'repeated_failed_command',
  );
  await store.db
    .update(failedCommands)
    .set({ expiresAt: new Date(Date.now() - 1) })
    .where(eq(failedCommands.accountId, r.accountId));
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(r.token), payload: WEAK })).json().code,
    'weak_password',
    'after the window it runs (and fails) again',
  );
  const exempt = await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/guard-exemptions/createUser',
    headers: bearer(op.token),
    payload: { reason: 'test' },
  });
  t.equal(exempt.statusCode, 200);
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(r.token), payload: WEAK })).json().code,
    'weak_password',
    'an exempt operation is never refused',
  );
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(r.token), payload: WEAK })).json().code,
    'weak_password',
    'not even twice',
  );
  t.equal(
    (
      await app.inject({
        method: 'DELETE',
        url: '/v1/admin/fair-use/guard-exemptions/createUser',
        headers: bearer(op.token),
      })
    ).statusCode,
    204,
  );
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(r.token), payload: WEAK })).json().code,
    'repeated_failed_command',
    'guarded again',
  );
});

t.test('Idempotency-Key: the first response is replayed, once executed', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const headers = { ...bearer(r.token), 'idempotency-key': 'key-create-1' };
  const payload = { name: 'deploy', scopes: ['account:read'] };
  const first = await app.inject({ method: 'POST', url: '/v1/api-keys', headers, payload });
  t.equal(first.statusCode, 201);
  t.notOk(first.headers['idempotent-replayed']);
  const again = await app.inject({ method: 'POST', url: '/v1/api-keys', headers, payload });
  t.equal(again.statusCode, 201);
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.equal(again.body, first.body, 'the same body, byte for byte');
  const keys = (await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(r.token) })).json().data;
  t.equal(keys.length, 1, 'one key was created');
  const [row] = await store.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, 'key-create-1'));
  t.notOk(row?.responseBody?.includes(first.json().secret), 'the stored response (with a secret) is sealed');

  const mismatch = await app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers,
    payload: { ...payload, name: 'other' },
  });
  t.equal(mismatch.statusCode, 422);
  t.equal(mismatch.json().code, 'idempotency_key_reused');

  const b = await reseller(app, op.token);
  const otherTenant = await app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: { ...bearer(b.token), 'idempotency-key': 'key-create-1' },
    payload,
  });
  t.equal(otherTenant.statusCode, 201);
  t.notOk(otherTenant.headers['idempotent-replayed'], "another account's credential has its own keys");

  const bad = await app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: { ...bearer(r.token), 'idempotency-key': 'has space' },
    payload,
  });
  t.equal(bad.statusCode, 422);
  t.equal(bad.json().errors[0].pointer, '/headers/idempotency-key');
});

t.test('Idempotency-Key: 409 while the first is running; 5xx is not stored', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const headers = { ...bearer(r.token), 'idempotency-key': 'slow-1' };
  const running = app.inject({ method: 'POST', url: '/v1/test-slow', headers, payload: { n: 1 } });
  await new Promise((resolve) => setTimeout(resolve, 200));
  if (onPostgres) {
    const clash = await app.inject({ method: 'POST', url: '/v1/test-slow', headers, payload: { n: 1 } });
    t.equal(clash.statusCode, 409);
    t.equal(clash.json().code, 'idempotency_key_in_use');
    release();
    t.equal((await running).statusCode, 200);
  } else {
    // PGlite has one connection, held by the first request's transaction: the duplicate waits for
    // it to commit, then gets its answer.
    const clash = app.inject({ method: 'POST', url: '/v1/test-slow', headers, payload: { n: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    t.equal((await running).statusCode, 200);
    t.equal((await clash).headers['idempotent-replayed'], 'true');
  }

  failWith = { status: 500, code: 'internal_error' };
  const h2 = { ...bearer(r.token), 'idempotency-key': 'flaky-1' };
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/test-flaky', headers: h2, payload: { n: 7 } })).statusCode,
    500,
  );
  failWith = null;
  const retry = await app.inject({ method: 'POST', url: '/v1/test-flaky', headers: h2, payload: { n: 7 } });
  t.equal(retry.statusCode, 200, 'the retry after a server error ran');
  t.notOk(retry.headers['idempotent-replayed']);
});

t.test('R-API-2: a replayed failure is a replay, not a repeated failure', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const headers = { ...bearer(r.token), 'idempotency-key': 'weak-1' };
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/users', headers, payload: WEAK })).json().code,
    'weak_password',
  );
  const replay = await app.inject({ method: 'POST', url: '/v1/users', headers, payload: WEAK });
  t.equal(replay.headers['idempotent-replayed'], 'true');
  t.equal(replay.json().code, 'weak_password', 'the stored failure, not repeated_failed_command');
});

t.test(
  'R-API-2 / Idempotency-Key: a refusal of the guard is not the command’s answer; the same key runs it once it may',
  async (t) => {
    const { app, store } = await buildTestApp(t, { configure: testRoutes });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    failWith = { status: 404, code: 'not_found' };
    const send = (key: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/test-flaky',
        headers: { ...bearer(r.token), 'idempotency-key': key },
        payload: { n: 7 },
      });
    t.equal((await send('first')).statusCode, 404);
    const before = calls;
    const refused = await send('second');
    t.equal(refused.json().code, 'repeated_failed_command');
    t.equal(calls, before, 'the repeat did not run');
    // The failure is over (its window passed; here its row is gone) and the command would now succeed.
    failWith = null;
    await store.db.delete(failedCommands).where(eq(failedCommands.accountId, r.accountId));
    const again = await send('second');
    t.equal(again.statusCode, 200, 'the same key runs the command: the refusal was not kept as its answer');
    t.equal(again.headers['idempotent-replayed'], undefined);
    t.equal(calls, before + 1);
    const replay = await send('second');
    t.equal(replay.headers['idempotent-replayed'], 'true', 'and from then on the key answers what it did');
    t.equal(calls, before + 1);
  },
);

t.test(
  'R-API-2: a delivery attempt under way (409 delivery_in_flight) is not remembered: the repeat runs',
  async (t) => {
    const { app } = await buildTestApp(t, { configure: testRoutes });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    failWith = { status: 409, code: 'delivery_in_flight' };
    const before = calls;
    for (let i = 0; i < 2; i++)
      await app.inject({ method: 'POST', url: '/v1/test-flaky', headers: bearer(r.token), payload: { n: 409 } });
    t.equal(calls - before, 2, 'the second call ran: the state ends by itself');
    failWith = null;
  },
);

t.test(
  'Idempotency-Key / R-API-2: a replayed failure is the first answer as sent, with its repeat notice',
  async (t) => {
    const { app } = await buildTestApp(t, { configure: testRoutes });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    failWith = { status: 404, code: 'not_found' };
    const send = () =>
      app.inject({
        method: 'POST',
        url: '/v1/test-flaky',
        headers: { ...bearer(r.token), 'idempotency-key': 'notice-1' },
        payload: { n: 404 },
      });
    const first = await send();
    t.equal(first.statusCode, 404);
    t.match(
      first.json(),
      { repeat_refused_until: String, detail: /refused until/ },
      'the failure says it is remembered',
    );
    const replay = await send();
    t.equal(replay.headers['idempotent-replayed'], 'true');
    t.equal(replay.statusCode, 404);
    t.same(replay.json(), first.json(), 'the replay is the stored answer, notice included');
    failWith = null;
  },
);

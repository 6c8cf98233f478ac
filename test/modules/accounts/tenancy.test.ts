import t from 'tap';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres } from '../../helpers/db.js';
import { addUser, apiKey, bearer, loginAs, operator, reseller } from '../../helpers/fixtures.js';

t.test("R-SEC-6: another tenant's objects answer 404, never 403", async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  const b = await reseller(app, op.token);
  const bUser = await addUser(app, b.token, 'technical');
  const bKey = await apiKey(app, b.token, ['account:read']);
  const bSession = await loginAs(app, b.ownerUsername);
  await app.inject({
    method: 'POST',
    url: `/v1/admin/accounts/${b.accountId}/credit`,
    headers: bearer(op.token),
    payload: { amount: { amount: 5000, currency: 'EUR' }, reason: 'top-up' },
  });

  const probes: [string, string, unknown?][] = [
    ['GET', `/v1/users/${bUser.id}`],
    ['PATCH', `/v1/users/${bUser.id}`, { name: 'hijack' }],
    ['DELETE', `/v1/users/${bUser.id}`],
    ['PUT', `/v1/users/${bUser.id}/password`, { new_password: 'copper-Meadow-thistle-27#brook' }],
    ['DELETE', `/v1/users/${bUser.id}/two-factor`],
    ['GET', `/v1/api-keys/${bKey.id}`],
    ['POST', `/v1/api-keys/${bKey.id}/rotate`],
    ['DELETE', `/v1/api-keys/${bKey.id}`],
    ['DELETE', `/v1/auth/sessions/${bSession.session_id}`],
  ];
  for (const [method, url, payload] of probes) {
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: bearer(a.token),
      ...(payload ? { payload } : {}),
    });
    t.equal(res.statusCode, 404, `${method} ${url}`);
  }
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(bKey.key) })).json().id,
    b.accountId,
    "B's key still works: nothing was changed",
  );

  const aUsers = (await app.inject({ method: 'GET', url: '/v1/users', headers: bearer(a.token) })).json().data;
  t.same(
    aUsers.map((u: { account_id: string }) => u.account_id),
    [a.accountId],
    'lists hold only own users',
  );
  const aTx = (await app.inject({ method: 'GET', url: '/v1/billing/transactions', headers: bearer(a.token) })).json()
    .data;
  t.same(aTx, [], "B's credit is not in A's ledger");
  const aAudit = (
    await app.inject({ method: 'GET', url: `/v1/audit-events?account_id=${b.accountId}`, headers: bearer(a.token) })
  ).json().data;
  t.ok(
    aAudit.every((e: { account_id: string }) => e.account_id === a.accountId),
    'audit events are pinned to the own account whatever is asked',
  );
  const aKeys = (await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(a.token) })).json().data;
  t.notOk(aKeys.some((k: { id: string }) => k.id === bKey.id));
  const aSessions = (await app.inject({ method: 'GET', url: '/v1/auth/sessions', headers: bearer(a.token) })).json()
    .data;
  t.notOk(aSessions.some((s: { id: string }) => s.id === bSession.session_id));
});

t.test('R-SEC-1: roles limit what a user may do', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const ro = await addUser(app, r.token, 'read_only');
  const roToken = (await loginAs(app, ro.username)).token;
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(roToken) })).statusCode,
    200,
    'read_only reads',
  );
  const write = await app.inject({
    method: 'PATCH',
    url: '/v1/account',
    headers: bearer(roToken),
    payload: { company_name: 'x' },
  });
  t.equal(write.statusCode, 403);
  t.equal(write.json().code, 'permission_denied');
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/audit-events', headers: bearer(roToken) })).statusCode,
    403,
    'read_only does not read the audit trail',
  );

  const admin = await addUser(app, r.token, 'admin');
  const adminToken = (await loginAs(app, admin.username)).token;
  const makeOwner = await app.inject({
    method: 'POST',
    url: '/v1/users',
    headers: bearer(adminToken),
    payload: {
      username: 'would-be-owner',
      email: 'o@hosting.test',
      name: 'O',
      role: 'owner',
      password: 'copper-Meadow-thistle-27#brook',
    },
  });
  t.equal(makeOwner.statusCode, 403);
  t.equal(makeOwner.json().code, 'role_not_assignable');
  const promote = await app.inject({
    method: 'PATCH',
    url: `/v1/users/${admin.id}`,
    headers: bearer(adminToken),
    payload: { role: 'owner' },
  });
  t.equal(promote.json().code, 'role_not_assignable', 'an admin cannot promote itself');
  const demoteOwner = await app.inject({
    method: 'PATCH',
    url: `/v1/users/${r.ownerId}`,
    headers: bearer(adminToken),
    payload: { role: 'read_only' },
  });
  t.equal(demoteOwner.json().code, 'role_not_assignable', 'an admin cannot demote an owner');

  const selfName = await app.inject({
    method: 'PATCH',
    url: `/v1/users/${ro.id}`,
    headers: bearer(roToken),
    payload: { name: 'Renamed' },
  });
  t.equal(selfName.statusCode, 200, 'anyone edits their own name');
  const selfRole = await app.inject({
    method: 'PATCH',
    url: `/v1/users/${ro.id}`,
    headers: bearer(roToken),
    payload: { role: 'admin' },
  });
  t.equal(selfRole.statusCode, 403, 'but not their own role');

  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/admin/accounts', headers: bearer(r.token) })).statusCode,
    403,
    'resellers never reach operator routes',
  );
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(op.token) })).statusCode,
    403,
    'operators hold no reseller permissions',
  );
});

t.test('R-SEC-1: usernames are unique, per person, case-insensitively', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const dup = await app.inject({
    method: 'POST',
    url: '/v1/users',
    headers: bearer(r.token),
    payload: {
      username: r.ownerUsername.toUpperCase(),
      email: 'x@hosting.test',
      name: 'X',
      role: 'support',
      password: 'copper-Meadow-thistle-27#brook',
    },
  });
  t.equal(dup.statusCode, 409);
  t.equal(dup.json().code, 'username_taken');
});

t.test('an account keeps one active owner; disabling a user revokes their credentials', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const last = await app.inject({ method: 'DELETE', url: `/v1/users/${r.ownerId}`, headers: bearer(r.token) });
  t.equal(last.statusCode, 409);
  t.equal(last.json().code, 'last_owner');

  const tech = await addUser(app, r.token, 'technical');
  const techToken = (await loginAs(app, tech.username)).token;
  const techKey = await apiKey(app, techToken, ['account:read']);
  t.equal(
    (await app.inject({ method: 'DELETE', url: `/v1/users/${tech.id}`, headers: bearer(r.token) })).json().status,
    'disabled',
  );
  t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(techToken) })).statusCode, 401);
  t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(techKey.key) })).statusCode, 401);
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { username: tech.username, password: 'violet-Harbour-lantern-58!quay' },
      })
    ).statusCode,
    401,
  );
});

t.test('a suspended account answers 403 account_suspended until resumed', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const key = await apiKey(app, r.token, ['account:read']);
  const s = await app.inject({
    method: 'POST',
    url: `/v1/admin/accounts/${r.accountId}/suspend`,
    headers: bearer(op.token),
    payload: { reason: 'unpaid invoices' },
  });
  t.equal(s.json().status, 'suspended');
  for (const token of [r.token, key.key]) {
    const res = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(token) });
    t.equal(res.statusCode, 403);
    t.equal(res.json().code, 'account_suspended');
  }
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { username: r.ownerUsername, password: 'violet-Harbour-lantern-58!quay' },
      })
    ).json().code,
    'account_suspended',
  );
  await app.inject({ method: 'POST', url: `/v1/admin/accounts/${r.accountId}/resume`, headers: bearer(op.token) });
  t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) })).statusCode, 200);
});

t.test(
  'R-SEC-1: two owners stepping down at once leave one owner, never none (PostgreSQL)',
  { skip: !onPostgres && 'PostgreSQL only (set DATABASE_URL): PGlite runs one transaction at a time' },
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    for (let round = 0; round < 5; round++) {
      const r = await reseller(app, op.token);
      const second = await addUser(app, r.token, 'owner');
      const secondToken = (await loginAs(app, second.username)).token;
      const answers = await Promise.all([
        app.inject({
          method: 'PATCH',
          url: `/v1/users/${r.ownerId}`,
          headers: bearer(r.token),
          payload: { role: 'admin' },
        }),
        app.inject({
          method: 'PATCH',
          url: `/v1/users/${second.id}`,
          headers: bearer(secondToken),
          payload: { role: 'admin' },
        }),
      ]);
      t.same(
        answers.map((a) => a.statusCode).sort(),
        [200, 409],
        `round ${round}: one steps down, the other is refused last_owner`,
      );
    }
  },
);

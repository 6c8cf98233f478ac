import t from 'tap';
import { eq } from 'drizzle-orm';
import { apiKeys } from '../../../src/db/schema/index.js';
import { buildTestApp } from '../../helpers/app.js';
import { testStore } from '../../helpers/db.js';
import { addUser, apiKey, bearer, loginAs, operator, reseller, signed } from '../../helpers/fixtures.js';
import { eventually } from '../../helpers/eventually.js';

const REDIS_URL = process.env.REDIS_URL;

t.test('R-SEC-5: an API key is shown once, works as a bearer, and is stored hashed and sealed', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const key = await apiKey(app, r.token, ['account:read', 'users:read']);
  t.match(key.key, /^rak_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
  t.equal(key.key, `rak_${key.keyId}_${key.secret}`);
  const res = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) });
  t.equal(res.statusCode, 200);
  const [row] = await store.db.select().from(apiKeys).where(eq(apiKeys.id, key.id));
  t.notOk(JSON.stringify(row).includes(key.secret), 'the secret is not stored in clear');
  // The use is recorded beside the request, not before its answer: wait for the write.
  const show = () => app.inject({ method: 'GET', url: `/v1/api-keys/${key.id}`, headers: bearer(r.token) });
  await eventually('the key use recorded', async () => (await show()).json().last_used_at !== null, 10_000).catch(
    () => {},
  );
  const shown = await show();
  t.notOk(shown.body.includes(key.secret), 'reading the key never shows the secret');
  t.equal(shown.json().last_used_address, '127.0.0.1', 'last use is recorded');
  t.ok(shown.json().last_used_at);
});

t.test('R-SEC-1: a key is limited to its scopes, and scopes are limited to the user', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const key = await apiKey(app, r.token, ['account:read']);
  const denied = await app.inject({ method: 'GET', url: '/v1/users', headers: bearer(key.key) });
  t.equal(denied.statusCode, 403);
  t.equal(denied.json().code, 'permission_denied');

  const ro = await addUser(app, r.token, 'read_only');
  const roLogin = await loginAs(app, ro.username);
  const tooMuch = await app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: bearer(roLogin.token),
    payload: { name: 'x', scopes: ['account:read'] },
  });
  t.equal(tooMuch.statusCode, 403, 'read_only may not create keys at all');
  const tech = await addUser(app, r.token, 'technical');
  const techLogin = await loginAs(app, tech.username);
  const escalate = await app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: bearer(techLogin.token),
    payload: { name: 'x', scopes: ['domains:write', 'users:write'] },
  });
  t.equal(escalate.statusCode, 422);
  t.equal(escalate.json().code, 'scope_not_permitted');
  t.same(
    escalate.json().errors.map((e: { pointer: string }) => e.pointer),
    ['/body/scopes/1'],
  );
});

t.test(
  'R-SEC-5: no key is handed out expired: an expiry in the past is refused, an expired key is not rotated',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const past = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(r.token),
      payload: { name: 'p', scopes: ['account:read'], expires_at: '2001-01-01T00:00:00Z' },
    });
    t.equal(past.statusCode, 422);
    t.match(past.json().errors, [{ pointer: '/body/expires_at', code: 'expires_in_past' }]);
    const listed = await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(r.token) });
    t.equal(listed.json().data.length, 0, 'no key was made');

    const key = await apiKey(app, r.token, ['account:read'], {
      expires_at: new Date(Date.now() + 86_400_000).toISOString(),
    });
    t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) })).statusCode, 200);
    // Its day passes.
    await app.db
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1_000) })
      .where(eq(apiKeys.id, key.id));
    app.credentialCache.revoke({ credentialId: key.id });
    const expired = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) });
    t.equal(expired.json().code, 'token_expired');
    const rotated = await app.inject({
      method: 'POST',
      url: `/v1/api-keys/${key.id}/rotate`,
      headers: bearer(r.token),
    });
    t.equal(rotated.statusCode, 409);
    t.equal(rotated.json().code, 'api_key_expired');
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) })).json().code,
      'token_expired',
      'the key is unchanged',
    );
  },
);

t.test('R-SEC-5: rotation replaces the key at once; revocation stops it', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const key = await apiKey(app, r.token, ['account:read']);
  t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) })).statusCode, 200);
  const rotated = await app.inject({ method: 'POST', url: `/v1/api-keys/${key.id}/rotate`, headers: bearer(r.token) });
  t.equal(rotated.statusCode, 200);
  const fresh = rotated.json().key;
  t.not(fresh, key.key);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) })).statusCode,
    401,
    'the old key is dead',
  );
  t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(fresh) })).statusCode, 200);
  t.equal(
    (await app.inject({ method: 'DELETE', url: `/v1/api-keys/${key.id}`, headers: bearer(r.token) })).statusCode,
    200,
  );
  const revoked = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(fresh) });
  t.equal(revoked.statusCode, 401);
  t.equal(revoked.json().code, 'credential_revoked');
});

t.test(
  'R-SEC-5: a revocation on one instance is seen by another within the cache TTL',
  { skip: !process.env.DATABASE_URL && 'two instances need PostgreSQL' },
  async (t) => {
    const store = await testStore(t);
    const a = await buildTestApp(t, { store, env: { AUTH_CACHE_TTL_MS: '0' } });
    const b = await buildTestApp(t, { store, env: { AUTH_CACHE_TTL_MS: '0' } });
    const op = await operator(a.app);
    const r = await reseller(a.app, op.token);
    const key = await apiKey(a.app, r.token, ['account:read']);
    t.equal((await b.app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) })).statusCode, 200);
    await a.app.inject({ method: 'DELETE', url: `/v1/api-keys/${key.id}`, headers: bearer(r.token) });
    t.equal((await b.app.inject({ method: 'GET', url: '/v1/account', headers: bearer(key.key) })).statusCode, 401);
  },
);

for (const backend of ['postgres', 'redis'] as const) {
  t.test(
    `R-SEC-5: signed requests (${backend === 'redis' ? 'with' : 'without'} Redis)`,
    { skip: backend === 'redis' && !REDIS_URL && 'REDIS_URL not set' },
    async (t) => {
      const { app } = await buildTestApp(t, { env: backend === 'redis' ? { REDIS_URL: REDIS_URL! } : {} });
      const op = await operator(app);
      const r = await reseller(app, op.token);
      const key = await apiKey(app, r.token, ['account:read', 'account:write', 'users:read']);

      const get = await app.inject({
        method: 'GET',
        url: '/v1/users?limit=5&cursor=',
        headers: signed(key, 'GET', '/v1/users?limit=5&cursor='),
      });
      t.equal(get.statusCode, 200, 'a signed GET with a query');

      const body = JSON.stringify({ company_name: 'Signed GmbH' });
      const patch = await app.inject({
        method: 'PATCH',
        url: '/v1/account',
        headers: signed(key, 'PATCH', '/v1/account', body),
        payload: body,
      });
      t.equal(patch.statusCode, 200, 'a signed PATCH with a body');
      t.equal(patch.json().company_name, 'Signed GmbH');

      const tampered = await app.inject({
        method: 'PATCH',
        url: '/v1/account',
        headers: signed(key, 'PATCH', '/v1/account', body),
        payload: JSON.stringify({ company_name: 'Evil GmbH' }),
      });
      t.equal(tampered.statusCode, 401, 'a body that does not match its digest');
      t.equal(tampered.json().code, 'signature_invalid');
      const after = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) });
      t.equal(after.json().company_name, 'Signed GmbH', 'the tampered request changed nothing');

      const stale = await app.inject({
        method: 'GET',
        url: '/v1/account',
        headers: signed(key, 'GET', '/v1/account', '', { timestamp: Math.floor(Date.now() / 1000) - 301 }),
      });
      t.equal(stale.statusCode, 401);
      t.equal(stale.json().code, 'signature_expired');
      const future = await app.inject({
        method: 'GET',
        url: '/v1/account',
        headers: signed(key, 'GET', '/v1/account', '', { timestamp: Math.floor(Date.now() / 1000) + 400 }),
      });
      t.equal(future.json().code, 'signature_expired');

      const headers = signed(key, 'GET', '/v1/account');
      t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers })).statusCode, 200);
      const replay = await app.inject({ method: 'GET', url: '/v1/account', headers });
      t.equal(replay.statusCode, 401);
      t.equal(replay.json().code, 'nonce_reused');

      const otherPath = await app.inject({
        method: 'GET',
        url: '/v1/users',
        headers: signed(key, 'GET', '/v1/account'),
      });
      t.equal(otherPath.json().code, 'signature_invalid', 'a signature binds the path');
      const wrongSecret = await app.inject({
        method: 'GET',
        url: '/v1/account',
        headers: signed({ keyId: key.keyId, secret: 'x'.repeat(43) }, 'GET', '/v1/account'),
      });
      t.equal(wrongSecret.json().code, 'signature_invalid');
      const malformed = await app.inject({
        method: 'GET',
        url: '/v1/account',
        headers: { authorization: 'HMAC-SHA256 Credential=abc' },
      });
      t.equal(malformed.json().code, 'invalid_credentials');
    },
  );
}

t.test(
  'R-SEC-5 / R-TKT-10: an operator keeps its own keys; a key of inbound_email:write alone delivers ticket e-mail and nothing else',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const other = await operator(app);
    const r = await reseller(app, op.token);
    await app.inject({
      method: 'PATCH',
      url: `/v1/admin/accounts/${r.accountId}`,
      headers: bearer(op.token),
      payload: { contact_email: 'desk@mta.test' },
    });
    const mta = await apiKey(app, op.token, ['inbound_email:write']);
    const mail = (key: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/admin/tickets/inbound-email',
        headers: { ...bearer(key), 'content-type': 'message/rfc822' },
        payload: ['From: desk@mta.test', 'Subject: Mail is down', '', 'Since noon.', ''].join('\r\n'),
      });
    t.equal((await mail(mta.key)).statusCode, 202, 'the MTA delivers with its key');
    const tickets = (await app.inject({ method: 'GET', url: '/v1/tickets', headers: bearer(r.token) })).json().data;
    t.same(
      tickets.map((x: { subject: string; channel: string }) => [x.subject, x.channel]),
      [['Mail is down', 'email']],
      'the message opened a ticket of the sender’s account',
    );
    for (const [method, url] of [
      ['GET', '/v1/admin/tickets/inbound-email'],
      ['GET', '/v1/admin/accounts'],
      ['POST', '/v1/admin/tickets'],
      ['GET', '/v1/api-keys'],
    ] as const) {
      const res = await app.inject({ method, url, headers: bearer(mta.key), payload: {} });
      t.equal(res.statusCode, 403, `${method} ${url}: outside the key's one scope`);
    }

    // Scopes are the holder's: a reseller cannot make an intake key, an operator no reseller one.
    for (const [token, scope] of [
      [r.token, 'inbound_email:write'],
      [r.token, 'admin:read'],
      [op.token, 'domains:read'],
    ] as const) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: bearer(token),
        payload: { name: 'x', scopes: [scope] },
      });
      t.equal(res.json().code, 'scope_not_permitted', `${scope}`);
    }

    // Each operator lists and manages its own keys; a reseller's key is on the other side (404).
    const theirs = await apiKey(app, other.token, ['admin:read']);
    const resellerKey = await apiKey(app, r.token, ['domains:read']);
    const listed = (await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(op.token) })).json().data;
    t.same(
      listed.map((k: { id: string }) => k.id),
      [mta.id],
    );
    const look = (id: string) => app.inject({ method: 'GET', url: `/v1/api-keys/${id}`, headers: bearer(op.token) });
    t.equal((await look(theirs.id)).statusCode, 403, 'another operator’s key: not yours to manage');
    t.equal((await look(resellerKey.id)).statusCode, 404, 'a reseller’s key: not found');
    t.equal(
      (await app.inject({ method: 'GET', url: `/v1/api-keys/${mta.id}`, headers: bearer(r.token) })).statusCode,
      404,
      'and the operator’s key, to the reseller',
    );

    const revoked = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${mta.id}`, headers: bearer(op.token) });
    t.equal(revoked.statusCode, 200);
    t.equal((await mail(mta.key)).statusCode, 401, 'a revoked key delivers nothing');
  },
);

t.test(
  'R-SEC-8: a key acting on keys hands out no more than it holds: scopes, allowlist and expiry bind the keys it makes, rotates and revokes',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const keys = (token: string, method: 'POST' | 'DELETE', url: string, payload?: object) =>
      app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });

    // Scopes: a narrow key cannot rotate (and so take over) or revoke a broader one, operator's or reseller's.
    for (const [token, broadScopes, probe] of [
      [op.token, ['admin:write', 'admin:read'], '/v1/admin/accounts'],
      [r.token, ['domains:read', 'api_keys:write'], '/v1/domains'],
    ] as const) {
      const broad = await apiKey(app, token, [...broadScopes]);
      const narrow = await apiKey(app, token, ['api_keys:write']);
      const rotated = await keys(narrow.key, 'POST', `/v1/api-keys/${broad.id}/rotate`);
      t.equal(rotated.json().code, 'permission_denied', `${broadScopes[0]}: a narrow key does not rotate a broad one`);
      t.notOk(rotated.body.includes('secret'), 'and gets no secret');
      t.equal((await keys(narrow.key, 'DELETE', `/v1/api-keys/${broad.id}`)).statusCode, 403, 'nor revokes it');
      t.equal(
        (await app.inject({ method: 'GET', url: probe, headers: bearer(broad.key) })).statusCode,
        200,
        'the broad key still works',
      );
      const same = await apiKey(app, token, ['api_keys:write']);
      t.equal((await keys(narrow.key, 'POST', `/v1/api-keys/${same.id}/rotate`)).statusCode, 200, 'an equal key: yes');
      t.equal((await keys(narrow.key, 'POST', `/v1/api-keys/${narrow.id}/rotate`)).statusCode, 200, 'itself: yes');
    }

    // Allowlist and expiry: a key limited to an address and an hour makes keys no wider.
    const hour = new Date(Date.now() + 3_600_000).toISOString();
    const bound = await apiKey(app, r.token, ['api_keys:write', 'domains:read'], {
      ip_allowlist: ['127.0.0.1'],
      expires_at: hour,
    });
    const made = await keys(bound.key, 'POST', '/v1/api-keys', { name: 'copy', scopes: ['domains:read'] });
    t.equal(made.statusCode, 201);
    t.same(made.json().api_key.ip_allowlist, ['127.0.0.1/32'], 'the new key takes the maker’s allowlist');
    t.equal(Date.parse(made.json().api_key.expires_at), Date.parse(hour), 'and its expiry');
    const wider = await keys(bound.key, 'POST', '/v1/api-keys', {
      name: 'x',
      scopes: ['domains:read'],
      ip_allowlist: ['127.0.0.0/8'],
    });
    t.match(wider.json(), {
      status: 422,
      errors: [{ pointer: '/body/ip_allowlist/0', code: 'outside_key_allowlist' }],
    });
    const longer = await keys(bound.key, 'POST', '/v1/api-keys', {
      name: 'x',
      scopes: ['domains:read'],
      expires_at: new Date(Date.now() + 7_200_000).toISOString(),
    });
    t.match(longer.json(), { status: 422, errors: [{ pointer: '/body/expires_at', code: 'expires_after_key' }] });
    const open = await apiKey(app, r.token, ['domains:read']);
    t.equal(
      (await keys(bound.key, 'POST', `/v1/api-keys/${open.id}/rotate`)).json().code,
      'permission_denied',
      'a key usable from anywhere and forever is not rotated by a bound one',
    );
  },
);

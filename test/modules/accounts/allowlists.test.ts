import t from 'tap';
import { buildTestApp } from '../../helpers/app.js';
import { addUser, apiKey, bearer, operator, reseller, STRONG_PASSWORD } from '../../helpers/fixtures.js';

const get = (
  app: Awaited<ReturnType<typeof buildTestApp>>['app'],
  token: string,
  remoteAddress: string,
  headers: Record<string, string> = {},
) => app.inject({ method: 'GET', url: '/v1/account', headers: { ...bearer(token), ...headers }, remoteAddress });

t.test('R-SEC-4: the account allowlist admits IPv4 and IPv6 ranges and refuses the rest', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const set = await app.inject({
    method: 'PUT',
    url: '/v1/account/ip-allowlist',
    headers: bearer(r.token),
    payload: { entries: ['127.0.0.1', '203.0.113.0/24', '2001:db8:abcd::/48'] },
  });
  t.equal(set.statusCode, 200);
  t.same(set.json().entries, ['127.0.0.1/32', '203.0.113.0/24', '2001:db8:abcd::/48'], 'entries are normalised');

  t.equal((await get(app, r.token, '203.0.113.77')).statusCode, 200, 'IPv4 inside');
  t.equal((await get(app, r.token, '2001:db8:abcd:12::1')).statusCode, 200, 'IPv6 inside');
  t.equal((await get(app, r.token, '::ffff:203.0.113.9')).statusCode, 200, 'IPv4-mapped IPv6 counts as IPv4');
  const v4 = await get(app, r.token, '198.51.100.1');
  t.equal(v4.statusCode, 403, 'IPv4 outside');
  t.equal(v4.json().code, 'ip_not_allowed');
  const v6 = await get(app, r.token, '2001:db8:ffff::1');
  t.equal(v6.statusCode, 403, 'IPv6 outside');
  t.equal(v6.json().code, 'ip_not_allowed');
});

t.test('R-SEC-4: refused before anything else runs, even a request that would fail validation', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  await app.inject({
    method: 'PUT',
    url: '/v1/account/ip-allowlist',
    headers: bearer(r.token),
    payload: { entries: ['10.0.0.0/8'], confirm: true },
  });
  const res = await app.inject({
    method: 'PATCH',
    url: '/v1/account',
    headers: bearer(r.token),
    payload: { not_a_field: 1 },
    remoteAddress: '192.0.2.1',
  });
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, 'ip_not_allowed');
});

t.test('R-SEC-4: a user allowlist refuses login and calls from elsewhere', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const tech = await addUser(app, r.token, 'technical', { ip_allowlist: ['192.0.2.0/24'] });
  const outside = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { username: tech.username, password: STRONG_PASSWORD },
    remoteAddress: '127.0.0.1',
  });
  t.equal(
    outside.statusCode,
    401,
    'answered as a wrong password, so the list and the password stay secret (hardening-6)',
  );
  t.equal(outside.json().code, 'invalid_credentials');
  const inside = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { username: tech.username, password: STRONG_PASSWORD },
    remoteAddress: '192.0.2.10',
  });
  t.equal(inside.statusCode, 200);
  const token = inside.json().token;
  t.equal((await get(app, token, '192.0.2.11')).statusCode, 200);
  t.equal((await get(app, token, '127.0.0.1')).statusCode, 403);
});

t.test('R-SEC-4: a key allowlist narrows that key only', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const key = await apiKey(app, r.token, ['account:read'], { ip_allowlist: ['2001:db8::/32'] });
  t.equal((await get(app, key.key, '2001:db8::5')).statusCode, 200);
  t.equal((await get(app, key.key, '127.0.0.1')).json().code, 'ip_not_allowed');
  t.equal((await get(app, r.token, '127.0.0.1')).statusCode, 200, 'the owner session is not affected');
  const bad = await app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: bearer(r.token),
    payload: { name: 'x', scopes: ['account:read'], ip_allowlist: ['300.1.1.1'] },
  });
  t.equal(bad.statusCode, 422);
  t.equal(bad.json().code, 'invalid_allowlist');
});

t.test('R-SEC-4: setting a list that excludes the caller needs confirm: true', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const lockout = await app.inject({
    method: 'PUT',
    url: '/v1/account/ip-allowlist',
    headers: bearer(r.token),
    payload: { entries: ['192.0.2.0/24'] },
  });
  t.equal(lockout.statusCode, 422);
  t.equal(lockout.json().code, 'allowlist_would_lock_out');
  t.equal((await get(app, r.token, '127.0.0.1')).statusCode, 200, 'nothing was changed');
  const cleared = await app.inject({
    method: 'PUT',
    url: '/v1/account/ip-allowlist',
    headers: bearer(r.token),
    payload: { entries: [] },
  });
  t.same(cleared.json().entries, [], 'an empty list means any address');
});

t.test("R-SEC-4: an operator undoes an account's lock-out, which no credential of the account can", async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const locked = await app.inject({
    method: 'PUT',
    url: '/v1/account/ip-allowlist',
    headers: bearer(r.token),
    payload: { entries: ['192.0.2.0/24'], confirm: true },
  });
  t.equal(locked.statusCode, 200);
  t.equal((await get(app, r.token, '127.0.0.1')).json().code, 'ip_not_allowed', 'locked out');
  const byReseller = await app.inject({
    method: 'PUT',
    url: `/v1/admin/accounts/${r.accountId}/ip-allowlist`,
    headers: bearer(r.token),
    payload: { entries: [] },
    remoteAddress: '192.0.2.1',
  });
  t.equal(byReseller.statusCode, 403, "the route is the operators' alone");
  const bad = await app.inject({
    method: 'PUT',
    url: `/v1/admin/accounts/${r.accountId}/ip-allowlist`,
    headers: bearer(op.token),
    payload: { entries: ['300.1.2.3'] },
  });
  t.equal(bad.statusCode, 422);
  const reopened = await app.inject({
    method: 'PUT',
    url: `/v1/admin/accounts/${r.accountId}/ip-allowlist`,
    headers: bearer(op.token),
    payload: { entries: ['127.0.0.0/8'] },
  });
  t.equal(reopened.statusCode, 200);
  t.same(reopened.json().entries, ['127.0.0.0/8']);
  t.equal((await get(app, r.token, '127.0.0.1')).statusCode, 200, 'in again at once');
  t.equal((await get(app, r.token, '192.0.2.1')).statusCode, 403, 'and only from the new list');
  const missing = await app.inject({
    method: 'PUT',
    url: '/v1/admin/accounts/6f1c1f0e-63a7-4f0a-9a55-0d2b6a1f4e11/ip-allowlist',
    headers: bearer(op.token),
    payload: { entries: [] },
  });
  t.equal(missing.statusCode, 404);
});

t.test('R-SEC-4: X-Forwarded-For counts only from a trusted proxy', async (t) => {
  const trusted = await buildTestApp(t, { env: { TRUST_PROXY: '10.0.0.0/8' } });
  const op = await operator(trusted.app);
  const r = await reseller(trusted.app, op.token);
  await trusted.app.inject({
    method: 'PUT',
    url: '/v1/account/ip-allowlist',
    headers: bearer(r.token),
    payload: { entries: ['198.51.100.0/24'], confirm: true },
  });
  const viaProxy = await get(trusted.app, r.token, '10.1.2.3', { 'x-forwarded-for': '198.51.100.20' });
  t.equal(viaProxy.statusCode, 200, 'a trusted proxy reports the client address');
  const spoofed = await get(trusted.app, r.token, '192.0.2.50', { 'x-forwarded-for': '198.51.100.20' });
  t.equal(spoofed.statusCode, 403, 'an untrusted peer cannot claim an address');
});

t.test('hardening-9 / R-SEC-4: IPv4-mapped IPv6 entries are stored as IPv4 and let the address in', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const key = await apiKey(app, r.token, ['account:read'], {
    ip_allowlist: ['::ffff:127.0.0.1', '::ffff:203.0.113.0/120'],
  });
  const shown = await app.inject({ method: 'GET', url: `/v1/api-keys/${key.id}`, headers: bearer(r.token) });
  t.same(shown.json().ip_allowlist, ['127.0.0.1/32', '203.0.113.0/24']);
  t.equal((await get(app, key.key, '127.0.0.1')).statusCode, 200, 'the key is not locked out');
  t.equal((await get(app, key.key, '::ffff:127.0.0.1')).statusCode, 200, 'from the mapped form either');
  t.equal((await get(app, key.key, '203.0.113.40')).statusCode, 200);
  t.equal((await get(app, key.key, '198.51.100.1')).statusCode, 403);

  const account = await app.inject({
    method: 'PUT',
    url: '/v1/account/ip-allowlist',
    headers: bearer(r.token),
    payload: { entries: ['::ffff:127.0.0.1'] },
  });
  t.equal(account.statusCode, 200, 'the caller at 127.0.0.1 is in it: no confirmation needed');
  t.same(account.json().entries, ['127.0.0.1/32']);
  const tech = await addUser(app, r.token, 'technical', { ip_allowlist: ['::ffff:192.0.2.0/120'] });
  const user = await app.inject({ method: 'GET', url: `/v1/users/${tech.id}`, headers: bearer(r.token) });
  t.same(user.json().ip_allowlist, ['192.0.2.0/24']);
});

t.test('hardening-9 / R-SEC-4: an entry with a zone id is refused with 422 and a pointer to it', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const cases: [string, string, Record<string, unknown>, string][] = [
    [
      'POST',
      '/v1/api-keys',
      { name: 'x', scopes: ['account:read'], ip_allowlist: ['10.0.0.0/8', 'fe80::1%eth0'] },
      '/body/ip_allowlist/1',
    ],
    ['PUT', '/v1/account/ip-allowlist', { entries: ['fe80::%eth0/64'], confirm: true }, '/body/entries/0'],
  ];
  for (const [method, url, payload, pointer] of cases) {
    const res = await app.inject({ method: method as 'POST' | 'PUT', url, headers: bearer(r.token), payload });
    t.equal(res.statusCode, 422, url);
    t.equal(res.json().code, 'invalid_allowlist');
    t.same(
      res.json().errors.map((e: { pointer: string }) => e.pointer),
      [pointer],
    );
    t.match(res.json().errors[0].message, /zone id/);
  }
  t.same(
    (await app.inject({ method: 'GET', url: '/v1/account/ip-allowlist', headers: bearer(r.token) })).json().entries,
    [],
    'nothing was stored',
  );
});

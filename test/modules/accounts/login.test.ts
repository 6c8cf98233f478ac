import t from 'tap';
import { eq } from 'drizzle-orm';
import { loginNameFailures, sessions, users } from '../../../src/db/schema/index.js';
import { buildTestApp } from '../../helpers/app.js';
import { bearer, loginAs, operator, OTHER_STRONG_PASSWORD, reseller, STRONG_PASSWORD } from '../../helpers/fixtures.js';

const login = (
  app: Awaited<ReturnType<typeof buildTestApp>>['app'],
  username: string,
  password: string,
  remoteAddress = '127.0.0.1',
) => app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username, password }, remoteAddress });

t.test('R-SEC-5: login returns an opaque 48 h bearer token that authenticates, stored only as a hash', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const res = await login(app, r.ownerUsername, STRONG_PASSWORD);
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.match(body.token, /^rst_[A-Za-z0-9_-]{43}$/);
  t.equal(body.token_type, 'Bearer');
  const hours = (Date.parse(body.expires_at) - Date.now()) / 3_600_000;
  t.ok(hours > 47.9 && hours <= 48, `expires in 48 h (${hours.toFixed(2)})`);
  const [row] = await store.db.select().from(sessions).where(eq(sessions.id, body.session_id));
  t.not(row?.tokenHash, body.token, 'the token itself is not stored');
  t.match(row?.tokenHash, /^[0-9a-f]{64}$/);
  const me = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(body.token) });
  t.equal(me.statusCode, 200);
  t.equal(me.json().id, r.accountId);
  for (const scheme of ['bearer', 'BEARER']) {
    const any = await app.inject({
      method: 'GET',
      url: '/v1/account',
      headers: { authorization: `${scheme} ${body.token}` },
    });
    t.equal(any.statusCode, 200, `the scheme's name is case-insensitive (RFC 9110): ${scheme}`);
  }
});

t.test('R-SEC-2: a wrong password and an unknown user answer the same 401', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const wrong = await login(app, r.ownerUsername, 'not-the-password-at-all');
  const unknown = await login(app, 'nobody-here', 'not-the-password-at-all');
  t.equal(wrong.statusCode, 401);
  t.equal(unknown.statusCode, 401);
  t.equal(wrong.json().code, 'invalid_credentials');
  t.equal(unknown.json().code, 'invalid_credentials');
  t.equal(wrong.json().detail, unknown.json().detail, 'no hint whether the user exists');
});

t.test(
  'R-API-5: consecutive failures lock the user, even against the right password, then the lock lifts',
  async (t) => {
    const { app, store } = await buildTestApp(t, { env: { LOGIN_MAX_FAILURES_PER_USER: '3', LOGIN_LOCKOUT_S: '600' } });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    for (let i = 0; i < 3; i++)
      t.equal((await login(app, r.ownerUsername, 'wrong-password-guess')).statusCode, 401, `failure ${i + 1}`);
    const locked = await login(app, r.ownerUsername, STRONG_PASSWORD);
    t.equal(locked.statusCode, 429);
    t.equal(locked.json().code, 'login_locked');
    const retry = Number(locked.headers['retry-after']);
    t.ok(retry > 590 && retry <= 600, `Retry-After ${retry}`);
    const [shown] = await store.db
      .select({ lockedUntil: users.lockedUntil })
      .from(users)
      .where(eq(users.id, r.ownerId));
    t.ok(shown?.lockedUntil, 'the lock shows on the user');
    // The lock is a time in the database: move it into the past instead of waiting.
    await store.db
      .update(loginNameFailures)
      .set({ lockedUntil: new Date(Date.now() - 1000) })
      .where(eq(loginNameFailures.username, r.ownerUsername.toLowerCase()));
    t.equal(
      (await login(app, r.ownerUsername, STRONG_PASSWORD)).statusCode,
      200,
      'after the lock, the right password works',
    );
  },
);

t.test('R-API-5: failures from one address lock that address, not others', async (t) => {
  const { app } = await buildTestApp(t, {
    env: { LOGIN_MAX_FAILURES_PER_ADDRESS: '4', LOGIN_MAX_FAILURES_PER_USER: '100' },
  });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  for (let i = 0; i < 4; i++) await login(app, `guess-${i}`, 'wrong-password-guess', '198.51.100.7');
  const fromAttacker = await login(app, r.ownerUsername, STRONG_PASSWORD, '198.51.100.7');
  t.equal(fromAttacker.statusCode, 429);
  t.equal(fromAttacker.json().code, 'login_locked');
  t.equal(
    (await login(app, r.ownerUsername, STRONG_PASSWORD, '198.51.100.8')).statusCode,
    200,
    'another address is unaffected',
  );
});

t.test('R-SEC-5: an expired token is refused', async (t) => {
  const { app, store } = await buildTestApp(t, { env: { AUTH_CACHE_TTL_MS: '0' } });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const s = await loginAs(app, r.ownerUsername);
  await store.db
    .update(sessions)
    .set({ expiresAt: new Date(Date.now() - 1) })
    .where(eq(sessions.id, s.session_id));
  const res = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(s.token) });
  t.equal(res.statusCode, 401);
  t.equal(res.json().code, 'token_expired');
});

t.test('R-SEC-5: logout and session revocation take effect at once', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const a = await loginAs(app, r.ownerUsername);
  const b = await loginAs(app, r.ownerUsername);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(a.token) })).statusCode,
    200,
    'token a works (and is cached)',
  );

  const list = await app.inject({ method: 'GET', url: '/v1/auth/sessions', headers: bearer(b.token) });
  const ids = list.json().data.map((s: { id: string }) => s.id);
  t.ok(ids.includes(a.session_id) && ids.includes(b.session_id));
  t.equal(list.json().data.find((s: { id: string }) => s.id === b.session_id).current, true);

  t.equal(
    (await app.inject({ method: 'DELETE', url: `/v1/auth/sessions/${a.session_id}`, headers: bearer(b.token) }))
      .statusCode,
    204,
  );
  const revoked = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(a.token) });
  t.equal(revoked.statusCode, 401);
  t.equal(revoked.json().code, 'credential_revoked');

  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(b.token) })).statusCode, 204);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(b.token) })).json().code,
    'credential_revoked',
  );
});

t.test('R-SEC-5: a missing or unknown credential is 401 with WWW-Authenticate', async (t) => {
  const { app } = await buildTestApp(t);
  const none = await app.inject({ method: 'GET', url: '/v1/account' });
  t.equal(none.statusCode, 401);
  t.equal(none.json().code, 'authentication_required');
  t.match(none.headers['www-authenticate'], 'Bearer');
  const bogus = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer('rst_not-a-real-token') });
  t.equal(bogus.json().code, 'invalid_credentials');
  const basic = await app.inject({
    method: 'GET',
    url: '/v1/account',
    headers: { authorization: 'Basic dXNlcjpwYXNz' },
  });
  t.equal(basic.statusCode, 401, 'the account password is never accepted per call');
});

t.test('R-SEC-2: weak passwords are refused with reasons; changing needs the current one', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  for (const weak of ['short1!', 'password12345', `${r.ownerUsername}2024`]) {
    const res = await app.inject({
      method: 'PUT',
      url: `/v1/users/${r.ownerId}/password`,
      headers: bearer(r.token),
      payload: { current_password: STRONG_PASSWORD, new_password: weak },
    });
    t.equal(res.statusCode, 422, `refuses ${weak}`);
    t.equal(res.json().code, 'weak_password');
    t.equal(res.json().errors[0].pointer, '/body/new_password');
  }
  const wrongCurrent = await app.inject({
    method: 'PUT',
    url: `/v1/users/${r.ownerId}/password`,
    headers: bearer(r.token),
    payload: { current_password: 'nope-nope-nope', new_password: OTHER_STRONG_PASSWORD },
  });
  t.equal(wrongCurrent.json().code, 'wrong_password');

  const other = await loginAs(app, r.ownerUsername);
  const ok = await app.inject({
    method: 'PUT',
    url: `/v1/users/${r.ownerId}/password`,
    headers: bearer(r.token),
    payload: { current_password: STRONG_PASSWORD, new_password: OTHER_STRONG_PASSWORD },
  });
  t.equal(ok.statusCode, 204);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(other.token) })).statusCode,
    401,
    'other sessions are signed out',
  );
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) })).statusCode,
    200,
    'the session that changed it stays',
  );
  t.equal((await login(app, r.ownerUsername, STRONG_PASSWORD)).statusCode, 401, 'the old password is gone');
  t.equal((await login(app, r.ownerUsername, OTHER_STRONG_PASSWORD)).statusCode, 200);
});

t.test('R-SEC-2: passwords are stored with argon2id', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const [row] = await store.db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, r.ownerId));
  // PHC parameters in either order: argon2 writes m,p,t; hashes from @node-rs/argon2 say m,t,p.
  t.match(row?.hash, /^\$argon2id\$v=19\$m=19456,(t=2,p=1|p=1,t=2)\$/);
});

t.test('expired login tokens are kept a week, then the sessions job deletes them', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const { session_id } = await loginAs(app, op.username);
  const [s] = await store.db.select().from(sessions).where(eq(sessions.id, session_id));
  const week = 7 * 86_400_000;
  t.equal(
    await app.jobs.run('sweep-sessions', new Date(s!.expiresAt.getTime() + week - 1000)),
    0,
    'within the week after expiry it stays',
  );
  t.equal(
    await app.jobs.run('sweep-sessions', new Date(s!.expiresAt.getTime() + week + 1000)),
    2,
    "the operator's two logins",
  );
  t.equal((await store.db.select().from(sessions).where(eq(sessions.id, session_id))).length, 0);
});

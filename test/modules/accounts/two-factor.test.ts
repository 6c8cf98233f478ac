import t from 'tap';
import { eq } from 'drizzle-orm';
import { accounts, users } from '../../../src/db/schema/index.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { addUser, apiKey, bearer, loginAs, operator, reseller, STRONG_PASSWORD, totp } from '../../helpers/fixtures.js';

async function enrol(app: TestApp['app'], token: string, userId: string) {
  const start = await app.inject({ method: 'POST', url: `/v1/users/${userId}/two-factor`, headers: bearer(token) });
  if (start.statusCode !== 200) throw new Error(start.body);
  const { secret, otpauth_uri } = start.json();
  const confirm = await app.inject({
    method: 'POST',
    url: `/v1/users/${userId}/two-factor/confirm`,
    headers: bearer(token),
    payload: { code: totp(secret) },
  });
  if (confirm.statusCode !== 200) throw new Error(confirm.body);
  return { secret, otpauthUri: otpauth_uri as string, recoveryCodes: confirm.json().recovery_codes as string[] };
}

/** PATCH /v1/account switching require_two_factor on (with other fields, if given). */
const requireTwoFactor = (app: TestApp['app'], token: string, extra: Record<string, unknown> = {}) =>
  app.inject({
    method: 'PATCH',
    url: '/v1/account',
    headers: bearer(token),
    payload: { require_two_factor: true, ...extra },
  });
const readAccount = (app: TestApp['app'], token: string) =>
  app.inject({ method: 'GET', url: '/v1/account', headers: bearer(token) });

const login = (app: TestApp['app'], username: string, extra: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username, password: STRONG_PASSWORD, ...extra } });

t.test(
  'R-SEC-3: enrolment gives a secret and URI, a wrong code does not confirm, the right one returns 10 recovery codes',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const start = await app.inject({
      method: 'POST',
      url: `/v1/users/${r.ownerId}/two-factor`,
      headers: bearer(r.token),
    });
    t.equal(start.statusCode, 200);
    const { secret, otpauth_uri } = start.json();
    t.match(otpauth_uri, /^otpauth:\/\/totp\/reseller-api:.+\?.*secret=/);
    const [row] = await store.db.select({ s: users.totpSecret }).from(users).where(eq(users.id, r.ownerId));
    t.notMatch(row?.s ?? '', secret, 'the secret is stored sealed, not in clear');

    const wrongCode = totp(secret, Date.now() - 10 * 60_000);
    const wrong = await app.inject({
      method: 'POST',
      url: `/v1/users/${r.ownerId}/two-factor/confirm`,
      headers: bearer(r.token),
      payload: { code: wrongCode },
    });
    t.equal(wrong.statusCode, 401);
    t.equal(wrong.json().code, 'invalid_two_factor_code');

    const ok = await app.inject({
      method: 'POST',
      url: `/v1/users/${r.ownerId}/two-factor/confirm`,
      headers: bearer(r.token),
      payload: { code: totp(secret) },
    });
    t.equal(ok.statusCode, 200);
    const codes = ok.json().recovery_codes;
    t.equal(codes.length, 10);
    t.equal(new Set(codes).size, 10, 'codes are distinct');
    const me = await app.inject({ method: 'GET', url: `/v1/users/${r.ownerId}`, headers: bearer(r.token) });
    t.equal(me.json().two_factor_enabled, true);
  },
);

t.test('R-SEC-3: with 2FA on, login needs a code; a wrong or replayed code is refused', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const { secret } = await enrol(app, r.token, r.ownerId);

  const none = await login(app, r.ownerUsername);
  t.equal(none.statusCode, 401);
  t.equal(none.json().code, 'two_factor_required');

  const wrong = await login(app, r.ownerUsername, { totp_code: totp(secret, Date.now() - 5 * 60_000) });
  t.equal(wrong.json().code, 'invalid_two_factor_code');

  // The confirm step consumed the current step's code; the next step's code is fresh.
  const next = totp(secret, Date.now() + 30_000);
  const ok = await login(app, r.ownerUsername, { totp_code: next });
  t.equal(ok.statusCode, 200);
  const replay = await login(app, r.ownerUsername, { totp_code: next });
  t.equal(replay.statusCode, 401, 'a code is accepted once');
  t.equal(replay.json().code, 'invalid_two_factor_code');
});

t.test('R-SEC-3: a recovery code works once', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const { recoveryCodes } = await enrol(app, r.token, r.ownerId);
  const code = recoveryCodes[3]!;
  t.equal(
    (await login(app, r.ownerUsername, { recovery_code: code.toUpperCase() })).statusCode,
    200,
    'case and dashes do not matter',
  );
  const again = await login(app, r.ownerUsername, { recovery_code: code });
  t.equal(again.statusCode, 401);
  t.equal(again.json().code, 'invalid_two_factor_code');
  t.equal(
    (await login(app, r.ownerUsername, { recovery_code: recoveryCodes[4]! })).statusCode,
    200,
    'another code still works',
  );
});

t.test(
  'R-SEC-3: require_two_factor needs 2FA on the one who sets it, and sends users without it to enrolment',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const tech = await addUser(app, r.token, 'technical');

    const early = await requireTwoFactor(app, r.token);
    t.equal(early.statusCode, 409);
    t.equal(early.json().code, 'two_factor_needed_for_policy');

    await enrol(app, r.token, r.ownerId);
    // R-API-2: the identical command failed a moment ago, so it is refused unaltered even now.
    const repeat = await requireTwoFactor(app, r.token);
    t.equal(repeat.json().code, 'repeated_failed_command');
    const set = await requireTwoFactor(app, r.token, { country: 'DE' });
    t.equal(set.statusCode, 200);
    t.equal(set.json().require_two_factor, true);

    const blocked = await login(app, tech.username);
    t.equal(blocked.statusCode, 403);
    t.equal(blocked.json().code, 'two_factor_enrolment_required');
    const enrolmentToken = blocked.json().enrolment_token;
    t.match(enrolmentToken, /^rst_/);

    const other = await readAccount(app, enrolmentToken);
    t.equal(other.statusCode, 403, 'the enrolment token opens nothing else');
    t.equal(other.json().code, 'two_factor_enrolment_required');

    const { secret } = await enrol(app, enrolmentToken, tech.id);
    const afterEnrol = await readAccount(app, enrolmentToken);
    t.equal(afterEnrol.statusCode, 401, 'the enrolment token is spent once 2FA is on');
    const ok = await login(app, tech.username, { totp_code: totp(secret, Date.now() + 30_000) });
    t.equal(ok.statusCode, 200);
  },
);

t.test(
  'R-SEC-3: a user held to enrolment cannot lift the requirement with a key made before it was switched on',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const admin = await addUser(app, r.token, 'admin');
    const adminKey = await apiKey(app, (await loginAs(app, admin.username)).token, ['account:read', 'account:write']);
    await enrol(app, r.token, r.ownerId);
    t.equal((await requireTwoFactor(app, r.token)).statusCode, 200);

    const patch = (payload: object) =>
      app.inject({ method: 'PATCH', url: '/v1/account', headers: bearer(adminKey.key), payload });
    const lift = await patch({ require_two_factor: false });
    t.equal(lift.statusCode, 409);
    t.equal(lift.json().code, 'two_factor_needed_for_policy');
    t.equal((await readAccount(app, r.token)).json().require_two_factor, true, 'still required');
    t.equal((await login(app, admin.username)).json().code, 'two_factor_enrolment_required');
    t.equal((await patch({ country: 'DE' })).statusCode, 200, 'the key still edits what the policy does not cover');
    const lifted = await app.inject({
      method: 'PATCH',
      url: '/v1/account',
      headers: bearer(r.token),
      payload: { require_two_factor: false },
    });
    t.equal(lifted.statusCode, 200, 'the owner, who has 2FA, lifts it');
    t.equal(lifted.json().require_two_factor, false);
  },
);

t.test(
  'R-SEC-3: requiring 2FA signs out the sessions of users without it; their keys and the sessions of users with it stay',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const tech = await addUser(app, r.token, 'technical');
    const techSession = await loginAs(app, tech.username);
    const techKey = await apiKey(app, techSession.token, ['domains:read']);
    const { secret: ownerSecret } = await enrol(app, r.token, r.ownerId);
    const ownerSecondSession = await login(app, r.ownerUsername, { totp_code: totp(ownerSecret, Date.now() + 30_000) });
    t.equal(ownerSecondSession.statusCode, 200);

    t.equal((await readAccount(app, techSession.token)).statusCode, 200, 'open before the policy (and cached)');

    const set = await requireTwoFactor(app, r.token);
    t.equal(set.statusCode, 200);
    const out = await readAccount(app, techSession.token);
    t.equal(out.statusCode, 401, 'the session of a user without 2FA is revoked at once');
    t.equal((await readAccount(app, r.token)).statusCode, 200, 'the session of the one with 2FA stays');
    t.equal((await readAccount(app, ownerSecondSession.json().token)).statusCode, 200);
    const withKey = await app.inject({ method: 'GET', url: '/v1/domains', headers: bearer(techKey.key) });
    t.equal(withKey.statusCode, 200, 'API keys are machine credentials and are kept');
    const again = await login(app, tech.username);
    t.equal(again.json().code, 'two_factor_enrolment_required', 'logging in again leads to enrolment');

    // The form sent again with the requirement still on signs nobody out: not the enrolment under
    // way, and not a session of a user without 2FA that exists by other means.
    const enrolment = again.json().enrolment_token as string;
    const resent = await requireTwoFactor(app, r.token, { country: 'DE' });
    t.equal(resent.statusCode, 200);
    const started = await app.inject({
      method: 'POST',
      url: `/v1/users/${tech.id}/two-factor`,
      headers: bearer(enrolment),
    });
    t.equal(started.statusCode, 200, 'the enrolment token still works');
  },
);

t.test(
  'R-SEC-3: under require_two_factor, a session of a user without 2FA opens nothing but enrolment, however it was made',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const tech = await addUser(app, r.token, 'technical');
    await enrol(app, r.token, r.ownerId);
    // A login that raced the requirement being switched on: its session was issued as a full one.
    const raced = await loginAs(app, tech.username);
    await store.db.update(accounts).set({ requireTwoFactor: true }).where(eq(accounts.id, r.accountId));
    app.credentialCache.revoke({ accountId: r.accountId });
    const denied = await readAccount(app, raced.token);
    t.equal(denied.statusCode, 403);
    t.equal(denied.json().code, 'two_factor_enrolment_required');
    const { secret } = await enrol(app, raced.token, tech.id);
    t.ok(secret, 'it can still enrol');
    t.equal(
      (await readAccount(app, raced.token)).statusCode,
      200,
      'and once 2FA is on (a current code confirmed), it opens the rest again',
    );
  },
);

t.test("R-SEC-3: under require_two_factor, turning a user's 2FA off signs out that user's sessions", async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const tech = await addUser(app, r.token, 'technical');
  const techLogin = await loginAs(app, tech.username);
  const { secret } = await enrol(app, techLogin.token, tech.id);
  await enrol(app, r.token, r.ownerId);
  const set = await requireTwoFactor(app, r.token);
  t.equal(set.statusCode, 200);
  const techSession = await login(app, tech.username, { totp_code: totp(secret, Date.now() + 30_000) });
  t.equal(techSession.statusCode, 200);
  const token = techSession.json().token as string;
  t.equal((await readAccount(app, token)).statusCode, 200);

  const reset = await app.inject({
    method: 'DELETE',
    url: `/v1/users/${tech.id}/two-factor`,
    headers: bearer(r.token),
    payload: {},
  });
  t.equal(reset.statusCode, 204);
  const after = await readAccount(app, token);
  t.equal(after.statusCode, 401, 'no session of a user without 2FA in an account that requires it');
  t.equal((await login(app, tech.username)).json().code, 'two_factor_enrolment_required');
  t.equal((await readAccount(app, r.token)).statusCode, 200, "the admin's own session stays");
});

t.test('R-SEC-3: disabling needs a current code for yourself; an admin can reset another user', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const tech = await addUser(app, r.token, 'technical');
  const techLogin = await loginAs(app, tech.username);
  const { secret } = await enrol(app, techLogin.token, tech.id);

  const noCode = await app.inject({
    method: 'DELETE',
    url: `/v1/users/${tech.id}/two-factor`,
    headers: bearer(techLogin.token),
    payload: {},
  });
  t.equal(noCode.json().code, 'invalid_two_factor_code');
  const selfOff = await app.inject({
    method: 'DELETE',
    url: `/v1/users/${tech.id}/two-factor`,
    headers: bearer(techLogin.token),
    payload: { code: totp(secret, Date.now() + 30_000) },
  });
  t.equal(selfOff.statusCode, 204);

  const again = await enrol(app, techLogin.token, tech.id);
  t.ok(again.secret);
  const reset = await app.inject({
    method: 'DELETE',
    url: `/v1/users/${tech.id}/two-factor`,
    headers: bearer(r.token),
  });
  t.equal(reset.statusCode, 204, 'the owner resets it without a code');
  t.equal((await login(app, tech.username)).statusCode, 200, 'and the user logs in with the password alone');

  const notSelf = await app.inject({
    method: 'POST',
    url: `/v1/users/${tech.id}/two-factor`,
    headers: bearer(r.token),
  });
  t.equal(notSelf.statusCode, 403, 'nobody enrols a second factor for someone else');
});

t.test(
  'R-SEC-3 / R-SEC-2: an operator enrols a second factor, then logs in with it, and changes their own password; never reaches another user',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const other = await operator(app);
    const r = await reseller(app, op.token);

    const me = await app.inject({ method: 'GET', url: `/v1/users/${op.userId}`, headers: bearer(op.token) });
    t.equal(me.statusCode, 200, 'an operator reads their own user');
    t.same([me.json().role, me.json().account_id, me.json().two_factor_enabled], ['operator', null, false]);
    for (const target of [other.userId, r.ownerId]) {
      for (const [method, path] of [
        ['GET', ''],
        ['POST', '/two-factor'],
        ['DELETE', '/two-factor'],
      ] as const) {
        const res = await app.inject({
          method,
          url: `/v1/users/${target}${path}`,
          headers: bearer(op.token),
          payload: {},
        });
        t.equal(res.statusCode, 404, `${method} /v1/users/{id}${path}: another user is not found`);
      }
    }

    const { secret, recoveryCodes } = await enrol(app, op.token, op.userId);
    t.equal(recoveryCodes.length, 10);
    const none = await login(app, op.username);
    t.equal(none.statusCode, 401, 'with 2FA on, the password alone no longer logs the operator in');
    t.equal(none.json().code, 'two_factor_required');
    const withCode = await login(app, op.username, { totp_code: totp(secret, Date.now() + 30_000) });
    t.equal(withCode.statusCode, 200, 'the password and a current code do');

    const changed = await app.inject({
      method: 'PUT',
      url: `/v1/users/${op.userId}/password`,
      headers: bearer(op.token),
      payload: { current_password: STRONG_PASSWORD, new_password: 'amber-Quarry-falcon-93%ridge' },
    });
    t.equal(changed.statusCode, 204, 'the operator changes their own password');
    const oldPassword = await login(app, op.username, { totp_code: totp(secret, Date.now() - 30_000) });
    t.equal(oldPassword.statusCode, 401, 'the old password no longer works');
    const newPassword = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: op.username, password: 'amber-Quarry-falcon-93%ridge', recovery_code: recoveryCodes[0]! },
    });
    t.equal(newPassword.statusCode, 200, 'the new one does, with a recovery code');
  },
);

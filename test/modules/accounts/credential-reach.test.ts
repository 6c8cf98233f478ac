// R-SEC-8 / R-SEC-1: nobody acts on the credentials of a user whose role they could not assign, and
// every operation on a user's own credentials needs its permission (an API key: its scope).
import t from 'tap';
import { buildTestApp } from '../../helpers/app.js';
import {
  addUser,
  apiKey,
  bearer,
  loginAs,
  OTHER_STRONG_PASSWORD,
  operator,
  reseller,
  totp,
} from '../../helpers/fixtures.js';
import { applyOperationPermission } from '../../../src/modules/accounts/operation-permissions.js';
import { ROLE_PERMISSIONS } from '../../../src/modules/accounts/permissions.js';

const { app } = await buildTestApp(t);
const op = await operator(app);
const r = await reseller(app, op.token);
const admin = await addUser(app, r.token, 'admin');
const adminToken = (await loginAs(app, admin.username)).token;
const tech = await addUser(app, r.token, 'technical');
const techToken = (await loginAs(app, tech.username)).token;
const ownerKey = await apiKey(app, r.token, ['domains:read']);
const techKey = await apiKey(app, techToken, ['domains:read']);
const adminKey = await apiKey(app, adminToken, ['users:read', 'users:write', 'api_keys:read', 'api_keys:write']);

const call = (token: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
  app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });

t.test(
  "hardening-1 / R-SEC-8: an admin cannot read, rotate or revoke an owner's API key, by login or with its own key",
  async (t) => {
    for (const [who, token] of [
      ['admin login', adminToken],
      ['admin key with users:write + api_keys:write', adminKey.key],
    ] as const) {
      const rotate = await call(token, 'POST', `/v1/api-keys/${ownerKey.id}/rotate`);
      t.equal(rotate.statusCode, 403, `${who}: rotate`);
      t.equal(rotate.json().code, 'role_not_assignable');
      t.notOk(rotate.json().secret, 'no secret handed out');
      t.equal((await call(token, 'GET', `/v1/api-keys/${ownerKey.id}`)).statusCode, 403, `${who}: read`);
      t.equal((await call(token, 'DELETE', `/v1/api-keys/${ownerKey.id}`)).statusCode, 403, `${who}: revoke`);
      const listed = (await call(token, 'GET', '/v1/api-keys')).json().data.map((k: { id: string }) => k.id);
      t.notOk(listed.includes(ownerKey.id), `${who}: the owner's key is not in the list`);
      t.ok(listed.includes(techKey.id), `${who}: a technical user's key is`);
    }
    t.equal(
      (await call(ownerKey.key, 'GET', '/v1/domains')).statusCode,
      200,
      "the owner's key still works: nothing was rotated or revoked",
    );
    const makeOwner = await call(adminToken, 'POST', '/v1/users', {
      username: 'would-be-owner',
      email: 'o@hosting.test',
      name: 'O',
      role: 'owner',
      password: OTHER_STRONG_PASSWORD,
    });
    t.equal(makeOwner.json().code, 'role_not_assignable', 'and no owner is made');

    const rotated = await call(adminToken, 'POST', `/v1/api-keys/${techKey.id}/rotate`);
    t.equal(rotated.statusCode, 200, "an admin still rotates a technical user's key");
    t.ok(rotated.json().secret);
    t.equal(
      (await call(r.token, 'POST', `/v1/api-keys/${adminKey.id}/rotate`)).statusCode,
      200,
      "an owner rotates an admin's key",
    );
    t.equal(
      (await call(techToken, 'GET', `/v1/api-keys/${ownerKey.id}`)).json().code,
      'role_not_assignable',
      "a technical user reaches nobody else's key",
    );
  },
);

t.test(
  "hardening-1 / R-SEC-8: second factor, e-mail and password of an owner are out of an admin's reach, alike",
  async (t) => {
    const password = await call(adminToken, 'PUT', `/v1/users/${r.ownerId}/password`, {
      new_password: OTHER_STRONG_PASSWORD,
    });
    const twoFactor = await call(adminToken, 'DELETE', `/v1/users/${r.ownerId}/two-factor`, {});
    const email = await call(adminToken, 'PATCH', `/v1/users/${r.ownerId}`, { email: 'attacker@evil.test' });
    for (const [what, res] of [
      ['password reset', password],
      ['second factor reset', twoFactor],
      ['e-mail change', email],
    ] as const) {
      t.equal(res.statusCode, 403, what);
      t.equal(res.json().code, 'role_not_assignable', `${what}: the same refusal`);
    }
    t.equal(
      (await call(r.token, 'GET', `/v1/users/${r.ownerId}`)).json().email,
      `${r.ownerUsername}@hosting.test`,
      'the e-mail is unchanged',
    );

    t.equal(
      (await call(adminToken, 'DELETE', `/v1/users/${tech.id}/two-factor`, {})).statusCode,
      204,
      "an admin resets a technical user's second factor",
    );
    t.equal(
      (await call(adminToken, 'PATCH', `/v1/users/${tech.id}`, { email: 'tech@hosting.test' })).statusCode,
      200,
      'and changes their e-mail',
    );
    t.equal(
      (await call(techToken, 'PATCH', `/v1/users/${admin.id}`, { email: 'x@hosting.test' })).json().code,
      'permission_denied',
      'a technical user changes nobody else',
    );
  },
);

t.test(
  "hardening-2 / R-SEC-8: an API key with only domains:read cannot touch its owner's second factor, e-mail, password or sessions",
  async (t) => {
    const session = await loginAs(app, r.ownerUsername);
    const attempts: [string, 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', string, object?][] = [
      ['start two-factor enrolment', 'POST', `/v1/users/${r.ownerId}/two-factor`],
      ['confirm two-factor', 'POST', `/v1/users/${r.ownerId}/two-factor/confirm`, { code: '123456' }],
      ['turn two-factor off', 'DELETE', `/v1/users/${r.ownerId}/two-factor`, {}],
      ['change the e-mail', 'PATCH', `/v1/users/${r.ownerId}`, { email: 'attacker@evil.test' }],
      ['change the password', 'PUT', `/v1/users/${r.ownerId}/password`, { new_password: OTHER_STRONG_PASSWORD }],
      ['read the user', 'GET', `/v1/users/${r.ownerId}`],
      ['list sessions', 'GET', '/v1/auth/sessions'],
      ['revoke a session', 'DELETE', `/v1/auth/sessions/${session.session_id}`],
      ['log out', 'POST', '/v1/auth/logout'],
    ];
    for (const [what, method, url, payload] of attempts) {
      const res = await call(ownerKey.key, method, url, payload);
      t.equal(res.statusCode, 403, what);
      t.equal(res.json().code, 'permission_denied', what);
    }
    t.equal((await call(session.token, 'GET', '/v1/account')).statusCode, 200, "the owner's session was not revoked");

    // With the scope, a key acts on its own user: profile:write enrols its user's second factor.
    const profileKey = await apiKey(app, techToken, ['profile:write']);
    const enrol = await call(profileKey.key, 'POST', `/v1/users/${tech.id}/two-factor`);
    t.equal(enrol.statusCode, 200, 'profile:write enrols your own second factor');
    const confirm = await call(profileKey.key, 'POST', `/v1/users/${tech.id}/two-factor/confirm`, {
      code: totp(enrol.json().secret),
    });
    t.equal(confirm.statusCode, 200);
    t.equal(
      (await call(profileKey.key, 'POST', `/v1/users/${admin.id}/two-factor`)).json().code,
      'permission_denied',
      "but never someone else's",
    );
  },
);

t.test(
  "R-SEC-1 / R-SEC-8: an API key grants no role it does not hold every permission of, and changes no such user's credentials",
  async (t) => {
    const narrow = await apiKey(app, r.token, ['profile:read', 'profile:write', 'users:read', 'users:write']);
    const newUser = (role: string, n: string) => ({
      username: `key-made-${n}`,
      email: `${n}@hosting.test`,
      name: n,
      role,
      password: OTHER_STRONG_PASSWORD,
    });
    for (const role of ['owner', 'admin', 'technical', 'read_only']) {
      const made = await call(narrow.key, 'POST', '/v1/users', newUser(role, `narrow-${role}`));
      t.equal(made.statusCode, 403, `a users:write key makes no ${role}`);
      t.equal(made.json().code, 'role_not_assignable');
    }
    const promote = await call(narrow.key, 'PATCH', `/v1/users/${tech.id}`, { role: 'owner' });
    t.equal(promote.json().code, 'role_not_assignable', 'nor promotes anyone');
    const password = await call(narrow.key, 'PUT', `/v1/users/${tech.id}/password`, {
      new_password: OTHER_STRONG_PASSWORD,
    });
    t.equal(password.statusCode, 403, "nor sets a technical user's password (then logs in as them)");
    t.equal(password.json().code, 'role_not_assignable');
    t.equal(
      (await call(narrow.key, 'GET', `/v1/users/${tech.id}`)).statusCode,
      200,
      'reading users still takes users:read only',
    );

    // A key holding a technical user's permissions (and users:write) makes one, and nothing more.
    const techScopes = [...new Set([...ROLE_PERMISSIONS.technical, 'users:write'])];
    const wide = await apiKey(app, r.token, techScopes);
    t.equal((await call(wide.key, 'POST', '/v1/users', newUser('technical', 'wide-tech'))).statusCode, 201);
    t.equal(
      (await call(wide.key, 'POST', '/v1/users', newUser('admin', 'wide-admin'))).json().code,
      'role_not_assignable',
      'an admin holds audit:read and account:write, which this key does not',
    );
  },
);

t.test('hardening-2: an operation takes its permission from the table, never from the route', async (t) => {
  const route = (operationId: string, config: object = {}) =>
    ({ method: 'GET', url: '/x', schema: { operationId }, config, handler: () => {} }) as unknown as Parameters<
      typeof applyOperationPermission
    >[0];
  t.equal(applyOperationPermission(route('getDomain')), 'domains:read');
  t.throws(
    () => applyOperationPermission(route('getDomain', { permission: 'public' })),
    /permissions live in OPERATION_PERMISSIONS/,
    'an operation of the table whose route names its own permission stops the app',
  );
  t.throws(
    () => applyOperationPermission(route('somethingNew')),
    /add operation somethingNew/,
    'so does an operation missing from the table',
  );
  t.equal(
    applyOperationPermission(route('testOnlyRoute', { permission: 'account:write' })),
    'account:write',
    "a test's own route outside the table names its permission",
  );
});

// Signed requests (R-SEC-5): a forged one learns nothing and changes nothing (hardening-4), and a
// nonce is accepted once whatever is down (hardening-5).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { apiKeys, auditEvents, usedNonces } from '../../../src/db/schema/index.js';
import { buildTestApp } from '../../helpers/app.js';
import { CUSTOMER } from '../../helpers/domains.js';
import { apiKey, bearer, operator, reseller, signed } from '../../helpers/fixtures.js';
import { createPostgresStore } from '../../../src/db/client.js';
import { startPrivatePostgres, startPrivateRedis } from '../../helpers/private-services.js';
import { eventually } from '../../helpers/eventually.js';

type App = Awaited<ReturnType<typeof buildTestApp>>['app'];

// One app for the tests that need no Redis of their own, without the credential cache so that every
// request sees its key's current state; each test makes its own reseller and keys.
const built = buildTestApp(t, { env: { AUTH_CACHE_TTL_MS: '0' } });

/** Correct headers, then the signature replaced by another of the right shape. */
function forged(key: { keyId: string }, method: string, url: string, body = '', opts: { nonce?: string } = {}) {
  const headers = signed({ keyId: key.keyId, secret: randomBytes(32).toString('base64url') }, method, url, body, opts);
  return headers;
}

/** What a caller can see of an answer, minus what differs per request. */
async function seen(
  app: App,
  method: 'GET' | 'PATCH' | 'POST',
  url: string,
  headers: Record<string, string>,
  payload?: string,
  remoteAddress = '127.0.0.1',
) {
  const res = await app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}), remoteAddress });
  const body = res.json<Record<string, unknown>>();
  delete body.instance;
  delete body.request_id;
  return { status: res.statusCode, body };
}

t.test(
  'hardening-4 / R-SEC-5: a forged signature answers the same 401 whatever the key may do, where it may call from, or its account',
  async (t) => {
    const { app } = await built;
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const readOnly = await apiKey(app, r.token, ['account:read']);
    const fenced = await apiKey(app, r.token, ['account:read'], { ip_allowlist: ['203.0.113.0/24'] });
    const revoked = await apiKey(app, r.token, ['account:read']);
    t.equal(
      (await app.inject({ method: 'DELETE', url: `/v1/api-keys/${revoked.id}`, headers: bearer(r.token) })).statusCode,
      200,
    );
    const patch = JSON.stringify({ company_name: 'Forged GmbH' });

    const expected = await seen(app, 'GET', '/v1/account', forged(readOnly, 'GET', '/v1/account'));
    t.equal(expected.status, 401);
    t.equal(expected.body.code, 'signature_invalid');

    const cases: [string, Awaited<ReturnType<typeof seen>>][] = [
      ['an in-scope route', expected],
      ['an out-of-scope read (users:read)', await seen(app, 'GET', '/v1/users', forged(readOnly, 'GET', '/v1/users'))],
      [
        'an out-of-scope change (account:write)',
        await seen(app, 'PATCH', '/v1/account', forged(readOnly, 'PATCH', '/v1/account', patch), patch),
      ],
      [
        'an operator route',
        await seen(app, 'GET', '/v1/admin/accounts', forged(readOnly, 'GET', '/v1/admin/accounts')),
      ],
      [
        'a key whose allowlist excludes the caller',
        await seen(app, 'GET', '/v1/account', forged(fenced, 'GET', '/v1/account')),
      ],
      ['a revoked key', await seen(app, 'GET', '/v1/account', forged(revoked, 'GET', '/v1/account'))],
      [
        'a key id nobody has',
        await seen(app, 'GET', '/v1/account', forged({ keyId: 'k0000000000000000000' }, 'GET', '/v1/account')),
      ],
    ];
    const suspend = await app.inject({
      method: 'POST',
      url: `/v1/admin/accounts/${r.accountId}/suspend`,
      headers: bearer(op.token),
      payload: { reason: 'test' },
    });
    t.equal(suspend.statusCode, 200);
    cases.push(['a suspended account', await seen(app, 'GET', '/v1/account', forged(readOnly, 'GET', '/v1/account'))]);
    for (const [what, answer] of cases) t.same(answer, expected, what);

    // With its real secret, each key meets the check its forgery did not reveal.
    t.equal(
      (await seen(app, 'GET', '/v1/account', signed(readOnly, 'GET', '/v1/account'))).body.code,
      'account_suspended',
    );
    await app.inject({ method: 'POST', url: `/v1/admin/accounts/${r.accountId}/resume`, headers: bearer(op.token) });
    t.equal((await seen(app, 'GET', '/v1/users', signed(readOnly, 'GET', '/v1/users'))).body.code, 'permission_denied');
    t.equal((await seen(app, 'GET', '/v1/account', signed(fenced, 'GET', '/v1/account'))).body.code, 'ip_not_allowed');
    t.equal(
      (await seen(app, 'GET', '/v1/account', signed(fenced, 'GET', '/v1/account'), undefined, '203.0.113.5')).status,
      200,
      'and from inside its allowlist it works',
    );
    const lower = signed(fenced, 'GET', '/v1/account');
    lower.authorization = lower.authorization.replace('HMAC-SHA256 ', 'hmac-sha256 ');
    t.equal(
      (await seen(app, 'GET', '/v1/account', lower, undefined, '203.0.113.5')).status,
      200,
      "the scheme's name is case-insensitive (RFC 9110)",
    );
  },
);

t.test(
  'hardening-4 / R-SEC-5: a forged request changes nothing: no last use, no audit row as the key, no nonce spent',
  async (t) => {
    const { app, store } = await built;
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const key = await apiKey(app, r.token, ['account:read', 'account:write']);
    const body = JSON.stringify({ company_name: 'Forged GmbH' });
    const nonce = randomBytes(16).toString('base64url');

    for (const url of ['/v1/account', '/v1/users']) {
      t.equal(
        (await app.inject({ method: 'GET', url, headers: forged(key, 'GET', url), remoteAddress: '198.51.100.66' }))
          .statusCode,
        401,
      );
    }
    const forgedPatch = await app.inject({
      method: 'PATCH',
      url: '/v1/account',
      headers: forged(key, 'PATCH', '/v1/account', body, { nonce }),
      payload: body,
      remoteAddress: '198.51.100.66',
    });
    t.equal(forgedPatch.json().code, 'signature_invalid');

    const [row] = await store.db.select().from(apiKeys).where(eq(apiKeys.id, key.id));
    t.equal(row?.lastUsedAt, null, 'last_used_at untouched');
    t.equal(row?.lastUsedAddress, null, 'last_used_address untouched');
    t.same(await store.db.select().from(usedNonces).where(eq(usedNonces.keyId, key.keyId)), [], 'no nonce taken');
    const audit = await store.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.operation, 'updateAccount'), eq(auditEvents.address, '198.51.100.66')));
    t.equal(audit.length, 1, 'the forged PATCH is audited');
    t.equal(audit[0]?.credentialId, null, 'but not as the key');
    t.equal(audit[0]?.accountId, null, 'nor as its account');

    // The genuine request with the nonce the forgery carried goes through, and is recorded as the key's use.
    const genuine = await app.inject({
      method: 'PATCH',
      url: '/v1/account',
      headers: signed(key, 'PATCH', '/v1/account', body, { nonce }),
      payload: body,
      remoteAddress: '198.51.100.7',
    });
    t.equal(genuine.statusCode, 200, 'the nonce was not consumed by the forgery');
    // The use is recorded beside the request, not before its answer: wait for the write.
    const readKey = async () => (await store.db.select().from(apiKeys).where(eq(apiKeys.id, key.id)))[0];
    await eventually('the key use recorded', async () => (await readKey())?.lastUsedAt != null, 10_000).catch(() => {});
    const after = await readKey();
    t.ok(after?.lastUsedAt, 'a verified request records its use');
    t.equal(after?.lastUsedAddress, '198.51.100.7');
  },
);

t.test("hardening-4 / R-API-1: forged signatures spend none of the key's rate-limit buckets", async (t) => {
  const { app } = await built;
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const key = await apiKey(app, r.token, ['account:read']);
  const first = await app.inject({ method: 'GET', url: '/v1/account', headers: signed(key, 'GET', '/v1/account') });
  const capacity = Number(first.headers['ratelimit-limit']);
  t.ok(capacity > 0);
  for (let i = 0; i < capacity + 5; i++) {
    const res = await app.inject({ method: 'GET', url: '/v1/account', headers: forged(key, 'GET', '/v1/account') });
    if (res.statusCode !== 401) t.fail(`forgery ${i}: ${res.statusCode}`);
  }
  const after = await app.inject({ method: 'GET', url: '/v1/account', headers: signed(key, 'GET', '/v1/account') });
  t.equal(after.statusCode, 200, `more forgeries than the bucket holds (${capacity}) left the key able to call`);
});

t.test(
  'hardening-5 / R-SEC-5: a signed POST is accepted exactly once, before, during and after a Redis outage',
  async (t) => {
    const redis = await startPrivateRedis(t);
    const { app, store } = await buildTestApp(t, {
      env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `t5:${randomBytes(4).toString('hex')}:` },
    });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const key = await apiKey(app, r.token, ['domains:read', 'domains:write']);
    const post = (headers: Record<string, string>, body: string) =>
      app.inject({ method: 'POST', url: '/v1/contacts', headers, payload: body });
    const contact = (name: string) => JSON.stringify({ ...CUSTOMER, name });
    const contacts = async () =>
      (await app.inject({ method: 'GET', url: '/v1/contacts', headers: bearer(r.token) })).json().data as unknown[];

    const beforeBody = contact('Before Outage');
    const before = signed(key, 'POST', '/v1/contacts', beforeBody);
    t.equal((await post(before, beforeBody)).statusCode, 201, 'accepted once before the outage');
    t.equal((await post(before, beforeBody)).json().code, 'nonce_reused', 'its replay is refused');

    await redis.kill();
    const replayDuring = await post(before, beforeBody);
    t.equal(replayDuring.statusCode, 401, 'during the outage the replay is still refused');
    t.equal(replayDuring.json().code, 'nonce_reused');
    const duringBody = contact('During Outage');
    const during = signed(key, 'POST', '/v1/contacts', duringBody);
    t.equal((await post(during, duringBody)).statusCode, 201, 'a fresh signed request is served during the outage');
    t.equal((await post(during, duringBody)).json().code, 'nonce_reused', 'and its replay refused');

    await startPrivateRedis(t, { port: redis.port });
    for (let i = 0; app.redis?.status !== 'ready'; i++) {
      if (i > 200) throw new Error(`the app did not reconnect to Redis (${app.redis?.status})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    t.equal(
      (await post(before, beforeBody)).json().code,
      'nonce_reused',
      'after the outage, the nonce used before it is refused',
    );
    t.equal((await post(during, duringBody)).json().code, 'nonce_reused', 'and so is the one used during it');

    t.equal((await contacts()).length, 2, 'two contacts, one per accepted nonce');
    t.equal((await store.db.select().from(usedNonces).where(eq(usedNonces.keyId, key.keyId))).length, 2);
  },
);

t.test('hardening-5: used nonces are swept by a job once past their expiry, not by requests', async (t) => {
  const { app, store } = await built;
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const key = await apiKey(app, r.token, ['account:read']);
  const headers = signed(key, 'GET', '/v1/account');
  t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers })).statusCode, 200);
  const [row] = await store.db.select().from(usedNonces).where(eq(usedNonces.keyId, key.keyId));
  t.ok(row);
  t.ok(app.jobs.names().includes('sweep-used-nonces'));
  const stillThere = async () =>
    (await store.db.select().from(usedNonces).where(eq(usedNonces.keyId, key.keyId))).length;
  await app.jobs.run('sweep-used-nonces', new Date(row!.expiresAt.getTime() - 1000));
  t.equal(await stillThere(), 1, 'kept until it expires');
  t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers })).json().code, 'nonce_reused');
  t.ok((await app.jobs.run('sweep-used-nonces', new Date(row!.expiresAt.getTime() + 1000))) >= 1);
  t.equal(await stillThere(), 0, 'deleted after');
});

t.test(
  'hardening-5 / R-SEC-5: while the nonce store cannot answer, signed requests are refused with 503 and Retry-After',
  async (t) => {
    const pg = await startPrivatePostgres(t);
    const store = createPostgresStore(pg.url, { max: 2 });
    t.teardown(() => store.close());
    // The key stays cached for the whole test, so only the nonce needs the database.
    const { app } = await buildTestApp(t, { store, env: { AUTH_CACHE_TTL_MS: '60000' } });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const key = await apiKey(app, r.token, ['account:read']);
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/account', headers: signed(key, 'GET', '/v1/account') })).statusCode,
      200,
    );

    await pg.kill();
    const headers = signed(key, 'GET', '/v1/account');
    const refused = await app.inject({ method: 'GET', url: '/v1/account', headers });
    t.equal(refused.statusCode, 503);
    t.equal(refused.json().code, 'service_unavailable');
    t.ok(Number(refused.headers['retry-after']) > 0, 'with Retry-After');
  },
);

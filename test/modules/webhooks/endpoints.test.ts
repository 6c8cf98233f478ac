// Issue 13 items 3 and 6: webhook endpoints (CRUD, tenancy, event types, the signing secret shown
// once and never again, rotation with a grace period), the SSRF guard at creation and on URL change
// (through the API, with an injected resolver), enabling and disabling by the account and by
// operators, the per-account cap, and the permissions of each role.
import { createHmac } from 'node:crypto';
import { eq } from 'drizzle-orm';
import t from 'tap';
import { Webhook } from 'standardwebhooks';
import { Type } from 'typebox';
import type { App } from '../../../src/app.js';
import { auditEvents, events, webhookEndpoints } from '../../../src/db/schema/index.js';
import type { Resolver } from '../../../src/lib/ssrf-guard.js';
import { defineEventType } from '../../../src/modules/events/api.js';
import { MAX_ENDPOINTS_PER_ACCOUNT } from '../../../src/modules/webhooks/endpoint-service.js';
import { secretKey, signingSecrets } from '../../../src/modules/webhooks/secrets.js';
import { buildTestApp } from '../../helpers/app.js';
import { addUser, apiKey, bearer, loginAs, operator, reseller, type Reseller } from '../../helpers/fixtures.js';

// Types of this test's own, so it does not depend on which areas define theirs.
const PINGED = defineEventType({
  type: 'endpoints_test.pinged',
  group: 'webhooks',
  objectType: 'endpoints_test',
  summary: 'A test event type',
  data: Type.Object({}),
});
const PONGED = defineEventType({ ...PINGED, type: 'endpoints_test.ponged' });

const PUBLIC = '93.184.215.14';
const URL_A = 'https://hooks.example.com/reseller';

/** A resolver whose answers the test changes: name -> addresses (default: PUBLIC). */
function dnsTable() {
  const table = new Map<string, string[]>();
  const resolver: Resolver = async (name) => {
    const addresses = table.get(name) ?? [PUBLIC];
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { table, resolver };
}

/** A clock the test moves. */
function clock(start = Date.parse('2030-01-10T12:00:00.000Z')) {
  let at = start;
  return { now: () => new Date(at), advance: (ms: number) => (at += ms), at: () => new Date(at) };
}

async function setup(t: Tap, opts: { env?: Record<string, string> } = {}) {
  const dns = dnsTable();
  const time = clock();
  const built = await buildTestApp(t, { resolver: dns.resolver, now: time.now, env: opts.env ?? {} });
  const op = await operator(built.app);
  const a = await reseller(built.app, op.token);
  const b = await reseller(built.app, op.token);
  return { ...built, dns, time, op, a, b };
}
type Tap = Parameters<typeof buildTestApp>[0];

const create = (app: App, r: Pick<Reseller, 'token'>, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/v1/webhooks', headers: bearer(r.token), payload });

t.test('issue 13 item 3: create, read, list (cursor), update and delete an endpoint', async (t) => {
  const { app, a, time } = await setup(t);
  const res = await create(app, a, { url: URL_A, description: 'billing system' });
  t.equal(res.statusCode, 201, res.body);
  t.equal(res.headers['cache-control'], 'no-store', 'the response carries a secret: no-store');
  const ep = res.json();
  t.match(ep, {
    id: /^[0-9a-f-]{36}$/,
    url: URL_A,
    event_types: ['*'],
    description: 'billing system',
    enabled: true,
    disabled_reason: null,
    disabled_at: null,
    max_concurrency: 10,
    secret_rotation: null,
    secret: /^whsec_[A-Za-z0-9+/]{43}=$/,
    created_at: '2030-01-10T12:00:00.000Z',
    updated_at: '2030-01-10T12:00:00.000Z',
  });
  t.equal(Buffer.from(ep.secret.slice(6), 'base64').length, 32, '32 random bytes');

  const got = await app.inject({ method: 'GET', url: `/v1/webhooks/${ep.id}`, headers: bearer(a.token) });
  t.equal(got.statusCode, 200);
  const { secret: _secret, ...withoutSecret } = ep;
  t.same(got.json(), withoutSecret, 'GET shows the same endpoint, without the secret');

  const patched = await app.inject({
    method: 'PATCH',
    url: `/v1/webhooks/${ep.id}`,
    headers: bearer(a.token),
    payload: {
      event_types: [PINGED.type, PONGED.type, PINGED.type],
      description: '',
      max_concurrency: 3,
      url: 'https://other.example.com/hook',
    },
  });
  t.equal(patched.statusCode, 200, patched.body);
  t.match(patched.json(), {
    event_types: [PINGED.type, PONGED.type],
    description: '',
    max_concurrency: 3,
    url: 'https://other.example.com/hook',
  });
  t.notOk('secret' in patched.json());

  // Two more, a minute apart, then page through all three, two at a time.
  time.advance(60_000);
  await create(app, a, { url: 'https://two.example.com/' });
  time.advance(60_000);
  await create(app, a, { url: 'https://three.example.com/' });
  const page1 = await app.inject({ method: 'GET', url: '/v1/webhooks?limit=2', headers: bearer(a.token) });
  t.equal(page1.json().data.length, 2);
  t.type(page1.json().next_cursor, 'string');
  const page2 = await app.inject({
    method: 'GET',
    url: `/v1/webhooks?limit=2&cursor=${encodeURIComponent(page1.json().next_cursor)}`,
    headers: bearer(a.token),
  });
  t.equal(page2.json().data.length, 1);
  t.equal(page2.json().next_cursor, null);
  const all = [...page1.json().data, ...page2.json().data];
  t.same(
    all.map((e: { url: string }) => e.url),
    ['https://other.example.com/hook', 'https://two.example.com/', 'https://three.example.com/'],
    'oldest first, each once',
  );
  t.ok(
    all.every((e: Record<string, unknown>) => !('secret' in e)),
    'no secret in the list',
  );

  const del = await app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}`, headers: bearer(a.token) });
  t.equal(del.statusCode, 204);
  const gone = await app.inject({ method: 'GET', url: `/v1/webhooks/${ep.id}`, headers: bearer(a.token) });
  t.equal(gone.statusCode, 404);
  const again = await app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}`, headers: bearer(a.token) });
  t.equal(again.statusCode, 404);
});

t.test('issue 13 item 3: another account gets 404 for every operation on an endpoint', async (t) => {
  const { app, a, b } = await setup(t);
  const ep = (await create(app, a, { url: URL_A })).json();
  const calls = [
    { method: 'GET', url: `/v1/webhooks/${ep.id}` },
    { method: 'PATCH', url: `/v1/webhooks/${ep.id}`, payload: { description: 'mine now' } },
    { method: 'PATCH', url: `/v1/webhooks/${ep.id}`, payload: { url: 'https://b.example.com/' } },
    { method: 'POST', url: `/v1/webhooks/${ep.id}/rotate-secret`, payload: {} },
    { method: 'DELETE', url: `/v1/webhooks/${ep.id}` },
  ] as const;
  for (const c of calls) {
    const res = await app.inject({ ...c, headers: bearer(b.token) });
    t.equal(res.statusCode, 404, `${c.method} ${c.url}`);
    t.equal(res.json().code, 'not_found');
  }
  const list = await app.inject({ method: 'GET', url: '/v1/webhooks', headers: bearer(b.token) });
  t.same(list.json().data, [], "B's list does not show A's endpoint");
  const still = await app.inject({ method: 'GET', url: `/v1/webhooks/${ep.id}`, headers: bearer(a.token) });
  t.match(still.json(), { url: URL_A, description: '' }, 'unchanged');
  // A cursor of A's list does not work on B's.
  await create(app, a, { url: URL_A });
  const page = await app.inject({ method: 'GET', url: '/v1/webhooks?limit=1', headers: bearer(a.token) });
  const foreign = await app.inject({
    method: 'GET',
    url: `/v1/webhooks?limit=1&cursor=${encodeURIComponent(page.json().next_cursor)}`,
    headers: bearer(b.token),
  });
  t.equal(foreign.statusCode, 400);
  t.equal(foreign.json().code, 'invalid_cursor');
});

t.test('issue 13 item 3: event types come from the catalogue or are *; limits are checked', async (t) => {
  const { app, a } = await setup(t, { env: { WEBHOOK_MAX_CONCURRENCY: '5' } });
  const unknown = await create(app, a, { url: URL_A, event_types: [PINGED.type, 'domain.exploded'] });
  t.equal(unknown.statusCode, 422);
  t.equal(unknown.json().code, 'validation_failed');
  t.match(unknown.json().errors, [{ pointer: '/body/event_types/1', code: 'unknown_event_type' }]);

  const star = await create(app, a, { url: URL_A, event_types: [PINGED.type, '*'] });
  t.same(star.json().event_types, ['*'], "'*' with other types is every type");
  t.equal(star.json().max_concurrency, 5, 'default max_concurrency: WEBHOOK_MAX_CONCURRENCY');

  const tooMany = await create(app, a, { url: URL_A, max_concurrency: 6 });
  t.equal(tooMany.statusCode, 422);
  t.match(tooMany.json().errors, [{ pointer: '/body/max_concurrency' }]);
  const zero = await create(app, a, { url: URL_A, max_concurrency: 0 });
  t.equal(zero.statusCode, 422);
  const empty = await create(app, a, { url: URL_A, event_types: [] });
  t.equal(empty.statusCode, 422);
  const longUrl = await create(app, a, { url: `https://hooks.example.com/${'x'.repeat(2048)}` });
  t.equal(longUrl.statusCode, 422, 'URL length is capped');
  const extra = await create(app, a, { url: URL_A, secret: 'whsec_mine' });
  t.equal(extra.statusCode, 422, 'the account cannot choose its secret');

  const patchUnknown = await app.inject({
    method: 'PATCH',
    url: `/v1/webhooks/${star.json().id}`,
    headers: bearer(a.token),
    payload: { event_types: ['nope.nope'] },
  });
  t.equal(patchUnknown.statusCode, 422);
  const patchEmpty = await app.inject({
    method: 'PATCH',
    url: `/v1/webhooks/${star.json().id}`,
    headers: bearer(a.token),
    payload: {},
  });
  t.equal(patchEmpty.statusCode, 422, 'a PATCH must change something');
});

t.test(
  'issue 13 item 3: the secret is shown once (create, rotate) and never again: GET, list, PATCH, operator list, logs, audit',
  async (t) => {
    const { app, a, op, logs } = await setup(t);
    const created = (await create(app, a, { url: URL_A })).json();
    const rotated = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${created.id}/rotate-secret`,
      headers: bearer(a.token),
      payload: {},
    });
    t.equal(rotated.headers['cache-control'], 'no-store');
    const secrets = [created.secret as string, rotated.json().secret as string];
    t.not(secrets[0], secrets[1]);

    const bodies = [
      (await app.inject({ method: 'GET', url: `/v1/webhooks/${created.id}`, headers: bearer(a.token) })).body,
      (await app.inject({ method: 'GET', url: '/v1/webhooks', headers: bearer(a.token) })).body,
      (
        await app.inject({
          method: 'PATCH',
          url: `/v1/webhooks/${created.id}`,
          headers: bearer(a.token),
          payload: { description: 'x' },
        })
      ).body,
      (await app.inject({ method: 'GET', url: '/v1/admin/webhooks', headers: bearer(op.token) })).body,
    ];
    const [row] = await app.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, created.id));
    const audit = JSON.stringify(await app.db.select().from(auditEvents));
    for (const secret of secrets) {
      const key = secret.slice('whsec_'.length);
      for (const body of bodies) t.notOk(body.includes(key), 'not in a later response');
      t.notOk(JSON.stringify(logs()).includes(key), 'not in the logs');
      t.notOk(audit.includes(key), 'not in the audit trail');
      t.notOk(JSON.stringify(row).includes(key), 'not in the database in clear');
    }
    t.equal(app.secretBox.open(row!.secretSealed), secrets[1], 'sealed: the current secret');
    t.equal(app.secretBox.open(row!.previousSecretSealed!), secrets[0], 'sealed: the previous secret');
    t.ok(
      audit.includes('createWebhook') && audit.includes('rotateWebhookSecret'),
      'both calls were audited, without the secret',
    );
  },
);

t.test(
  'issue 13 item 3: the secret is a Standard Webhooks secret (the standardwebhooks package takes it)',
  async (t) => {
    const { app, a } = await setup(t);
    const { secret } = (await create(app, a, { url: URL_A })).json();
    const wh = new Webhook(secret);
    const at = new Date();
    const body = '{"type":"endpoints_test.pinged"}';
    const signature = wh.sign('msg_1', at, body);
    const ts = Math.floor(at.getTime() / 1000);
    const ours = createHmac('sha256', secretKey(secret)).update(`msg_1.${ts}.${body}`).digest('base64');
    t.equal(signature, `v1,${ours}`, 'the package and node:crypto agree on the key (secretKey)');
    t.doesNotThrow(() =>
      wh.verify(body, { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': signature }),
    );
  },
);

t.test('issue 13 item 3: rotation keeps the previous secret signing for grace_hours, then only the new', async (t) => {
  const { app, a, time } = await setup(t);
  const ep = (await create(app, a, { url: URL_A })).json();
  const rotate = (payload: Record<string, unknown>) =>
    app.inject({
      method: 'POST',
      url: `/v1/webhooks/${ep.id}/rotate-secret`,
      headers: bearer(a.token),
      payload,
    });
  const rowOf = async () => (await app.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, ep.id)))[0]!;

  t.equal((await rotate({ grace_hours: 0 })).statusCode, 422);
  t.equal((await rotate({ grace_hours: 169 })).statusCode, 422);

  const r1 = await rotate({});
  t.equal(r1.statusCode, 200, r1.body);
  t.match(r1.json(), {
    id: ep.id,
    secret: /^whsec_/,
    secret_rotation: { previous_secret_expires_at: '2030-01-11T12:00:00.000Z' }, // default 24 h
  });
  t.same(signingSecrets(await rowOf(), app.secretBox.open, time.at()), [r1.json().secret, ep.secret]);

  // A second rotation during the grace period: the current secret becomes the previous one, with
  // the new grace; the first secret stops signing at once.
  time.advance(3_600_000);
  const r2 = await rotate({ grace_hours: 2 });
  t.match(r2.json().secret_rotation, { previous_secret_expires_at: '2030-01-10T15:00:00.000Z' });
  t.same(signingSecrets(await rowOf(), app.secretBox.open, time.at()), [r2.json().secret, r1.json().secret]);
  const got = await app.inject({ method: 'GET', url: `/v1/webhooks/${ep.id}`, headers: bearer(a.token) });
  t.same(got.json().secret_rotation, r2.json().secret_rotation, 'GET shows the rotation, not the secrets');

  // After the grace period: one secret, and no rotation shown.
  time.advance(2 * 3_600_000);
  t.same(signingSecrets(await rowOf(), app.secretBox.open, time.at()), [r2.json().secret]);
  const after = await app.inject({ method: 'GET', url: `/v1/webhooks/${ep.id}`, headers: bearer(a.token) });
  t.equal(after.json().secret_rotation, null);
});

t.test('issue 13 item 6: unsafe URLs are refused with 422 unsafe_webhook_url and the reason', async (t) => {
  const { app, a, dns } = await setup(t);
  dns.table.set('internal.example.com', ['10.0.0.7']);
  dns.table.set('half.example.com', [PUBLIC, '192.168.0.1']);
  dns.table.set('metadata.example.com', ['169.254.169.254']);
  dns.table.set('v6.example.com', ['fd00::1']);
  const cases: [string, RegExp][] = [
    ['https://10.1.2.3/x', /10\.1\.2\.3 is a private address/],
    ['https://172.16.5.4/x', /private/],
    ['https://192.168.1.10/x', /private/],
    ['https://127.0.0.1/x', /loopback/],
    ['https://127.9.9.9/x', /loopback/],
    ['https://[::1]/x', /loopback/],
    ['https://169.254.169.254/latest/meta-data/', /linkLocal/],
    ['https://[fe80::1]/x', /linkLocal/],
    ['https://100.64.1.1/x', /carrierGradeNat/],
    ['https://[fd00::1]/x', /uniqueLocal/],
    ['https://[::ffff:127.0.0.1]/x', /127\.0\.0\.1 is a loopback/],
    // IPv4-compatible IPv6 (::/96, deprecated): ipaddr.js calls ::7f00:1 unicast.
    ['https://[::7f00:1]/x', /::7f00:1 is a ipv4Compatible address/],
    ['https://[::a9fe:a9fe]/x', /ipv4Compatible/],
    ['https://[::808:808]/x', /ipv4Compatible/],
    ['https://internal.example.com/x', /internal\.example\.com resolves to 10\.0\.0\.7 is a private/],
    ['https://half.example.com/x', /192\.168\.0\.1 is a private/],
    ['https://metadata.example.com/x', /169\.254\.169\.254 is a linkLocal/],
    ['https://v6.example.com/x', /uniqueLocal/],
    [`http://${PUBLIC}/x`, /must be https/],
    ['http://hooks.example.com/x', /must be https/],
    ['https://user:secret@hooks.example.com/x', /user name or password/],
    ['ftp://hooks.example.com/x', /must be https/],
    ['not a url', /not an absolute URL/],
  ];
  for (const [url, why] of cases) {
    const res = await create(app, a, { url });
    t.equal(res.statusCode, 422, url);
    t.equal(res.json().code, 'unsafe_webhook_url', url);
    t.match(res.json().detail, why, `${url}: ${res.json().detail}`);
  }
  const list = await app.inject({ method: 'GET', url: '/v1/webhooks', headers: bearer(a.token) });
  t.same(list.json().data, [], 'nothing was created');
});

t.test('issue 13 item 6: a name public at creation but private later is refused on the next URL check', async (t) => {
  const { app, a, dns } = await setup(t);
  const ep = await create(app, a, { url: 'https://rebind.example.com/hook' });
  t.equal(ep.statusCode, 201, 'public at creation');
  dns.table.set('rebind.example.com', ['127.0.0.1']);
  // The URL is checked again whenever it is set (the delivery connector checks at every delivery:
  // test/lib/ssrf-guard.test.ts).
  const same = await app.inject({
    method: 'PATCH',
    url: `/v1/webhooks/${ep.json().id}`,
    headers: bearer(a.token),
    payload: { url: 'https://rebind.example.com/hook' },
  });
  t.equal(same.statusCode, 422);
  t.equal(same.json().code, 'unsafe_webhook_url');
  t.match(same.json().detail, /127\.0\.0\.1 is a loopback/);
  const other = await app.inject({
    method: 'PATCH',
    url: `/v1/webhooks/${ep.json().id}`,
    headers: bearer(a.token),
    payload: { url: 'https://169.254.169.254/' },
  });
  t.equal(other.json().code, 'unsafe_webhook_url');
  const unchanged = await app.inject({ method: 'GET', url: `/v1/webhooks/${ep.json().id}`, headers: bearer(a.token) });
  t.equal(unchanged.json().url, 'https://rebind.example.com/hook');
  const fresh = await create(app, a, { url: 'https://rebind.example.com/other' });
  t.equal(fresh.json().code, 'unsafe_webhook_url', 'and a new endpoint with that name is refused');
});

t.test('issue 13 item 6: WEBHOOK_ALLOWED_RANGES lets an operator allow a range, over http too', async (t) => {
  const { app, a } = await setup(t, { env: { WEBHOOK_ALLOWED_RANGES: '127.0.0.0/8,::1/128' } });
  const v4 = await create(app, a, { url: 'http://127.0.0.1:8080/hook' });
  t.equal(v4.statusCode, 201, v4.body);
  const v6 = await create(app, a, { url: 'http://[::1]:8080/hook' });
  t.equal(v6.statusCode, 201, v6.body);
  const priv = await create(app, a, { url: 'https://10.0.0.1/hook' });
  t.equal(priv.json().code, 'unsafe_webhook_url', 'other private ranges stay refused');
});

t.test(
  'issue 13 item 3: disabled_reason: account disables and re-enables; re-enabling clears the failure run',
  async (t) => {
    const { app, a } = await setup(t);
    const ep = (await create(app, a, { url: URL_A })).json();
    const patch = (payload: Record<string, unknown>) =>
      app.inject({ method: 'PATCH', url: `/v1/webhooks/${ep.id}`, headers: bearer(a.token), payload });

    const off = await patch({ enabled: false });
    t.match(off.json(), { enabled: false, disabled_reason: 'account', disabled_at: '2030-01-10T12:00:00.000Z' });
    const on = await patch({ enabled: true });
    t.match(on.json(), { enabled: true, disabled_reason: null, disabled_at: null });

    // Disabled by the delivery engine (410 Gone, or failing for days): the account may enable it again.
    for (const reason of ['gone', 'failing']) {
      await app.db
        .update(webhookEndpoints)
        .set({ enabled: false, disabledReason: reason, disabledAt: new Date(), failingSince: new Date(0) })
        .where(eq(webhookEndpoints.id, ep.id));
      const shown = await app.inject({ method: 'GET', url: `/v1/webhooks/${ep.id}`, headers: bearer(a.token) });
      t.equal(shown.json().disabled_reason, reason);
      const stillOff = await patch({ enabled: false });
      t.equal(stillOff.json().disabled_reason, reason, 'disabling again keeps the first reason');
      const back = await patch({ enabled: true });
      t.match(back.json(), { enabled: true, disabled_reason: null, disabled_at: null });
      const [row] = await app.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, ep.id));
      t.equal(row!.failingSince, null, `${reason}: re-enabling clears failing_since`);
    }

    const createdOff = await create(app, a, { url: URL_A, enabled: false });
    t.match(createdOff.json(), { enabled: false, disabled_reason: 'account' });
  },
);

t.test('issue 13 item 6: operators list every endpoint, disable and enable; the account cannot undo it', async (t) => {
  const { app, a, b, op } = await setup(t);
  const epA = (await create(app, a, { url: URL_A })).json();
  const epB = (await create(app, b, { url: 'https://b.example.com/' })).json();
  await create(app, b, { url: 'https://b2.example.com/', enabled: false });

  const all = await app.inject({ method: 'GET', url: '/v1/admin/webhooks', headers: bearer(op.token) });
  t.equal(all.statusCode, 200);
  t.equal(all.json().data.length, 3);
  t.ok(all.json().data.every((e: Record<string, unknown>) => !('secret' in e) && typeof e.account_id === 'string'));
  const ofB = await app.inject({
    method: 'GET',
    url: `/v1/admin/webhooks?account_id=${b.accountId}`,
    headers: bearer(op.token),
  });
  t.same(
    ofB
      .json()
      .data.map((e: { url: string }) => e.url)
      .sort(),
    ['https://b.example.com/', 'https://b2.example.com/'],
  );
  const enabledOfB = await app.inject({
    method: 'GET',
    url: `/v1/admin/webhooks?account_id=${b.accountId}&enabled=true`,
    headers: bearer(op.token),
  });
  t.same(
    enabledOfB.json().data.map((e: { id: string }) => e.id),
    [epB.id],
  );
  const paged = await app.inject({ method: 'GET', url: '/v1/admin/webhooks?limit=2', headers: bearer(op.token) });
  const rest = await app.inject({
    method: 'GET',
    url: `/v1/admin/webhooks?limit=2&cursor=${encodeURIComponent(paged.json().next_cursor)}`,
    headers: bearer(op.token),
  });
  t.equal(rest.json().data.length, 1);

  const disabled = await app.inject({
    method: 'POST',
    url: `/v1/admin/webhooks/${epA.id}/disable`,
    headers: bearer(op.token),
    payload: { reason: 'sends to a host we were asked to protect' },
  });
  t.equal(disabled.statusCode, 200, disabled.body);
  t.match(disabled.json(), { id: epA.id, account_id: a.accountId, enabled: false, disabled_reason: 'operator' });

  const tryEnable = await app.inject({
    method: 'PATCH',
    url: `/v1/webhooks/${epA.id}`,
    headers: bearer(a.token),
    payload: { enabled: true, description: 'please' },
  });
  t.equal(tryEnable.statusCode, 409);
  t.equal(tryEnable.json().code, 'webhook_disabled_by_operator');
  const seen = await app.inject({ method: 'GET', url: `/v1/webhooks/${epA.id}`, headers: bearer(a.token) });
  t.match(
    seen.json(),
    { enabled: false, disabled_reason: 'operator', description: '' },
    'nothing of the PATCH applied',
  );
  const offAgain = await app.inject({
    method: 'PATCH',
    url: `/v1/webhooks/${epA.id}`,
    headers: bearer(a.token),
    payload: { enabled: false },
  });
  t.equal(offAgain.json().disabled_reason, 'operator', "the account's disable does not replace the operator's");
  const disabledEvents = await app.db.select().from(events).where(eq(events.objectId, epA.id));
  t.same(
    disabledEvents.map((e) => [e.type, e.accountId, (e.data as { disabled_reason: string }).disabled_reason]),
    [['endpoint.disabled', a.accountId, 'operator']],
    'the operator disable told the account with endpoint.disabled, once',
  );

  const enabled = await app.inject({
    method: 'POST',
    url: `/v1/admin/webhooks/${epA.id}/enable`,
    headers: bearer(op.token),
  });
  t.match(enabled.json(), { enabled: true, disabled_reason: null, disabled_at: null });

  const audit = await app.db.select().from(auditEvents).where(eq(auditEvents.operation, 'adminDisableWebhook'));
  t.equal(audit.length, 1);
  t.match(audit[0], { accountId: a.accountId, targetType: 'webhook_endpoint', targetId: epA.id });
  t.match(audit[0]!.details, { body: { reason: 'sends to a host we were asked to protect' } }, 'the reason is audited');

  const missing = await app.inject({
    method: 'POST',
    url: '/v1/admin/webhooks/00000000-0000-4000-8000-000000000000/enable',
    headers: bearer(op.token),
  });
  t.equal(missing.statusCode, 404);
});

t.test('issue 13 item 3: permissions: webhooks:read lists and reads, webhooks:write changes', async (t) => {
  const { app, a, op } = await setup(t);
  const ep = (await create(app, a, { url: URL_A })).json();
  const readOnly = await loginAs(app, (await addUser(app, a.token, 'read_only')).username);
  const billing = await loginAs(app, (await addUser(app, a.token, 'billing')).username);
  const technical = await loginAs(app, (await addUser(app, a.token, 'technical')).username);
  const readKey = await apiKey(app, a.token, ['webhooks:read']);

  for (const [who, token] of [
    ['read_only', readOnly.token],
    ['billing', billing.token],
    ['key[webhooks:read]', readKey.key],
  ] as const) {
    const list = await app.inject({ method: 'GET', url: '/v1/webhooks', headers: bearer(token) });
    t.equal(list.statusCode, 200, `${who} lists`);
    const one = await app.inject({ method: 'GET', url: `/v1/webhooks/${ep.id}`, headers: bearer(token) });
    t.equal(one.statusCode, 200, `${who} reads`);
    for (const call of [
      { method: 'POST', url: '/v1/webhooks', payload: { url: URL_A } },
      { method: 'PATCH', url: `/v1/webhooks/${ep.id}`, payload: { description: 'x' } },
      { method: 'POST', url: `/v1/webhooks/${ep.id}/rotate-secret`, payload: {} },
      { method: 'DELETE', url: `/v1/webhooks/${ep.id}` },
      { method: 'GET', url: '/v1/admin/webhooks' },
    ] as const) {
      const res = await app.inject({ ...call, headers: bearer(token) });
      t.equal(res.statusCode, 403, `${who}: ${call.method} ${call.url}`);
      t.equal(res.json().code, 'permission_denied');
    }
  }
  const byTechnical = await create(app, technical, { url: URL_A });
  t.equal(byTechnical.statusCode, 201, 'technical holds webhooks:write');
  const opOnReseller = await app.inject({ method: 'GET', url: '/v1/webhooks', headers: bearer(op.token) });
  t.equal(opOnReseller.statusCode, 403, 'operators use /v1/admin/webhooks');
  const ownerOnAdmin = await app.inject({
    method: 'POST',
    url: `/v1/admin/webhooks/${ep.id}/disable`,
    headers: bearer(a.token),
    payload: { reason: 'x' },
  });
  t.equal(ownerOnAdmin.statusCode, 403);
});

t.test(`issue 13 item 3: an account has at most ${MAX_ENDPOINTS_PER_ACCOUNT} endpoints`, async (t) => {
  const { app, a, b } = await setup(t);
  // Concurrent creates: the cap holds (creation is serialised per account).
  const results = await Promise.all(
    Array.from({ length: MAX_ENDPOINTS_PER_ACCOUNT + 3 }, (_, i) =>
      create(app, a, { url: `https://${PUBLIC}/hook/${i}` }),
    ),
  );
  t.equal(results.filter((r) => r.statusCode === 201).length, MAX_ENDPOINTS_PER_ACCOUNT);
  const refused = results.filter((r) => r.statusCode !== 201);
  t.equal(refused.length, 3);
  t.ok(refused.every((r) => r.statusCode === 409 && r.json().code === 'webhook_endpoint_limit'));
  t.equal((await create(app, b, { url: URL_A })).statusCode, 201, 'other accounts are not affected');
  const first = results.find((r) => r.statusCode === 201)!.json();
  await app.inject({ method: 'DELETE', url: `/v1/webhooks/${first.id}`, headers: bearer(a.token) });
  t.equal((await create(app, a, { url: URL_A })).statusCode, 201, 'after a delete there is room again');
});

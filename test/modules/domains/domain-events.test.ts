// Issue 13 item 1 (R-NTF-1): every change of a domain writes its event in the transaction that makes
// the change. Read back through GET /v1/events?object_id=..., compared with what GET shows.
import t from 'tap';
import { sql } from 'drizzle-orm';
import type { App } from '../../../src/app.js';
import { domains, registryNames } from '../../../src/db/schema/index.js';
import { builtInRegistry, DomainNotAvailable, type RegistryBackend } from '../../../src/modules/domains/registry.js';
import { buildTestApp } from '../../helpers/app.js';
import { checkNames, credit, domainSetup, registered } from '../../helpers/domains.js';
import { eventsOf, sequences, types } from '../../helpers/domain-events.js';
import { bearer, type Reseller } from '../../helpers/fixtures.js';

const DAY_MS = 86_400_000;
const at = (iso: string, plusMs = 0) => new Date(Date.parse(iso) + plusMs);

const getDomain = async (app: App, r: Reseller, name: string) =>
  (await app.inject({ method: 'GET', url: `/v1/domains/${name}`, headers: bearer(r.token) })).json<
    Record<string, unknown>
  >();
/** The domain as the list shows it with status=all (released and transferred-out ones are 404 on GET). */
async function listedDomain(app: App, r: Reseller, name: string) {
  const res = await app.inject({ method: 'GET', url: `/v1/domains?status=all&limit=100`, headers: bearer(r.token) });
  return (res.json().data as Record<string, unknown>[]).find((d) => d.name === name);
}
const lifecycle = (app: App, now: Date) => app.jobs.run('domain-lifecycle', now);
const notices = (app: App, now: Date) => app.jobs.run('domain-expiry-notices', now);

t.test(
  'issue 13: GET /v1/event-types lists the domain, transfer and abuse types with their data schemas',
  async (t) => {
    const { app } = await buildTestApp(t);
    const { r } = await domainSetup(app, 0);
    const res = await app.inject({ method: 'GET', url: '/v1/event-types', headers: bearer(r.token) });
    t.equal(res.statusCode, 200);
    const listed = new Map(
      (res.json().data as { type: string; group: string; object_type: string }[]).map((e) => [e.type, e]),
    );
    const expected: [string, string, string][] = [
      ['domain.registered', 'domains', 'domain'],
      ['domain.renewed', 'domains', 'domain'],
      ['domain.transferred_in', 'domains', 'domain'],
      ['domain.transferred_out', 'domains', 'domain'],
      ['domain.expiring', 'domains', 'domain'],
      ['domain.expired', 'domains', 'domain'],
      ['domain.redemption_started', 'domains', 'domain'],
      ['domain.pending_delete', 'domains', 'domain'],
      ['domain.released', 'domains', 'domain'],
      ['domain.deleted', 'domains', 'domain'],
      ['domain.restored', 'domains', 'domain'],
      ['transfer.requested', 'transfers', 'transfer'],
      ['transfer.approved', 'transfers', 'transfer'],
      ['transfer.rejected', 'transfers', 'transfer'],
      ['transfer.cancelled', 'transfers', 'transfer'],
      ['transfer.expired', 'transfers', 'transfer'],
      ['transfer.completed', 'transfers', 'transfer'],
      ['abuse.complaint_filed', 'abuse', 'abuse_complaint'],
      ['abuse.complaint_responded', 'abuse', 'abuse_complaint'],
      ['abuse.complaint_escalated', 'abuse', 'abuse_complaint'],
      ['abuse.complaint_closed', 'abuse', 'abuse_complaint'],
    ];
    for (const [type, group, objectType] of expected)
      t.match(listed.get(type), { type, group, object_type: objectType, data_schema: {} }, type);
  },
);

t.test('issue 13: a registration writes one domain.registered with the domain as GET shows it', async (t) => {
  const { app, store } = await buildTestApp(t);
  const { r } = await domainSetup(app);
  const d = await registered(app, r, 'first-event.com');
  const events = await eventsOf(app, store, r, 'first-event.com');
  t.equal(events.length, 1, 'exactly one event');
  t.match(events[0], {
    type: 'domain.registered',
    account_id: r.accountId,
    object: { type: 'domain', id: 'first-event.com', sequence: 1 },
  });
  t.same(events[0]!.data, d, 'data is the registration answer');
  t.same(events[0]!.data, await getDomain(app, r, 'first-event.com'), 'and what GET shows');
  const idn = await registered(app, r, 'bäckerei-event.com');
  const [e] = await eventsOf(app, store, r, idn.name);
  t.match(idn.name, /^xn--/, 'registered under its A-label');
  t.equal(e?.object.id, idn.name, 'the object id is the A-label name');
  t.same(e?.data, await getDomain(app, r, idn.name));
});

t.test('issue 13: a registration that does not happen leaves no domain.registered', async (t) => {
  const { app, store } = await buildTestApp(t);
  const { r } = await domainSetup(app, 500);
  const c = r.contact;
  const body = (name: string) => ({ name, contacts: { owner: c, admin: c, tech: c }, nameservers: [] });

  await checkNames(app, r, 'too-dear.com');
  const poor = await app.inject({
    method: 'POST',
    url: '/v1/domains',
    headers: bearer(r.token),
    payload: body('too-dear.com'),
  });
  t.equal(poor.json().code, 'insufficient_funds', 'refused for insufficient funds');
  t.same(await eventsOf(app, store, r, 'too-dear.com'), [], 'the refused charge undid the event with the domain');

  await checkNames(app, r, 'snatched.com');
  // Someone else registers the name at the registry between the check and the order.
  await store.db.insert(registryNames).values({ name: 'snatched.com', expiresAt: new Date(Date.now() + 365 * DAY_MS) });
  const lost = await app.inject({
    method: 'POST',
    url: '/v1/domains',
    headers: bearer(r.token),
    payload: body('snatched.com'),
  });
  t.equal(lost.json().code, 'domain_not_available', 'the registry holds the name');
  t.same(await eventsOf(app, store, r, 'snatched.com'), [], 'no event for a registration the registry refused');
  const [row] = await store.db.select({ n: sql<number>`count(*)::int` }).from(domains);
  t.equal(Number(row!.n), 0, 'and no domain');
});

t.test('issue 13: with a registry outside the database (EPP path) the event is still in the transaction', async (t) => {
  const epp: RegistryBackend = { ...builtInRegistry, createInStatement: undefined };
  const failing: RegistryBackend = {
    ...epp,
    create: async (tx, input) => {
      if (input.name.startsWith('registry-down')) throw new DomainNotAvailable('the registry refused it');
      return builtInRegistry.create(tx, input);
    },
  };
  const { app, store } = await buildTestApp(t, { registry: failing });
  const { r } = await domainSetup(app, 1099);
  const d = await registered(app, r, 'via-epp.com');
  const events = await eventsOf(app, store, r, 'via-epp.com');
  t.same(types(events), ['domain.registered']);
  t.same(events[0]!.data, d);
  await checkNames(app, r, 'registry-down.com');
  const c = r.contact;
  const res = await app.inject({
    method: 'POST',
    url: '/v1/domains',
    headers: bearer(r.token),
    payload: { name: 'registry-down.com', contacts: { owner: c, admin: c, tech: c }, nameservers: [] },
  });
  t.equal(res.json().code, 'domain_not_available', 'the registry refused the create');
  t.same(await eventsOf(app, store, r, 'registry-down.com'), [], 'no event');
  await checkNames(app, r, 'no-money-epp.com');
  const poor = await app.inject({
    method: 'POST',
    url: '/v1/domains',
    headers: bearer(r.token),
    payload: { name: 'no-money-epp.com', contacts: { owner: c, admin: c, tech: c }, nameservers: [] },
  });
  t.equal(poor.json().code, 'insufficient_funds');
  t.same(await eventsOf(app, store, r, 'no-money-epp.com'), [], 'no event for the refused charge');
});

t.test(
  'issue 13: expired, redemption_started, restored, renewed and deleted, numbered 1, 2, 3... on one domain',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const { op, r } = await domainSetup(app, 1099);
    const d = await registered(app, r, 'up-and-down.com');

    // The autorenewal fails for lack of funds: into grace.
    await lifecycle(app, at(d.expires_at, 1000));
    let events = await eventsOf(app, store, r, 'up-and-down.com');
    t.same(types(events), ['domain.registered', 'domain.expired']);
    const grace = await getDomain(app, r, 'up-and-down.com');
    t.match(grace, { status: 'grace', autorenew_failed_at: at(d.expires_at, 1000).toISOString() });
    t.same(events[1]!.data, grace, 'domain.expired shows the domain in grace, with the failed autorenewal');

    // A failed daily retry changes nothing a reseller acts on: no event.
    await lifecycle(app, at(d.expires_at, DAY_MS + 2000));
    t.equal((await eventsOf(app, store, r, 'up-and-down.com')).length, 2, 'no event for a failed retry');

    await lifecycle(app, at(grace.grace_ends_at as string, 1000));
    events = await eventsOf(app, store, r, 'up-and-down.com');
    t.same(types(events), ['domain.registered', 'domain.expired', 'domain.redemption_started']);
    const redemption = await getDomain(app, r, 'up-and-down.com');
    t.equal(redemption.status, 'redemption');
    t.same(events[2]!.data, redemption);

    await credit(app, op.token, r.accountId, 100_000);
    const restored = await app.inject({
      method: 'POST',
      url: '/v1/domains/up-and-down.com/restore',
      headers: bearer(r.token),
      payload: {},
    });
    t.equal(restored.statusCode, 200);
    const renewed = await app.inject({
      method: 'POST',
      url: '/v1/domains/up-and-down.com/renew',
      headers: bearer(r.token),
      payload: { period_years: 1 },
    });
    t.equal(renewed.statusCode, 200);
    events = await eventsOf(app, store, r, 'up-and-down.com');
    t.same(types(events).slice(3), ['domain.restored', 'domain.renewed']);
    t.same(events[3]!.data, restored.json().domain, 'domain.restored: the domain as the restore answered');
    t.same(events[4]!.data, await getDomain(app, r, 'up-and-down.com'), 'domain.renewed: as GET shows it');

    const refused = await app.inject({
      method: 'POST',
      url: '/v1/domains/up-and-down.com/renew',
      headers: bearer(r.token),
      payload: { period_years: 1, max_price: { amount: 1, currency: 'EUR' } },
    });
    t.equal(refused.statusCode, 409, 'a renewal refused by max_price');
    t.equal((await eventsOf(app, store, r, 'up-and-down.com')).length, 5, 'leaves no event');

    await app.inject({ method: 'POST', url: '/v1/domains/up-and-down.com/unlock', headers: bearer(r.token) });
    const deleted = await app.inject({
      method: 'DELETE',
      url: '/v1/domains/up-and-down.com?confirm=true',
      headers: bearer(r.token),
    });
    t.equal(deleted.statusCode, 200);
    events = await eventsOf(app, store, r, 'up-and-down.com');
    t.same(types(events).slice(5), ['domain.deleted']);
    t.same(events[5]!.data, deleted.json().domain);
    t.same(sequences(events), [1, 2, 3, 4, 5, 6], 'the sequence counts up per domain');
    t.ok(
      events.every((e) => e.account_id === r.accountId && e.object.type === 'domain'),
      'all to the account holding the domain',
    );
  },
);

t.test(
  'issue 13: autorenewal writes domain.renewed; a deletion within add grace writes domain.deleted (released)',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const { r } = await domainSetup(app);
    const d = await registered(app, r, 'renews-quietly.com');
    await lifecycle(app, at(d.expires_at, 1000));
    const events = await eventsOf(app, store, r, 'renews-quietly.com');
    t.same(types(events), ['domain.registered', 'domain.renewed']);
    t.same(events[1]!.data, await getDomain(app, r, 'renews-quietly.com'));

    await registered(app, r, 'short-lived.com');
    await app.inject({ method: 'POST', url: '/v1/domains/short-lived.com/unlock', headers: bearer(r.token) });
    const deleted = await app.inject({
      method: 'DELETE',
      url: '/v1/domains/short-lived.com?confirm=true',
      headers: bearer(r.token),
    });
    t.equal(deleted.json().domain.status, 'released');
    const gone = await eventsOf(app, store, r, 'short-lived.com');
    t.same(types(gone), ['domain.registered', 'domain.deleted']);
    t.same(gone[1]!.data, await listedDomain(app, r, 'short-lived.com'), 'as the list shows it (status=all)');
  },
);

t.test('issue 13: unpaid, a domain walks expired -> redemption_started -> pending_delete -> released', async (t) => {
  const { app, store } = await buildTestApp(t);
  const { r } = await domainSetup(app);
  const d = await registered(app, r, 'walks-away.com', { autorenew: false });
  const dates = await getDomain(app, r, 'walks-away.com');
  await lifecycle(app, at(dates.pending_delete_ends_at as string, 1000));
  const events = await eventsOf(app, store, r, 'walks-away.com');
  t.same(types(events), [
    'domain.registered',
    'domain.expired',
    'domain.redemption_started',
    'domain.pending_delete',
    'domain.released',
  ]);
  t.same(sequences(events), [1, 2, 3, 4, 5]);
  t.match(
    events.map((e) => e.data.status),
    ['active', 'grace', 'redemption', 'pending_delete', 'released'],
    'each event shows the domain right after its change',
  );
  t.equal(events[1]!.data.autorenew_failed_at, null, 'no autorenewal was attempted');
  t.same(events[4]!.data, await listedDomain(app, r, 'walks-away.com'));
  t.equal(d.name, 'walks-away.com');
});

t.test('issue 13: a lifecycle step that fails leaves no event for it', async (t) => {
  const registry: RegistryBackend = {
    ...builtInRegistry,
    release: async () => {
      throw new Error('registry down');
    },
  };
  const { app, store } = await buildTestApp(t, { registry });
  const { r } = await domainSetup(app);
  await registered(app, r, 'stuck.com', { autorenew: false });
  const dates = await getDomain(app, r, 'stuck.com');
  await lifecycle(app, at(dates.pending_delete_ends_at as string, 1000));
  const events = await eventsOf(app, store, r, 'stuck.com');
  t.same(
    types(events),
    ['domain.registered', 'domain.expired', 'domain.redemption_started', 'domain.pending_delete'],
    'the failed release rolled back its domain.released',
  );
  t.equal((await listedDomain(app, r, 'stuck.com'))?.status, 'pending_delete', 'and the domain stays pending delete');
});

t.test('issue 13: domain.expiring 30 and 7 days ahead, once each per expiry date', async (t) => {
  const { app, store } = await buildTestApp(t);
  const { r } = await domainSetup(app);
  const d = await registered(app, r, 'soon.com');
  const expiring = async () => (await eventsOf(app, store, r, 'soon.com')).filter((e) => e.type === 'domain.expiring');

  t.equal(await notices(app, at(d.expires_at, -31 * DAY_MS)), 0, 'nothing 31 days ahead');
  t.equal(await notices(app, at(d.expires_at, -30 * DAY_MS)), 1, 'the 30-day notice');
  t.equal(await notices(app, at(d.expires_at, -29 * DAY_MS)), 0, 'sent once');
  t.equal(await notices(app, at(d.expires_at, -8 * DAY_MS)), 0, 'nothing between the notices');
  t.equal(await notices(app, at(d.expires_at, -7 * DAY_MS + 3_600_000)), 1, 'the 7-day notice');
  t.equal(await notices(app, at(d.expires_at, -1 * DAY_MS)), 0, 'sent once');
  t.equal(await notices(app, at(d.expires_at, 1000)), 0, 'nothing after expiry');
  const sent = await expiring();
  t.equal(sent.length, 2);
  const now = await getDomain(app, r, 'soon.com');
  t.match(sent[0], { account_id: r.accountId, object: { type: 'domain', id: 'soon.com', sequence: 2 } });
  t.same(sent[0]!.data, { domain: now, days_left: 30, notice_days: 30 });
  t.same(sent[1]!.data, { domain: now, days_left: 7, notice_days: 7 });
  t.equal(sent[1]!.object.sequence, 3);

  // A renewal moves the expiry: the notices start over for the new date.
  const renewed = await app.inject({
    method: 'POST',
    url: '/v1/domains/soon.com/renew',
    headers: bearer(r.token),
    payload: { period_years: 1 },
  });
  const next = renewed.json().domain.expires_at as string;
  t.equal(await notices(app, at(next, -30 * DAY_MS)), 1, 'a 30-day notice for the new expiry');
  t.same((await expiring()).at(-1)?.data, {
    domain: await getDomain(app, r, 'soon.com'),
    days_left: 30,
    notice_days: 30,
  });

  // A run that comes late sends only the notice due now.
  const late = await registered(app, r, 'late-notice.com');
  t.equal(await notices(app, at(late.expires_at, -5 * DAY_MS)), 1);
  const only = (await eventsOf(app, store, r, 'late-notice.com')).filter((e) => e.type === 'domain.expiring');
  t.same(
    only.map((e) => [e.data.notice_days, e.data.days_left]),
    [[7, 5]],
    'one 7-day notice',
  );
  t.equal(await notices(app, at(late.expires_at, -4 * DAY_MS)), 0);
});

// Issue 14 item 5: spam-filter domains and their mailbox overage (R-LIC-4): 1,000 mailboxes per
// domain included, each one above charged per monthly period, once; the projected charge before the
// period closes; an event when a domain goes over.
import t from 'tap';
import type { App } from '../../../src/app.js';
import { buildTestApp } from '../../helpers/app.js';
import { balanceOf, credit } from '../../helpers/domains.js';
import { feedSettled } from '../../helpers/events.js';
import { bearer, operator, reseller, type Reseller } from '../../helpers/fixtures.js';

const DAY = 86_400_000;
const UNIT = 5; // EUR cents per mailbox above 1,000 per month (the catalogue's SPAMEXPERTS-MAILBOX-OVERAGE)

async function setup(t: { teardown(fn: () => unknown): void }, start = '2027-02-01T00:00:00Z') {
  let clock = new Date(start);
  const { app } = await buildTestApp(t, { now: () => clock });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  await credit(app, op.token, r.accountId, 1_000_000);
  return {
    app,
    op,
    r,
    later: (ms: number) => (clock = new Date(clock.getTime() + ms)),
    at: (iso: string) => (clock = new Date(iso)),
    now: () => clock,
  };
}

const add = (app: App, r: Reseller, name: string, extra: Record<string, unknown> = {}) =>
  app.inject({
    method: 'POST',
    url: '/v1/spam-filter/domains',
    headers: bearer(r.token),
    payload: { name, destinations: [{ host: 'mx.pekarna.test', port: 25 }], products: ['incoming'], ...extra },
  });

const mailboxes = (name: string, n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ address: `user${from + i}@${name}` }));

const importReport = (app: App, opToken: string, domain: string, recipients: unknown[]) =>
  app.inject({
    method: 'POST',
    url: '/v1/admin/spam-filter/mailbox-reports',
    headers: bearer(opToken),
    payload: { domain, recipients },
  });

t.test(
  'R-LIC-4 / R-LIC-5: 1,000 mailboxes are included, 1,001 is one over, 2,500 is 1,500 over: projected and charged once per period',
  async (t) => {
    const { app, op, r, later, now } = await setup(t);
    for (const name of ['a.test', 'b.test', 'c.test']) t.equal((await add(app, r, name)).statusCode, 201, name);
    t.equal((await add(app, r, 'a.test')).json().code, 'spam_filter_domain_taken', 'once');

    const cases = [
      ['a.test', 1_000, 0],
      ['b.test', 1_001, 1],
      ['c.test', 2_500, 1_500],
    ] as const;
    for (const [name, n, over] of cases) {
      const res = await importReport(app, op.token, name, mailboxes(name, n));
      t.equal(res.statusCode, 200, res.body);
      t.equal(res.json().mailboxes, n);
      const d = (
        await app.inject({ method: 'GET', url: `/v1/spam-filter/domains/${name}`, headers: bearer(r.token) })
      ).json();
      t.match(
        d.mailboxes,
        {
          current: n,
          included: 1_000,
          over,
          unit_price: { amount: UNIT, currency: 'EUR' },
          projected_charge: { amount: over * UNIT, currency: 'EUR' },
        },
        `${name}: ${n} mailboxes`,
      );
      t.ok(
        d.policies.some((p: any) => p.vendor === 'spamexperts' && p.kind === 'eula'),
        'R-LIC-5: the policies travel',
      );
    }
    await feedSettled(app);
    const events = (
      await app.inject({ method: 'GET', url: '/v1/events?type=spam_filter.over_limit', headers: bearer(r.token) })
    ).json().data;
    t.same(events.map((e: any) => e.data.name).sort(), ['b.test', 'c.test'], 'an event for each domain that went over');

    const before = await balanceOf(app, r);
    await app.jobs.run('spam-filter-overage', now());
    t.equal(await balanceOf(app, r), before, 'nothing charged before the period ends');
    later(29 * DAY); // 2027-03-02: February ended
    await app.jobs.run('spam-filter-overage', now());
    await app.jobs.run('spam-filter-overage', now());
    t.equal(await balanceOf(app, r), before - (1 + 1_500) * UNIT, 'the peak overage of the period, once');
    const c = (
      await app.inject({ method: 'GET', url: '/v1/spam-filter/domains/c.test', headers: bearer(r.token) })
    ).json();
    t.match(c.charges, [
      { mailboxes: 2_500, overage: 1_500, amount: { amount: 7_500, currency: 'EUR' }, status: 'charged' },
    ]);
    t.match(
      c.mailboxes,
      { peak_this_period: 0, projected_charge: { amount: 0 } },
      'a new period: nothing reported yet',
    );
  },
);

t.test('R-LIC-4: the periods a stopped job missed are charged when it runs again, each once', async (t) => {
  const { app, op, r, later, now } = await setup(t);
  t.equal((await add(app, r, 'pekarna.test')).statusCode, 201);
  const before = await balanceOf(app, r);
  await importReport(app, op.token, 'pekarna.test', mailboxes('pekarna.test', 1_200)); // February: 200 over
  later(29 * DAY);
  await importReport(app, op.token, 'pekarna.test', mailboxes('pekarna.test', 1_100)); // March: 100 over
  later(31 * DAY);
  await importReport(app, op.token, 'pekarna.test', mailboxes('pekarna.test', 900)); // April: none over
  later(30 * DAY); // 2027-05-02: February, March and April ended; the job ran in none of them
  await app.jobs.run('spam-filter-overage', now());
  await app.jobs.run('spam-filter-overage', now());
  t.equal(await balanceOf(app, r), before - (200 + 100) * UNIT, 'both missed periods charged, once each');
  const d = (
    await app.inject({ method: 'GET', url: '/v1/spam-filter/domains/pekarna.test', headers: bearer(r.token) })
  ).json();
  t.match(
    d.charges.map((c: any) => [c.period_start.slice(0, 10), c.overage]),
    [
      ['2027-02-01', 200],
      ['2027-03-01', 100],
    ],
  );
  t.equal(d.charges.length, 2, 'no charge for a period within the included mailboxes');
});

t.test('R-LIC-4: an overage the balance did not cover is kept unpaid and collected once it does', async (t) => {
  const { app, op, later, now } = await setup(t);
  const poor = await reseller(app, op.token);
  await credit(app, op.token, poor.accountId, 100);
  t.equal((await add(app, poor, 'pekarna.test')).statusCode, 201);
  await importReport(app, op.token, 'pekarna.test', mailboxes('pekarna.test', 1_300)); // 300 over: 1,500 cents
  later(29 * DAY);
  await app.jobs.run('spam-filter-overage', now());
  const charges = async () =>
    (
      await app.inject({ method: 'GET', url: '/v1/spam-filter/domains/pekarna.test', headers: bearer(poor.token) })
    ).json().charges;
  t.match(await charges(), [{ overage: 300, status: 'unpaid' }]);
  t.equal(await balanceOf(app, poor), 100, 'nothing taken while the balance does not cover it');
  await app.jobs.run('spam-filter-overage', now());
  t.equal(await balanceOf(app, poor), 100, 'still unpaid');
  await credit(app, op.token, poor.accountId, 10_000);
  await app.jobs.run('spam-filter-overage', now());
  await app.jobs.run('spam-filter-overage', now());
  t.match(await charges(), [{ overage: 300, status: 'charged' }]);
  t.equal(await balanceOf(app, poor), 100 + 10_000 - 300 * UNIT, 'collected once');
});

t.test(
  'R-LIC-4: aliases, lists and addresses of other domains are not mailboxes; each mailbox counts once',
  async (t) => {
    const { app, op, r } = await setup(t);
    t.equal((await add(app, r, 'pekarna.test', { aliases: ['pekarna-alias.test'] })).statusCode, 201);
    const res = await importReport(app, op.token, 'pekarna.test', [
      ...mailboxes('pekarna.test', 3),
      { address: 'USER0@pekarna.test' },
      { address: 'sales@pekarna.test', kind: 'alias' },
      { address: 'all@pekarna.test', kind: 'list' },
      { address: 'user9@pekarna-alias.test' },
      { address: 'someone@elsewhere.test' },
    ]);
    t.equal(res.json().mailboxes, 3);
    const missing = await importReport(app, op.token, 'unknown.test', mailboxes('unknown.test', 1));
    t.equal(missing.statusCode, 404);
  },
);

t.test('spam-filter domains: update and remove; another account cannot see them', async (t) => {
  const { app, op, r } = await setup(t);
  await add(app, r, 'pekarna.test');
  const patch = await app.inject({
    method: 'PATCH',
    url: '/v1/spam-filter/domains/pekarna.test',
    headers: bearer(r.token),
    payload: { products: ['incoming', 'archiving'], destinations: [{ host: 'mx2.pekarna.test', port: 2525 }] },
  });
  t.equal(patch.statusCode, 200);
  t.match(patch.json(), {
    products: ['archiving', 'incoming'],
    destinations: [{ host: 'mx2.pekarna.test', port: 2525 }],
  });
  const other = await reseller(app, op.token);
  const peek = await app.inject({
    method: 'GET',
    url: '/v1/spam-filter/domains/pekarna.test',
    headers: bearer(other.token),
  });
  t.equal(peek.statusCode, 404);
  const bad = await app.inject({ method: 'GET', url: '/v1/spam-filter/domains/not_a_name', headers: bearer(r.token) });
  t.equal(bad.statusCode, 422, 'a name that is not a domain name');
  t.equal(bad.json().code, 'validation_failed');
  const del = await app.inject({
    method: 'DELETE',
    url: '/v1/spam-filter/domains/pekarna.test',
    headers: bearer(r.token),
  });
  t.equal(del.statusCode, 204);
  const list = await app.inject({ method: 'GET', url: '/v1/spam-filter/domains', headers: bearer(r.token) });
  t.same(list.json().data, []);
});

const getDomain = async (app: App, r: Reseller, name: string) =>
  (await app.inject({ method: 'GET', url: `/v1/spam-filter/domains/${name}`, headers: bearer(r.token) })).json();

const removeDomain = (app: App, r: Reseller, name: string) =>
  app.inject({ method: 'DELETE', url: `/v1/spam-filter/domains/${name}`, headers: bearer(r.token) });

async function chargedEvents(app: App, r: Reseller) {
  await feedSettled(app);
  const res = await app.inject({
    method: 'GET',
    url: '/v1/events?type=spam_filter.overage_charged',
    headers: bearer(r.token),
  });
  return res.json().data as { data: { name: string; charges: Record<string, any>[] } }[];
}

t.test(
  'R-LIC-4: removing a domain after its period ended, before the job charged it, does not avoid the charge (charged once)',
  async (t) => {
    const { app, op, r, at, now } = await setup(t, '2027-01-10T12:00:00Z');
    t.equal((await add(app, r, 'pekarna.test')).statusCode, 201);
    at('2027-01-20T12:00:00Z');
    await importReport(app, op.token, 'pekarna.test', mailboxes('pekarna.test', 1_500));
    t.match((await getDomain(app, r, 'pekarna.test')).mailboxes, {
      peak_this_period: 1_500,
      projected_charge: { amount: 500 * UNIT, currency: 'EUR' },
      period: { start: '2027-01-10T12:00:00.000Z', end: '2027-02-10T12:00:00.000Z' },
    });
    const before = await balanceOf(app, r);
    at('2027-02-10T12:30:00Z'); // the period is over; the hourly job has not run yet
    t.equal((await removeDomain(app, r, 'pekarna.test')).statusCode, 204);
    t.equal(await balanceOf(app, r), before - 500 * UNIT, 'the ended period is charged at the removal');
    at('2027-02-10T13:00:00Z');
    await app.jobs.run('spam-filter-overage', now());
    await app.jobs.run('spam-filter-overage', now());
    t.equal(await balanceOf(app, r), before - 500 * UNIT, 'once: the job charges it no second time');
    const events = await chargedEvents(app, r);
    t.equal(events.length, 1, 'one spam_filter.overage_charged');
    t.match(events[0]!.data.charges, [
      {
        period_start: '2027-01-10T12:00:00.000Z',
        period_end: '2027-02-10T12:00:00.000Z',
        mailboxes: 1_500,
        overage: 500,
        amount: { amount: 500 * UNIT, currency: 'EUR' },
        status: 'charged',
      },
    ]);
    t.equal((await getDomain(app, r, 'pekarna.test')).code, 'not_found', 'and the domain is gone');
  },
);

t.test(
  'R-LIC-4: a domain removed mid-period is charged the peak of the running period so far; added back, it starts a new period',
  async (t) => {
    const { app, op, r, at, now } = await setup(t, '2027-01-10T12:00:00Z');
    t.equal((await add(app, r, 'pekarna.test')).statusCode, 201);
    const before = await balanceOf(app, r);
    at('2027-01-20T12:00:00Z');
    await importReport(app, op.token, 'pekarna.test', mailboxes('pekarna.test', 1_200));
    at('2027-02-10T13:00:00Z');
    await app.jobs.run('spam-filter-overage', now());
    t.equal(await balanceOf(app, r), before - 200 * UNIT, 'the first period, by the job');
    at('2027-02-15T12:00:00Z');
    await importReport(app, op.token, 'pekarna.test', mailboxes('pekarna.test', 1_500));
    at('2027-02-18T12:00:00Z');
    await importReport(app, op.token, 'pekarna.test', mailboxes('pekarna.test', 1_100));
    at('2027-02-20T12:00:00Z');
    t.equal((await removeDomain(app, r, 'pekarna.test')).statusCode, 204);
    t.equal(
      await balanceOf(app, r),
      before - 200 * UNIT - 500 * UNIT,
      'the running period on its peak so far (1,500), at the removal',
    );
    const events = await chargedEvents(app, r);
    t.match(events.at(-1)!.data.charges.at(-1), {
      period_start: '2027-02-10T12:00:00.000Z',
      period_end: '2027-02-20T12:00:00.000Z',
      mailboxes: 1_500,
      overage: 500,
      status: 'charged',
    });

    // Added back: a new domain with its own periods, from the day it was added again.
    at('2027-02-21T12:00:00Z');
    t.equal((await add(app, r, 'pekarna.test')).statusCode, 201);
    t.match((await getDomain(app, r, 'pekarna.test')).mailboxes, {
      peak_this_period: 0,
      projected_charge: { amount: 0 },
      period: { start: '2027-02-21T12:00:00.000Z', end: '2027-03-21T12:00:00.000Z' },
    });
    at('2027-02-22T12:00:00Z');
    await importReport(app, op.token, 'pekarna.test', mailboxes('pekarna.test', 1_050));
    at('2027-03-10T13:00:00Z'); // the removed domain's period would have ended here
    await app.jobs.run('spam-filter-overage', now());
    t.equal(await balanceOf(app, r), before - 700 * UNIT, 'the removed period is not charged again');
    at('2027-03-21T13:00:00Z');
    await app.jobs.run('spam-filter-overage', now());
    t.equal(await balanceOf(app, r), before - 700 * UNIT - 50 * UNIT, "the new domain's period, at its end");
    t.match((await getDomain(app, r, 'pekarna.test')).charges, [
      { period_start: '2027-02-21T12:00:00.000Z', overage: 50, status: 'charged' },
    ]);
  },
);

t.test(
  'R-LIC-4: an overage charged at the removal that the balance does not cover is kept unpaid (the removal goes through) and collected once it does',
  async (t) => {
    const { app, op, now, at } = await setup(t, '2027-01-10T12:00:00Z');
    const poor = await reseller(app, op.token);
    await credit(app, op.token, poor.accountId, 100);
    t.equal((await add(app, poor, 'pekarna.test')).statusCode, 201);
    await importReport(app, op.token, 'pekarna.test', mailboxes('pekarna.test', 1_300)); // 300 over: 1,500 cents
    at('2027-01-25T12:00:00Z');
    t.equal((await removeDomain(app, poor, 'pekarna.test')).statusCode, 204, 'removed');
    t.equal(await balanceOf(app, poor), 100, 'nothing taken while the balance does not cover it');
    t.match((await chargedEvents(app, poor))[0]!.data.charges, [{ overage: 300, status: 'unpaid' }]);
    await credit(app, op.token, poor.accountId, 10_000);
    await app.jobs.run('spam-filter-overage', now());
    await app.jobs.run('spam-filter-overage', now());
    t.equal(await balanceOf(app, poor), 100 + 10_000 - 300 * UNIT, 'collected once');
  },
);

// R-LIC-4 and the account's currency: the mailbox overage is charged at the catalogue's
// SPAMEXPERTS-MAILBOX-OVERAGE price in the account's currency. An account whose currency has no such
// price cannot add a domain (422 not_sold_in_currency, as a Plesk quote refuses an edition with no
// price); a period settled after the operator removed the price is recorded unpriced (never charged
// 0), with an event, and charged once the catalogue has a price again.
import t from 'tap';
import type { App } from '../../../src/app.js';
import { buildTestApp } from '../../helpers/app.js';
import { balanceOf, credit } from '../../helpers/domains.js';
import { feedSettled } from '../../helpers/events.js';
import { bearer, operator, reseller, type Reseller } from '../../helpers/fixtures.js';

const OVERAGE = 'SPAMEXPERTS-MAILBOX-OVERAGE';

async function setup(t: { teardown(fn: () => unknown): void }, start = '2027-01-10T12:00:00Z') {
  let clock = new Date(start);
  const { app } = await buildTestApp(t, { now: () => clock });
  const op = await operator(app);
  return { app, op, at: (iso: string) => (clock = new Date(iso)), now: () => clock };
}

const add = (app: App, r: Reseller, name: string) =>
  app.inject({
    method: 'POST',
    url: '/v1/spam-filter/domains',
    headers: bearer(r.token),
    payload: { name, destinations: [{ host: 'mx.pekarna.test', port: 25 }], products: ['incoming'] },
  });

const setOveragePrices = (app: App, opToken: string, prices: { currency: string; amount: number }[]) =>
  app.inject({
    method: 'PUT',
    url: `/v1/admin/licenses/products/${OVERAGE}`,
    headers: bearer(opToken),
    payload: {
      kind: 'overage',
      name: 'Spam filter: one mailbox above the 1,000 included per domain, per month',
      active: true,
      prices: prices.map((p) => ({ period_months: 1, ...p })),
    },
  });

const mailboxes = (name: string, n: number) => Array.from({ length: n }, (_, i) => ({ address: `user${i}@${name}` }));

const importReport = (app: App, opToken: string, domain: string, n: number) =>
  app.inject({
    method: 'POST',
    url: '/v1/admin/spam-filter/mailbox-reports',
    headers: bearer(opToken),
    payload: { domain, recipients: mailboxes(domain, n) },
  });

const getDomain = async (app: App, r: Reseller, name: string) =>
  (await app.inject({ method: 'GET', url: `/v1/spam-filter/domains/${name}`, headers: bearer(r.token) })).json();

async function events(app: App, r: Reseller, type: string) {
  await feedSettled(app);
  const res = await app.inject({ method: 'GET', url: `/v1/events?type=${type}`, headers: bearer(r.token) });
  return res.json().data as { data: { name: string; charges: Record<string, unknown>[] } }[];
}

t.test(
  'R-LIC-4: an account whose currency has no overage price cannot add a spam-filter domain (422 not_sold_in_currency); with a price it can',
  async (t) => {
    const { app, op } = await setup(t);
    const rub = await reseller(app, op.token, { currency: 'RUB' });
    const res = await add(app, rub, 'pekarna.test');
    t.equal(res.statusCode, 422, res.body);
    t.match(res.json(), {
      code: 'validation_failed',
      errors: [{ pointer: '/body', code: 'not_sold_in_currency', message: /RUB/ }],
    });
    const list = await app.inject({ method: 'GET', url: '/v1/spam-filter/domains', headers: bearer(rub.token) });
    t.same(list.json().data, [], 'nothing is filtered');
    const eur = await reseller(app, op.token);
    t.equal((await add(app, eur, 'pekarna.test')).statusCode, 201, 'the name was not taken by the refusal');

    t.equal(
      (
        await setOveragePrices(app, op.token, [
          { currency: 'EUR', amount: 5 },
          { currency: 'USD', amount: 6 },
          { currency: 'RUB', amount: 450 },
        ])
      ).statusCode,
      200,
    );
    const added = await add(app, rub, 'kotik.test');
    t.equal(added.statusCode, 201, added.body);
    t.match(added.json().mailboxes, {
      unit_price: { amount: 450, currency: 'RUB' },
      projected_charge: { amount: 0, currency: 'RUB' },
    });
  },
);

t.test(
  'R-LIC-4: the overage price removed after a domain was added: the period is recorded unpriced with an event, never charged 0, and charged once a price is set again',
  async (t) => {
    const { app, op, at, now } = await setup(t);
    const r = await reseller(app, op.token);
    await credit(app, op.token, r.accountId, 1_000_000);
    t.equal((await add(app, r, 'pekarna.test')).statusCode, 201);
    at('2027-01-20T12:00:00Z');
    await importReport(app, op.token, 'pekarna.test', 1_500);
    t.equal((await setOveragePrices(app, op.token, [{ currency: 'USD', amount: 6 }])).statusCode, 200);
    t.match(
      (await getDomain(app, r, 'pekarna.test')).mailboxes,
      { over: 500, unit_price: null, projected_charge: null },
      'no price: no projected charge, not 0',
    );
    const before = await balanceOf(app, r);
    at('2027-02-10T13:00:00Z'); // the period ended
    await app.jobs.run('spam-filter-overage', now());
    await app.jobs.run('spam-filter-overage', now());
    t.equal(await balanceOf(app, r), before, 'nothing charged');
    t.match((await getDomain(app, r, 'pekarna.test')).charges, [
      {
        period_start: '2027-01-10T12:00:00.000Z',
        period_end: '2027-02-10T12:00:00.000Z',
        mailboxes: 1_500,
        overage: 500,
        amount: { amount: 0, currency: 'EUR' },
        status: 'unpriced',
      },
    ]);
    const unpriced = await events(app, r, 'spam_filter.overage_unpriced');
    t.equal(unpriced.length, 1, 'one spam_filter.overage_unpriced, whatever the number of runs');
    t.equal((await events(app, r, 'spam_filter.overage_charged')).length, 0);

    t.equal((await setOveragePrices(app, op.token, [{ currency: 'EUR', amount: 7 }])).statusCode, 200);
    at('2027-02-10T14:00:00Z');
    await app.jobs.run('spam-filter-overage', now());
    await app.jobs.run('spam-filter-overage', now());
    t.equal(await balanceOf(app, r), before - 500 * 7, 'charged once, at the price set again');
    t.match((await getDomain(app, r, 'pekarna.test')).charges, [
      { overage: 500, amount: { amount: 500 * 7, currency: 'EUR' }, status: 'charged' },
    ]);
    t.equal((await events(app, r, 'spam_filter.overage_charged')).length, 1, 'one spam_filter.overage_charged');
  },
);

t.test(
  'R-LIC-4: a domain removed while its currency has no overage price is removed, its overage recorded unpriced and charged once a price is set',
  async (t) => {
    const { app, op, at, now } = await setup(t);
    const r = await reseller(app, op.token);
    await credit(app, op.token, r.accountId, 1_000_000);
    t.equal((await add(app, r, 'pekarna.test')).statusCode, 201);
    at('2027-01-20T12:00:00Z');
    await importReport(app, op.token, 'pekarna.test', 1_200);
    t.equal((await setOveragePrices(app, op.token, [])).statusCode, 200);
    const before = await balanceOf(app, r);
    at('2027-01-25T12:00:00Z');
    const del = await app.inject({
      method: 'DELETE',
      url: '/v1/spam-filter/domains/pekarna.test',
      headers: bearer(r.token),
    });
    t.equal(del.statusCode, 204, 'the removal goes through');
    t.equal(await balanceOf(app, r), before, 'nothing charged, not 0 as a charge');
    const [unpriced] = await events(app, r, 'spam_filter.overage_unpriced');
    t.match(unpriced?.data.charges, [
      { period_end: '2027-01-25T12:00:00.000Z', overage: 200, amount: { amount: 0 }, status: 'unpriced' },
    ]);
    at('2027-01-26T12:00:00Z');
    await app.jobs.run('spam-filter-overage', now());
    t.equal(await balanceOf(app, r), before, 'still no price: still nothing');
    t.equal((await setOveragePrices(app, op.token, [{ currency: 'EUR', amount: 5 }])).statusCode, 200);
    await app.jobs.run('spam-filter-overage', now());
    await app.jobs.run('spam-filter-overage', now());
    t.equal(await balanceOf(app, r), before - 200 * 5, 'charged once the price is back (the domain is gone)');
  },
);

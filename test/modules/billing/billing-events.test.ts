// Issue 13 item 1 (billing): billing.credit_added and billing.balance_low, written by the ledger in
// the transaction (or the single statement) that moves the money, read back through GET /v1/events.
import t from 'tap';
import type { App } from '../../../src/app.js';
import { charge, credit, InsufficientFunds } from '../../../src/modules/billing/api.js';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres } from '../../helpers/db.js';
import { feedSettled } from '../../helpers/events.js';
import { credit as operatorCredit, domainSetup, registered } from '../../helpers/domains.js';
import { bearer, operator, reseller, type Reseller } from '../../helpers/fixtures.js';

interface FeedEvent {
  id: string;
  type: string;
  account_id: string;
  object: { type: string; id: string; sequence: number };
  data: Record<string, unknown>;
}

async function events(app: App, r: Reseller, type: string): Promise<FeedEvent[]> {
  await feedSettled(app);
  const res = await app.inject({ method: 'GET', url: `/v1/events?type=${type}&limit=500`, headers: bearer(r.token) });
  if (res.statusCode !== 200) throw new Error(`events: ${res.statusCode} ${res.body}`);
  return res.json<{ data: FeedEvent[] }>().data;
}

const balanceView = async (app: App, r: Reseller) =>
  (await app.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(r.token) })).json<
    Record<string, unknown>
  >();

const setThreshold = (app: App, r: Reseller, threshold: { amount: number; currency: string } | null) =>
  app.inject({
    method: 'PATCH',
    url: '/v1/account',
    headers: bearer(r.token),
    payload: { low_balance_threshold: threshold },
  });

const EUR = (amount: number) => ({ amount, currency: 'EUR' });

t.test(
  'issue 13 item 1: an operator credit writes billing.credit_added once, data as the ledger shows it',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const res = await app.inject({
      method: 'POST',
      url: `/v1/admin/accounts/${r.accountId}/credit`,
      headers: bearer(op.token),
      payload: { amount: EUR(12_345), reason: 'bank transfer', reference: 'INV-42' },
    });
    t.equal(res.statusCode, 201);
    const entry = res.json().transaction;
    const [listed] = (
      await app.inject({ method: 'GET', url: '/v1/billing/transactions', headers: bearer(r.token) })
    ).json().data;
    const feed = await events(app, r, 'billing.credit_added');
    t.equal(feed.length, 1, 'exactly one event');
    t.match(feed[0], {
      type: 'billing.credit_added',
      account_id: r.accountId,
      object: { type: 'transaction', id: String(entry.id), sequence: 1 },
    });
    t.same(feed[0]!.data, entry, 'data is the entry the credit answered');
    t.same(feed[0]!.data, listed, 'and as GET /v1/billing/transactions shows it');
    t.same(await events(app, r, 'billing.balance_low'), [], 'no threshold: no low-balance event');
  },
);

t.test(
  'issue 13 item 1: billing.balance_low once per fall below the threshold, through registrations (one statement), renewals and refunds; again after recovery',
  async (t) => {
    const { app } = await buildTestApp(t);
    const { op, r } = await domainSetup(app, 5_000);

    // The threshold is an account setting (PATCH /v1/account) shown by the account and the balance.
    const set = await setThreshold(app, r, EUR(3_000));
    t.equal(set.statusCode, 200);
    t.same(set.json().low_balance_threshold, EUR(3_000));
    t.same(
      (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) })).json().low_balance_threshold,
      EUR(3_000),
    );
    t.same(await balanceView(app, r), {
      balance: EUR(5_000),
      credit_limit: EUR(0),
      available: EUR(5_000),
      low_balance_threshold: EUR(3_000),
    });
    t.same(await events(app, r, 'billing.balance_low'), [], 'set below the balance: nothing to report');

    // .com costs 1,099 a year. The registration's fast path is one statement with its charge.
    const first = await registered(app, r, 'first.com');
    t.same(await events(app, r, 'billing.balance_low'), [], '3,901 is not below 3,000');
    await registered(app, r, 'second.com');
    let feed = await events(app, r, 'billing.balance_low');
    t.equal(feed.length, 1, '2,802: the fall is reported once');
    t.match(feed[0], { account_id: r.accountId, object: { type: 'account', id: r.accountId, sequence: 1 } });
    t.same(feed[0]!.data, await balanceView(app, r), 'data is GET /v1/billing/balance after the charge');
    t.same(feed[0]!.data.balance, EUR(2_802));

    await registered(app, r, 'third.com');
    t.equal((await events(app, r, 'billing.balance_low')).length, 1, 'a further charge below it reports nothing');

    // Refunds (a deletion within the add grace period) bring it back up: 1,703 -> 2,802 -> 3,901.
    for (const name of ['third.com', 'second.com']) {
      await app.inject({ method: 'POST', url: `/v1/domains/${name}/unlock`, headers: bearer(r.token) });
      const del = await app.inject({
        method: 'DELETE',
        url: `/v1/domains/${name}?confirm=true`,
        headers: bearer(r.token),
      });
      t.equal(del.statusCode, 200, `${name} deleted within the add grace period`);
      t.same(del.json().refunded, EUR(1_099));
    }
    t.same((await balanceView(app, r)).balance, EUR(3_901));
    t.equal((await events(app, r, 'billing.balance_low')).length, 1, 'recovering reports nothing');

    // A renewal (charge() in the renewal's transaction) takes it below again: a second report.
    const renew = await app.inject({
      method: 'POST',
      url: '/v1/domains/first.com/renew',
      headers: bearer(r.token),
      payload: { period_years: 1, current_expires_at: first.expires_at },
    });
    t.equal(renew.statusCode, 200, 'renewed');
    feed = await events(app, r, 'billing.balance_low');
    t.equal(feed.length, 2, 'the next fall after a recovery is reported again');
    t.equal(feed[1]!.object.sequence, 2);
    t.same(feed[1]!.data, await balanceView(app, r));
    t.same(feed[1]!.data.balance, EUR(2_802));

    // Exactly at the threshold is not below it.
    await operatorCredit(app, op.token, r.accountId, 198);
    t.same((await setThreshold(app, r, EUR(3_000))).statusCode, 200);
    t.equal((await events(app, r, 'billing.balance_low')).length, 2, '3,000 is at the threshold, not below');
    await charge(app.db, { accountId: r.accountId, money: EUR(1), reason: 'one cent' });
    t.equal((await events(app, r, 'billing.balance_low')).length, 3, '2,999 is below: reported');
  },
);

t.test(
  'issue 13 item 1: setting a threshold above the balance reports at once; raising it again does not; null switches it off; another currency is refused',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    await operatorCredit(app, op.token, r.accountId, 1_000);

    const wrong = await setThreshold(app, r, { amount: 500, currency: 'USD' });
    t.equal(wrong.statusCode, 422);
    t.equal(wrong.json().code, 'currency_mismatch');
    t.same((await balanceView(app, r)).low_balance_threshold, null, 'nothing changed');

    // A refused PATCH (the 2FA policy needs 2FA first) changes nothing and reports nothing.
    const refused = await app.inject({
      method: 'PATCH',
      url: '/v1/account',
      headers: bearer(r.token),
      payload: { require_two_factor: true, low_balance_threshold: EUR(2_000) },
    });
    t.equal(refused.statusCode, 409);
    t.same((await balanceView(app, r)).low_balance_threshold, null);
    t.same(await events(app, r, 'billing.balance_low'), []);

    t.equal((await setThreshold(app, r, EUR(2_000))).statusCode, 200);
    let feed = await events(app, r, 'billing.balance_low');
    t.equal(feed.length, 1, 'the balance is already below it: reported by the PATCH');
    t.same(feed[0]!.data, await balanceView(app, r));
    await setThreshold(app, r, EUR(3_000));
    await charge(app.db, { accountId: r.accountId, money: EUR(100), reason: 'x' });
    t.equal((await events(app, r, 'billing.balance_low')).length, 1, 'still the same fall: once');

    const off = await setThreshold(app, r, null);
    t.equal(off.json().low_balance_threshold, null);
    t.same((await balanceView(app, r)).low_balance_threshold, null);
    await operatorCredit(app, op.token, r.accountId, 5_000);
    await charge(app.db, { accountId: r.accountId, money: EUR(5_500), reason: 'x' });
    feed = await events(app, r, 'billing.balance_low');
    t.equal(feed.length, 1, 'switched off: nothing');

    // Lowered below the balance, the next fall is reported.
    await setThreshold(app, r, EUR(300));
    await charge(app.db, { accountId: r.accountId, money: EUR(150), reason: 'x' });
    feed = await events(app, r, 'billing.balance_low');
    t.equal(feed.length, 2, '400 - 150 = 250: reported');
    t.same(feed[1]!.data, await balanceView(app, r));
    t.same(feed[1]!.data.balance, EUR(250));
  },
);

t.test('issue 13 item 1: a rolled-back movement leaves no event, and no notified flag', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  await operatorCredit(app, op.token, r.accountId, 1_000);
  await setThreshold(app, r, EUR(500));

  await t.rejects(
    app.db.transaction(async (tx) => {
      await credit(tx, { accountId: r.accountId, money: EUR(10), reason: 'rolled back' });
      await charge(tx, { accountId: r.accountId, money: EUR(900), reason: 'falls below' });
      throw new Error('the order failed after its payment');
    }),
    /the order failed/,
  );
  t.same(await events(app, r, 'billing.balance_low'), [], 'the fall rolled back with its event');
  t.equal((await events(app, r, 'billing.credit_added')).length, 1, 'only the committed credit');

  // A refused charge moves nothing and reports nothing.
  await t.rejects(charge(app.db, { accountId: r.accountId, money: EUR(5_000), reason: 'too much' }), InsufficientFunds);
  t.same(await events(app, r, 'billing.balance_low'), []);

  // The flag rolled back too: the same fall, committed, is reported.
  await charge(app.db, { accountId: r.accountId, money: EUR(900), reason: 'falls below' });
  t.equal((await events(app, r, 'billing.balance_low')).length, 1);
});

t.test(
  'issue 13 item 1: concurrent charges across the threshold report the fall exactly once',
  { skip: !onPostgres && 'needs PostgreSQL' },
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    await operatorCredit(app, op.token, r.accountId, 3_000);
    await setThreshold(app, r, EUR(2_000));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        app.db.transaction((tx) => charge(tx, { accountId: r.accountId, money: EUR(100), reason: `c${i}` })),
      ),
    );
    const feed = await events(app, r, 'billing.balance_low');
    t.equal(feed.length, 1);
    t.same(feed[0]!.data.balance, EUR(1_900), 'reported by the charge that crossed, with its balance');
  },
);

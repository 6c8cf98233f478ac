import t from 'tap';
import { eq } from 'drizzle-orm';
import { accounts, ledgerTransactions } from '../../../src/db/schema/index.js';
import { chargeAccount, InsufficientFunds } from '../../../src/modules/billing/ledger.js';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres, testStore } from '../../helpers/db.js';
import { bearer, operator, reseller } from '../../helpers/fixtures.js';

t.test('operators credit an account; the reseller sees the balance and the ledger', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token, { currency: 'RUB', creditLimit: 50_000 });
  const credit = await app.inject({
    method: 'POST',
    url: `/v1/admin/accounts/${r.accountId}/credit`,
    headers: bearer(op.token),
    payload: { amount: { amount: 120_000, currency: 'RUB' }, reason: 'bank transfer', reference: 'INV-1' },
  });
  t.equal(credit.statusCode, 201);
  t.same(credit.json().transaction.balance_after, { amount: 120_000, currency: 'RUB' });
  const balance = (await app.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(r.token) })).json();
  t.same(balance, {
    balance: { amount: 120_000, currency: 'RUB' },
    credit_limit: { amount: 50_000, currency: 'RUB' },
    available: { amount: 170_000, currency: 'RUB' },
  });
  const tx = (await app.inject({ method: 'GET', url: '/v1/billing/transactions', headers: bearer(r.token) })).json();
  t.match(tx.data, [
    { type: 'credit', amount: { amount: 120_000, currency: 'RUB' }, reason: 'bank transfer', reference: 'INV-1' },
  ]);

  const wrongCurrency = await app.inject({
    method: 'POST',
    url: `/v1/admin/accounts/${r.accountId}/credit`,
    headers: bearer(op.token),
    payload: { amount: { amount: 1, currency: 'EUR' }, reason: 'x' },
  });
  t.equal(wrongCurrency.statusCode, 422);
  t.equal(wrongCurrency.json().code, 'currency_mismatch');
  const negative = await app.inject({
    method: 'POST',
    url: `/v1/admin/accounts/${r.accountId}/credit`,
    headers: bearer(op.token),
    payload: { amount: { amount: -5, currency: 'RUB' }, reason: 'x' },
  });
  t.equal(negative.statusCode, 422, 'a credit is positive');
  const denied = await app.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(op.token) });
  t.equal(denied.statusCode, 403);
});

t.test('charges stop at the credit limit with insufficient_funds and leave the balance alone', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token, { creditLimit: 1_000 });
  await chargeAccount(store.db, { accountId: r.accountId, money: { amount: 900, currency: 'EUR' }, reason: 'order 1' });
  await t.rejects(
    chargeAccount(store.db, { accountId: r.accountId, money: { amount: 101, currency: 'EUR' }, reason: 'order 2' }),
    InsufficientFunds,
  );
  const [acc] = await store.db.select().from(accounts).where(eq(accounts.id, r.accountId));
  t.equal(acc?.balance, -900);
  await chargeAccount(store.db, { accountId: r.accountId, money: { amount: 100, currency: 'EUR' }, reason: 'order 3' });
  const [after] = await store.db.select().from(accounts).where(eq(accounts.id, r.accountId));
  t.equal(after?.balance, -1_000, 'exactly down to the limit');
});

t.test(
  '50 concurrent charges against a balance that covers 10: exactly 10 succeed',
  { skip: !onPostgres && 'needs PostgreSQL' },
  async (t) => {
    const store = await testStore(t, { poolMax: 20 });
    const { app } = await buildTestApp(t, { store });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    await app.inject({
      method: 'POST',
      url: `/v1/admin/accounts/${r.accountId}/credit`,
      headers: bearer(op.token),
      payload: { amount: { amount: 10_000, currency: 'EUR' }, reason: 'funds for 10' },
    });
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        chargeAccount(store.db, {
          accountId: r.accountId,
          money: { amount: 1_000, currency: 'EUR' },
          reason: `order ${i}`,
        }),
      ),
    );
    const ok = results.filter((x) => x.status === 'fulfilled').length;
    const refused = results.filter((x) => x.status === 'rejected' && x.reason instanceof InsufficientFunds).length;
    t.equal(ok, 10, 'ten charges succeed');
    t.equal(refused, 40, 'forty are refused for insufficient funds, none fail otherwise');
    const [acc] = await store.db.select().from(accounts).where(eq(accounts.id, r.accountId));
    t.equal(acc?.balance, 0, 'the balance is exact');
    const rows = await store.db.select().from(ledgerTransactions).where(eq(ledgerTransactions.accountId, r.accountId));
    t.equal(rows.filter((x) => x.type === 'charge').length, 10);
    const balances = rows
      .filter((x) => x.type === 'charge')
      .map((x) => x.balanceAfter)
      .sort((a, b) => b - a);
    t.same(balances, [9000, 8000, 7000, 6000, 5000, 4000, 3000, 2000, 1000, 0], 'each charge saw the previous one');
  },
);

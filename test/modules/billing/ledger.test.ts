import t from 'tap';
import { asc, eq, sql } from 'drizzle-orm';
import { pgTable, serial, text } from 'drizzle-orm/pg-core';
import type { Db } from '../../../src/db/client.js';
import { accounts, ledgerTransactions } from '../../../src/db/schema/index.js';
import { NotFound } from '../../../src/errors.js';
import {
  charge,
  chargedSince,
  credit,
  CurrencyMismatch,
  getBalance,
  InsufficientFunds,
  refund,
  statementWithCharge,
} from '../../../src/modules/billing/api.js';
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
    low_balance_threshold: null,
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
  await charge(store.db, { accountId: r.accountId, money: { amount: 900, currency: 'EUR' }, reason: 'order 1' });
  await t.rejects(
    charge(store.db, { accountId: r.accountId, money: { amount: 101, currency: 'EUR' }, reason: 'order 2' }),
    InsufficientFunds,
  );
  const [acc] = await store.db.select().from(accounts).where(eq(accounts.id, r.accountId));
  t.equal(acc?.balance, -900);
  await charge(store.db, { accountId: r.accountId, money: { amount: 100, currency: 'EUR' }, reason: 'order 3' });
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
        charge(store.db, {
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

// A table standing in for the outbox of the next issue: any row an area writes beside its charge.
const testOutbox = pgTable('test_outbox', { id: serial('id').primaryKey(), payload: text('payload').notNull() });
async function outboxTable(db: Db) {
  await db.execute(sql`create table if not exists test_outbox (id serial primary key, payload text not null)`);
  return async () => (await db.select().from(testOutbox).orderBy(asc(testOutbox.id))).map((r) => r.payload);
}

async function funded(
  t: Parameters<typeof buildTestApp>[0],
  opts: { currency?: string; creditLimit?: number; credit?: number } = {},
) {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token, opts);
  if (opts.credit)
    await credit(store.db, {
      accountId: r.accountId,
      money: { amount: opts.credit, currency: opts.currency ?? 'EUR' },
      reason: 'funds',
    });
  const entries = () => store.db.select().from(ledgerTransactions).where(eq(ledgerTransactions.accountId, r.accountId));
  return { app, db: store.db, accountId: r.accountId, entries };
}

t.test('charge, refund and credit move the balance each its way and leave one entry each', async (t) => {
  const { db, accountId, entries } = await funded(t, { creditLimit: 500 });
  const money = (amount: number) => ({ amount, currency: 'EUR' });
  const credited = await credit(db, { accountId, money: money(1_000), reason: 'bank transfer', reference: 'INV-7' });
  t.equal(credited.balanceAfter, 1_000);
  const charged = await charge(db, { accountId, money: money(1_200), reason: 'order', reference: 'domain:a.com' });
  t.equal(charged?.type, 'charge');
  t.equal(charged?.balanceAfter, -200, 'a charge may use the credit limit');
  const fee = await charge(db, { accountId, money: money(100), reason: 'handling fee', kind: 'fee' });
  t.equal(fee?.type, 'fee');
  const refunded = await refund(db, { accountId, money: money(300), reason: 'undone', reference: 'domain:a.com' });
  t.equal(refunded?.type, 'refund');
  t.equal(refunded?.balanceAfter, 0);
  t.same(await getBalance(db, accountId), {
    balance: 0,
    creditLimit: 500,
    available: 500,
    currency: 'EUR',
    lowBalanceThreshold: null,
  });
  t.same(
    (await entries()).map((e) => [e.type, e.amount, e.balanceAfter]),
    [
      ['credit', 1_000, 1_000],
      ['charge', 1_200, -200],
      ['fee', 100, -300],
      ['refund', 300, 0],
    ],
  );
  t.same(await chargedSince(db, { accountId, reference: 'domain:a.com', since: new Date(0) }), money(1_200));
  t.equal(await chargedSince(db, { accountId, reference: 'domain:b.com', since: new Date(0) }), undefined);

  t.equal(await charge(db, { accountId, money: money(0), reason: 'free TLD' }), null, 'a free charge writes no entry');
  t.equal(await refund(db, { accountId, money: money(0), reason: 'free TLD' }), null);
  t.equal((await entries()).length, 4);
  await t.rejects(credit(db, { accountId, money: money(0), reason: 'nothing' }), /positive integers/);
  await t.rejects(charge(db, { accountId, money: money(1.5), reason: 'fraction' }), /positive integers/);
  await t.rejects(charge(db, { accountId, money: money(-1), reason: 'negative' }), /positive integers/);
});

t.test('insufficient_funds (402) says what is available and what was required; nothing moves', async (t) => {
  const { db, accountId, entries } = await funded(t, { creditLimit: 1_000, credit: 250 });
  const err = await charge(db, { accountId, money: { amount: 1_251, currency: 'EUR' }, reason: 'too much' }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof InsufficientFunds);
  t.equal((err as InstanceType<typeof InsufficientFunds>).statusCode, 402);
  t.same((err as InstanceType<typeof InsufficientFunds>).extensions, {
    available: { amount: 1_250, currency: 'EUR' },
    required: { amount: 1_251, currency: 'EUR' },
  });
  t.same(await getBalance(db, accountId), {
    balance: 250,
    creditLimit: 1_000,
    available: 1_250,
    currency: 'EUR',
    lowBalanceThreshold: null,
  });
  t.equal((await entries()).length, 1, 'only the credit');
  // Credits and refunds are never refused for the balance.
  t.ok(await refund(db, { accountId, money: { amount: 1, currency: 'EUR' }, reason: 'back' }));
});

t.test("currency_mismatch: every movement is in the account's currency; no such account: not_found", async (t) => {
  const { db, accountId, entries } = await funded(t, { currency: 'RUB', credit: 10_000 });
  const usd = { amount: 1, currency: 'USD' };
  await t.rejects(charge(db, { accountId, money: usd, reason: 'x' }), CurrencyMismatch);
  await t.rejects(refund(db, { accountId, money: usd, reason: 'x' }), CurrencyMismatch);
  await t.rejects(credit(db, { accountId, money: usd, reason: 'x' }), CurrencyMismatch);
  t.equal((await entries()).length, 1);
  const nobody = '00000000-0000-4000-8000-000000000000';
  await t.rejects(charge(db, { accountId: nobody, money: { amount: 1, currency: 'RUB' }, reason: 'x' }), NotFound);
  await t.rejects(getBalance(db, nobody), NotFound);
});

t.test('a charge and another row written in one transaction commit together and roll back together', async (t) => {
  const { db, accountId, entries } = await funded(t, { credit: 1_000 });
  const outbox = await outboxTable(db);
  const order = (payload: string, fail: boolean) =>
    db.transaction(async (tx) => {
      await charge(tx, { accountId, money: { amount: 400, currency: 'EUR' }, reason: payload });
      await tx.insert(testOutbox).values({ payload });
      if (fail) throw new Error('the order failed after its charge');
    });
  await t.rejects(order('rolled back', true), /the order failed/);
  t.same(await outbox(), [], 'no event');
  t.equal((await getBalance(db, accountId)).balance, 1_000, 'no charge');
  t.equal((await entries()).length, 1, 'no ledger entry');

  await order('committed', false);
  t.same(await outbox(), ['committed']);
  t.equal((await getBalance(db, accountId)).balance, 600);

  // A refused charge inside the transaction undoes the row written before it, too.
  await t.rejects(
    db.transaction(async (tx) => {
      await tx.insert(testOutbox).values({ payload: 'before a refused charge' });
      await charge(tx, { accountId, money: { amount: 601, currency: 'EUR' }, reason: 'too much' });
    }),
    InsufficientFunds,
  );
  t.same(await outbox(), ['committed']);
});

t.test('a statement with a charge (the registration fast path) refuses exactly what charge() refuses', async (t) => {
  const { db, accountId, entries } = await funded(t, { creditLimit: 100, credit: 200 });
  const outbox = await outboxTable(db);
  const withCharge = statementWithCharge<{ id: number }>('test_outbox_with_charge', {
    with: sql`probe as (insert into test_outbox (payload) values (${sql.placeholder('payload')}::text) returning id)`,
    when: sql`exists (select 1 from probe)`,
    select: sql`probe.id`,
    from: sql`probe`,
  });
  const post = (payload: string, amount: number, currency = 'EUR') =>
    withCharge.alone(db, { payload }, { accountId, money: { amount, currency }, reason: payload });

  t.equal((await post('paid', 250)).length, 1);
  t.same(await outbox(), ['paid']);
  t.equal((await getBalance(db, accountId)).balance, -50);

  // The same balance rule as charge(): the same refusal, with the same extras; nothing written.
  const slow = await charge(db, { accountId, money: { amount: 51, currency: 'EUR' }, reason: 'x' }).catch((e) => e);
  const fast = await post('refused', 51).catch((e: unknown) => e);
  t.ok(fast instanceof InsufficientFunds);
  t.same(
    (fast as InstanceType<typeof InsufficientFunds>).extensions,
    (slow as InstanceType<typeof InsufficientFunds>).extensions,
  );
  t.same((fast as InstanceType<typeof InsufficientFunds>).extensions, {
    available: { amount: 50, currency: 'EUR' },
    required: { amount: 51, currency: 'EUR' },
  });
  await t.rejects(post('wrong currency', 1, 'USD'), CurrencyMismatch);
  t.same(await outbox(), ['paid'], 'a refused charge undid the row of its statement');
  t.equal((await post('exactly to the limit', 50)).length, 1);
  t.equal((await post('free', 0)).length, 1, 'an amount of 0 writes the row and no entry');
  t.same(
    (await entries()).map((e) => e.reason),
    ['funds', 'paid', 'exactly to the limit'],
  );

  // Inside the caller's transaction: a refusal is thrown and the transaction stays usable.
  const rows = await db.transaction(async (tx) => {
    await t.rejects(
      withCharge.within(
        tx,
        { payload: 'refused within' },
        { accountId, money: { amount: 1, currency: 'EUR' }, reason: 'x' },
      ),
      InsufficientFunds,
    );
    await credit(tx, { accountId, money: { amount: 10, currency: 'EUR' }, reason: 'top-up' });
    return withCharge.within(
      tx,
      { payload: 'within' },
      { accountId, money: { amount: 10, currency: 'EUR' }, reason: 'within' },
    );
  });
  t.equal(rows.length, 1);
  t.same(await outbox(), ['paid', 'exactly to the limit', 'free', 'within']);
});

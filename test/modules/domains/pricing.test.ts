import t from 'tap';
import { ValidationFailed } from '../../../src/errors.js';
import {
  assertMaxPrice,
  honourQuote,
  isPremium,
  labelOf,
  operationPrice,
  PriceChanged,
  registerPrice,
} from '../../../src/modules/domains/pricing.js';
import type { TldEntry } from '../../../src/modules/domains/tld-service.js';

const entry = (prices: [TldEntry['prices'][number]['operation'], number][]): TldEntry =>
  ({
    rules: { tld: 'com' },
    prices: prices.map(([operation, amount]) => ({ operation, currency: 'EUR', amount })),
    reserved: [],
    premium: [{ label: 'gold', currency: 'EUR', registerAmount: 50_000, renewAmount: 40_000 }],
  }) as unknown as TldEntry;

const com = entry([
  ['register', 1_000],
  ['renew', 1_200],
  ['transfer', 900],
  ['restore', 8_000],
]);

t.test('R-DOM-5: each operation is priced from the catalogue; premium names keep their own prices', async (t) => {
  t.equal(labelOf('gold.com'), 'gold');
  t.equal(labelOf('a.b.co.uk'), 'a');
  const cases: [string, string, number | undefined][] = [
    ['plain', 'register', 1_000],
    ['gold', 'register', 50_000],
    ['plain', 'renew', 1_200],
    ['gold', 'renew', 40_000],
    ['plain', 'transfer', 900],
    ['gold', 'transfer', 40_000],
    ['plain', 'restore', 8_000],
    ['gold', 'restore', 8_000],
  ];
  for (const [label, op, want] of cases) {
    const got = op === 'register' ? registerPrice(com, label) : operationPrice(com, label, op as 'renew', 'EUR');
    t.equal(got, want, `${op} ${label}`);
  }
  t.ok(isPremium(com, 'gold'));
  t.notOk(isPremium(com, 'plain'));
});

t.test('R-DOM-5: a TLD without a price in the currency is not sold in it', async (t) => {
  const unpriced = entry([]);
  t.equal(registerPrice(unpriced, 'plain'), undefined);
  t.throws(() => operationPrice(unpriced, 'plain', 'renew', 'EUR'), ValidationFailed);
  t.equal(operationPrice(unpriced, 'gold', 'renew', 'EUR'), 40_000, 'a premium name has its own price');
});

t.test('a quote is a ceiling and max_price refuses above it', async (t) => {
  t.equal(honourQuote(1_000, 1_200), 1_000, 'the price fell since the quote: the lower one');
  t.equal(honourQuote(1_500, 1_200), 1_200, 'the price rose: the quote holds');
  t.equal(honourQuote(undefined, 1_200), 1_200);
  const total = { amount: 2_000, currency: 'EUR' };
  t.doesNotThrow(() => assertMaxPrice(total, undefined));
  t.doesNotThrow(() => assertMaxPrice(total, { amount: 2_000, currency: 'EUR' }));
  for (const max of [
    { amount: 1_999, currency: 'EUR' },
    { amount: 5_000, currency: 'USD' },
  ]) {
    const err = (() => {
      try {
        assertMaxPrice(total, max, 'The renewal');
      } catch (e) {
        return e;
      }
    })();
    t.ok(err instanceof PriceChanged);
    t.match(err, {
      message: 'The renewal costs 2000 EUR, above max_price',
      extensions: { price: total, max_price: max },
    });
  }
});

// R-ADD-2: an add-on bought mid-term is charged pro rata, per second, for the rest of the package's
// term, rounded half up once. Every expected amount below is worked out by hand in its comment.
import t from 'tap';
import { prorate, termEnd } from '../../../src/modules/hosting/proration.js';

const WHMCS = 80_000; // 800.00 RUB a month, in kopecks
const d = (iso: string) => new Date(iso);

/** A term of `months` from `start`, bought at `at`. */
const buy = (monthlyPrice: number, months: number, start: string, at: string | Date) => {
  const termStart = d(start);
  return prorate({ monthlyPrice, months, termStart, termEnd: termEnd(termStart, months), at: new Date(at) });
};

t.test('R-ADD-2: WHMCS bought halfway through a 28-day February costs exactly half', async (t) => {
  // 2027-02-01 → 2027-03-01 = 28 days = 2,419,200 s; from 02-15 14 days = 1,209,600 s are left.
  // 80000 × 1 × 1,209,600 / 2,419,200 = 80000 / 2 = 40000.
  const p = buy(WHMCS, 1, '2027-02-01T00:00:00Z', '2027-02-15T00:00:00Z');
  t.same(p, {
    term_start: '2027-02-01T00:00:00.000Z',
    term_end: '2027-03-01T00:00:00.000Z',
    term_seconds: 2_419_200,
    seconds_remaining: 1_209_600,
    months: 1,
    monthly_price: 80_000,
    amount: 40_000,
  });
});

t.test('R-ADD-2: 30-day and 31-day months, bought after 10 days', async (t) => {
  // April 2027: 30 days = 2,592,000 s; from 04-11, 20 days = 1,728,000 s are left.
  // 80000 × 20 / 30 = 53333.33… → 53333.
  const april = buy(WHMCS, 1, '2027-04-01T00:00:00Z', '2027-04-11T00:00:00Z');
  t.equal(april.term_seconds, 2_592_000);
  t.equal(april.seconds_remaining, 1_728_000);
  t.equal(april.amount, 53_333);
  // March 2027: 31 days = 2,678,400 s; from 03-11, 21 days = 1,814,400 s are left.
  // 80000 × 21 / 31 = 1,680,000 / 31 = 54193.548… → 54194.
  const march = buy(WHMCS, 1, '2027-03-01T00:00:00Z', '2027-03-11T00:00:00Z');
  t.equal(march.term_seconds, 2_678_400);
  t.equal(march.seconds_remaining, 1_814_400);
  t.equal(march.amount, 54_194);
});

t.test('R-ADD-2: a 12-month term over a leap year is 366 days', async (t) => {
  // 2027-06-01 → 2028-06-01 holds 29 Feb 2028: 366 days = 31,622,400 s.
  // From 2028-03-01: March 31 + April 30 + May 31 = 92 days = 7,948,800 s.
  // 80000 × 12 × 7,948,800 / 31,622,400 = 960000 × 92 / 366 = 88,320,000 / 366
  //   = 241311 remainder 174 (366 × 241311 = 88,319,826) = 241311.475… → 241311.
  const p = buy(WHMCS, 12, '2027-06-01T00:00:00Z', '2028-03-01T00:00:00Z');
  t.equal(p.term_end, '2028-06-01T00:00:00.000Z');
  t.equal(p.term_seconds, 31_622_400);
  t.equal(p.seconds_remaining, 7_948_800);
  t.equal(p.amount, 241_311);
});

t.test('R-ADD-2: one second before the end', async (t) => {
  // April 2027 = 2,592,000 s; 1 s left: 80000 × 1 / 2,592,000 = 0.0308… → 0.
  const cheap = buy(WHMCS, 1, '2027-04-01T00:00:00Z', '2027-04-30T23:59:59Z');
  t.equal(cheap.seconds_remaining, 1);
  t.equal(cheap.amount, 0);
  // 1,296,000 × 1 / 2,592,000 = 0.5 exactly → 1 (half up).
  t.equal(buy(1_296_000, 1, '2027-04-01T00:00:00Z', '2027-04-30T23:59:59Z').amount, 1);
  // 0.4 s before the end still has 1 whole second left, so the same 0.5 → 1.
  const partial = buy(1_296_000, 1, '2027-04-01T00:00:00Z', '2027-04-30T23:59:59.600Z');
  t.equal(partial.seconds_remaining, 1);
  t.equal(partial.amount, 1);
  // 1.4 s before the end rounds up to 2 s: 1,296,000 × 2 / 2,592,000 = 1.
  t.equal(buy(1_296_000, 1, '2027-04-01T00:00:00Z', '2027-04-30T23:59:58.600Z').seconds_remaining, 2);
});

t.test('R-ADD-2: a tie at a larger scale rounds up, just below one half rounds down', async (t) => {
  // 12-month leap term 2027-06-01 → 2028-06-01 = 31,622,400 s, price 7,905,601 (79,056.01 RUB) a month.
  // 7,905,601 × 12 / 31,622,400 = 7,905,601 / 2,635,200 per second left, and 7,905,601 = 3 × 2,635,200 + 1.
  const price = 7_905_601;
  // At 2028-05-16T18:00:00Z, 15 days 6 hours = 1,317,600 s = half of 2,635,200 are left:
  // 7,905,601 × 1,317,600 / 2,635,200 = 7,905,601 / 2 = 3,952,800.5 → 3,952,801 (half up).
  const tie = buy(price, 12, '2027-06-01T00:00:00Z', '2028-05-16T18:00:00Z');
  t.equal(tie.seconds_remaining, 1_317_600);
  t.equal(tie.amount, 3_952_801);
  // One second later, 1,317,599 s are left: (3 × 2,635,200 + 1) × 1,317,599 / 2,635,200
  //   = 3 × 1,317,599 + 1,317,599 / 2,635,200 = 3,952,797 + 0.49999962… → 3,952,797.
  const below = buy(price, 12, '2027-06-01T00:00:00Z', '2028-05-16T18:00:01Z');
  t.equal(below.seconds_remaining, 1_317_599);
  t.equal(below.amount, 3_952_797);
  // A smaller tie: 80001 for half of April (1,296,000 of 2,592,000 s) = 40000.5 → 40001.
  t.equal(buy(80_001, 1, '2027-04-01T00:00:00Z', '2027-04-16T00:00:00Z').amount, 40_001);
});

t.test('R-ADD-2: at or after the end costs nothing, before the start costs the whole term', async (t) => {
  const atEnd = buy(WHMCS, 1, '2027-04-01T00:00:00Z', '2027-05-01T00:00:00Z');
  t.equal(atEnd.seconds_remaining, 0);
  t.equal(atEnd.amount, 0);
  const after = buy(WHMCS, 1, '2027-04-01T00:00:00Z', '2027-06-15T12:00:00Z');
  t.equal(after.seconds_remaining, 0);
  t.equal(after.amount, 0);
  // Before 2027-06-01 counts as the start: 80000 × 12 = 960000, all 31,622,400 s.
  const before = buy(WHMCS, 12, '2027-06-01T00:00:00Z', '2027-05-20T00:00:00Z');
  t.equal(before.seconds_remaining, 31_622_400);
  t.equal(before.amount, 960_000);
  // Exactly at the start: the same full amount.
  t.equal(buy(WHMCS, 12, '2027-06-01T00:00:00Z', '2027-06-01T00:00:00Z').amount, 960_000);
});

t.test('R-ADD-2: term end clamps the day to the month', async (t) => {
  t.equal(termEnd(d('2027-01-31T00:00:00Z'), 1).toISOString(), '2027-02-28T00:00:00.000Z');
  t.equal(termEnd(d('2028-01-31T00:00:00Z'), 1).toISOString(), '2028-02-29T00:00:00.000Z');
  t.equal(termEnd(d('2027-01-31T00:00:00Z'), 3).toISOString(), '2027-04-30T00:00:00.000Z');
  t.equal(termEnd(d('2027-01-31T10:20:30Z'), 12).toISOString(), '2028-01-31T10:20:30.000Z');
  t.throws(() => termEnd(d('2027-01-31T00:00:00Z'), 0));
  t.throws(() => termEnd(d('2027-01-31T00:00:00Z'), 1.5));
  t.throws(() => termEnd(new Date(Number.NaN), 1));
});

t.test('R-ADD-2: invalid inputs are refused', async (t) => {
  const termStart = d('2027-04-01T00:00:00Z');
  const ok = { monthlyPrice: WHMCS, months: 1, termStart, termEnd: d('2027-05-01T00:00:00Z'), at: termStart };
  t.equal(prorate(ok).amount, WHMCS);
  t.equal(prorate({ ...ok, monthlyPrice: 0 }).amount, 0, 'a free add-on is allowed');
  for (const monthlyPrice of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])
    t.throws(() => prorate({ ...ok, monthlyPrice }), `price ${monthlyPrice}`);
  for (const months of [0, -1, 1.5, Number.NaN]) t.throws(() => prorate({ ...ok, months }), `months ${months}`);
  t.throws(() => prorate({ ...ok, termEnd: termStart }), 'termEnd = termStart');
  t.throws(() => prorate({ ...ok, termEnd: d('2027-03-01T00:00:00Z') }), 'termEnd before termStart');
  t.throws(() => prorate({ ...ok, at: new Date(Number.NaN) }), 'invalid at');
});

/** mulberry32: a small seeded generator, so the property cases are the same on every run. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('R-ADD-2: properties over 2,000 seeded inputs', async (t) => {
  const next = rng(0x2add2);
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const DAY = 86_400_000;
  const from = Date.UTC(2020, 0, 1);
  const to = Date.UTC(2035, 0, 1);
  const failures: string[] = [];
  for (let i = 0; i < 2000 && failures.length < 5; i++) {
    const monthlyPrice = i % 50 === 0 ? 0 : int(1, 10_000_000);
    const months = [1, 3, 6, 12, 24, 36][int(0, 5)]!;
    const termStart = new Date(from + int(0, (to - from) / 1000) * 1000); // whole seconds
    const end = termEnd(termStart, months);
    const startMs = termStart.getTime();
    const endMs = end.getTime();
    const at1 = startMs - 10 * DAY + int(0, endMs - startMs + 20 * DAY); // any millisecond around the term
    const at2 = at1 + int(0, 30 * DAY);
    const p1 = prorate({ monthlyPrice, months, termStart, termEnd: end, at: new Date(at1) });
    const p2 = prorate({ monthlyPrice, months, termStart, termEnd: end, at: new Date(at2) });
    const label = `#${i} ${monthlyPrice}×${months} ${termStart.toISOString()} at ${new Date(at1).toISOString()}`;

    const T = BigInt(p1.term_seconds);
    const R = BigInt(p1.seconds_remaining);
    const a = BigInt(p1.amount);
    const full = BigInt(monthlyPrice) * BigInt(months);
    if (T * 1000n !== BigInt(endMs - startMs)) failures.push(`${label}: term_seconds ${T}`);
    // R whole seconds cover what is left of the term, and R − 1 do not (partial seconds round up).
    const left = BigInt(Math.min(Math.max(endMs - Math.max(at1, startMs), 0), endMs - startMs));
    if (!(R * 1000n >= left && (R === 0n || (R - 1n) * 1000n < left)))
      failures.push(`${label}: seconds_remaining ${R} for ${left} ms`);
    // Within 0.5 of the exact value, and a tie goes up: −T < 2·a·T − 2·P·M·R ≤ T.
    const diff = 2n * a * T - 2n * full * R;
    if (diff > T || diff <= -T) failures.push(`${label}: amount ${a} off the exact ${full}×${R}/${T}`);
    if (!Number.isSafeInteger(p1.amount) || a < 0n || a > full)
      failures.push(`${label}: amount ${a} out of [0, ${full}]`);
    if (p2.amount > p1.amount || p2.seconds_remaining > p1.seconds_remaining)
      failures.push(
        `${label}: later purchase at ${new Date(at2).toISOString()} costs more (${p2.amount} > ${p1.amount})`,
      );
  }
  t.same(failures, [], 'every generated case holds');
});

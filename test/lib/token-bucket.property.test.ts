// R-API-1: the token bucket's arithmetic, as properties over random policies, costs and clocks
// (fast-check; a failure prints the seed and the smallest case that breaks the property).
import fc from 'fast-check';
import t from 'tap';
import { refill, takeFromAll, type BucketPolicy, type BucketState } from '../../src/lib/token-bucket.js';

const policy = fc.record({
  capacity: fc.integer({ min: 1, max: 10_000 }),
  refillPerSecond: fc.double({ min: 0, max: 1_000, noNaN: true }),
});
/** A bucket as it can be: between empty and full, stamped at some time. */
const stateFor = (p: BucketPolicy) =>
  fc.record({ tokens: fc.double({ min: 0, max: p.capacity, noNaN: true }), at: fc.integer({ min: 0, max: 1e12 }) });
const policyAndState = policy.chain((p) => fc.tuple(fc.constant(p), fc.option(stateFor(p), { nil: undefined })));
const delay = fc.integer({ min: 0, max: 7 * 24 * 3_600_000 });

t.test('R-API-1: tokens never exceed the capacity and never go negative, whatever the calls', async (t) => {
  fc.assert(
    fc.property(
      fc.array(policyAndState, { minLength: 1, maxLength: 3 }),
      fc.array(fc.tuple(delay, fc.integer({ min: 0, max: 12_000 })), { maxLength: 30 }),
      (buckets, calls) => {
        const policies = buckets.map(([p]) => p);
        let states: (BucketState | undefined)[] = buckets.map(([, s]) => s);
        let now = Math.max(0, ...states.map((s) => s?.at ?? 0));
        for (const [wait, cost] of calls) {
          now += wait;
          const r = takeFromAll(states, policies, cost, now);
          r.states.forEach((s, i) => {
            if (s.tokens < 0 || s.tokens > policies[i]!.capacity) throw new Error(`tokens ${s.tokens} out of range`);
          });
          if (r.remaining < 0 || r.retryAfterMs < 0 || r.resetMs < 0) throw new Error('a negative figure');
          states = r.states;
        }
      },
    ),
  );
  t.pass('holds for every generated case');
});

t.test('R-API-1: all or nothing; an allowed call takes exactly its cost from every bucket', async (t) => {
  fc.assert(
    fc.property(
      fc.array(policyAndState, { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 0, max: 12_000 }),
      delay,
      (buckets, cost, wait) => {
        const policies = buckets.map(([p]) => p);
        const states = buckets.map(([, s]) => s);
        const now = Math.max(0, ...states.map((s) => s?.at ?? 0)) + wait;
        const before = policies.map((p, i) => refill(states[i], p, now));
        const r = takeFromAll(states, policies, cost, now);
        const everyBucketHoldsIt = before.every((s, i) => s.tokens >= cost && cost <= policies[i]!.capacity);
        if (r.allowed !== everyBucketHoldsIt) throw new Error('allowed must mean: every bucket holds the cost');
        r.states.forEach((s, i) => {
          const expected = r.allowed ? before[i]!.tokens - cost : before[i]!.tokens;
          if (s.tokens !== expected) throw new Error(`bucket ${i}: ${s.tokens}, expected ${expected}`);
        });
        if (r.allowed && r.retryAfterMs !== 0) throw new Error('an allowed call has no Retry-After');
        if (!r.allowed && r.remaining !== 0) throw new Error('a refused call reports 0 remaining');
      },
    ),
  );
  t.pass('holds for every generated case');
});

t.test('R-API-1: refill is monotonic in time and stops at the capacity', async (t) => {
  fc.assert(
    fc.property(policyAndState, delay, delay, ([p, s], a, b) => {
      const start = s?.at ?? 0;
      const [early, late] = a <= b ? [a, b] : [b, a];
      const x = refill(s, p, start + early);
      const y = refill(s, p, start + late);
      if (y.tokens < x.tokens) throw new Error(`later ${y.tokens} < earlier ${x.tokens}`);
      if (y.tokens > p.capacity) throw new Error('over capacity');
      // Refilling in two steps gives what one step gives (up to rounding).
      const twoSteps = refill(x, p, start + late);
      if (Math.abs(twoSteps.tokens - y.tokens) > 1e-6 * Math.max(1, p.capacity))
        throw new Error(`two steps ${twoSteps.tokens} != one step ${y.tokens}`);
    }),
  );
  t.pass('holds for every generated case');
});

t.test('R-API-1: a refused call may retry after Retry-After, and not noticeably before', async (t) => {
  fc.assert(
    fc.property(
      policy.filter((p) => p.refillPerSecond >= 0.01),
      fc.integer({ min: 1, max: 100 }),
      (p, cost) => {
        fc.pre(cost <= p.capacity);
        const empty: BucketState = { tokens: 0, at: 0 };
        const r = takeFromAll([empty], [p], cost, 0);
        if (r.allowed) throw new Error('an empty bucket allowed a call');
        if (!takeFromAll([empty], [p], cost, r.retryAfterMs).allowed) throw new Error('refused at Retry-After');
        if (r.retryAfterMs > 1 && takeFromAll([empty], [p], cost, r.retryAfterMs - 2).allowed)
          throw new Error('allowed before Retry-After');
      },
    ),
  );
  t.pass('holds for every generated case');
});

import t from 'tap';
import { refill, takeFromAll } from '../../src/lib/token-bucket.js';

const P = { capacity: 10, refillPerSecond: 2 };

t.test('R-API-1: a new bucket starts full and costs apply', async (t) => {
  const r = takeFromAll([undefined], [P], 3, 0);
  t.equal(r.allowed, true);
  t.equal(r.remaining, 7);
  t.equal(r.resetMs, 1500, '3 tokens at 2/s refill in 1.5 s');
});

t.test('R-API-1: refill is continuous and capped at capacity', async (t) => {
  t.same(refill({ tokens: 0, at: 0 }, P, 2500), { tokens: 5, at: 2500 });
  t.same(refill({ tokens: 9, at: 0 }, P, 10_000), { tokens: 10, at: 10_000 });
  t.same(refill({ tokens: 4, at: 5000 }, P, 4000), { tokens: 4, at: 4000 }, 'a clock going backwards adds nothing');
});

t.test('R-API-1: a call the bucket cannot pay is refused, takes nothing, and says when to retry', async (t) => {
  const r = takeFromAll([{ tokens: 2.5, at: 0 }], [P], 4, 0);
  t.equal(r.allowed, false);
  t.same(r.states, [{ tokens: 2.5, at: 0 }]);
  t.equal(r.retryAfterMs, 750, '1.5 tokens at 2/s');
  t.equal(r.remaining, 0);
  t.equal(takeFromAll([undefined], [P], 11, 0).allowed, false, 'a cost above capacity never passes');
});

t.test('R-API-1: several buckets are charged together or not at all', async (t) => {
  const account = { capacity: 100, refillPerSecond: 10 };
  const ok = takeFromAll(
    [
      { tokens: 5, at: 0 },
      { tokens: 50, at: 0 },
    ],
    [P, account],
    5,
    0,
  );
  t.equal(ok.allowed, true);
  t.same(
    ok.states.map((s) => s.tokens),
    [0, 45],
  );
  t.equal(ok.remaining, 0, 'the tightest bucket speaks');
  const refused = takeFromAll(
    [
      { tokens: 10, at: 0 },
      { tokens: 3, at: 0 },
    ],
    [P, account],
    5,
    0,
  );
  t.equal(refused.allowed, false);
  t.same(
    refused.states.map((s) => s.tokens),
    [10, 3],
    'neither bucket is charged',
  );
  t.equal(refused.retryAfterMs, 200, 'the account bucket needs 2 tokens at 10/s');
});

t.test('R-API-1: a steady stream at the refill rate is sustained forever', async (t) => {
  let state = { tokens: 0, at: 0 };
  for (let i = 1; i <= 100; i++) {
    const r = takeFromAll([state], [P], 1, i * 500);
    t.equal(r.allowed, true, `call ${i}`);
    state = r.states[0]!;
  }
  t.equal(takeFromAll([state], [P], 1, 100 * 500).allowed, false, 'one more at the same instant is refused');
});

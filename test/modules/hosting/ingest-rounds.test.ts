// R-PLAN-2: usage reports arriving together go in as few statements as possible, each naming a
// customer (or the reseller's own usage) once: an upsert cannot change one row twice in a statement,
// and a batch that failed for it would be retried report by report while every account waited.
import t from 'tap';
import { ingestRounds } from '../../../src/modules/hosting/store.js';

const entry = (subject: string) => ({ subject, diskBytes: 0, trafficBytes: 0, mailboxes: 0, largestMailboxBytes: 0 });
const report = (subscriptionId: string, ...subjects: string[]) => ({ subscriptionId, entries: subjects.map(entry) });

t.test('R-PLAN-2: reports naming different customers share one statement', async (t) => {
  t.same(ingestRounds([report('a', 'own'), report('a', 'c1', 'c2'), report('b', 'own'), report('b', 'c1')]), [
    [0, 1, 2, 3],
  ]);
  t.same(ingestRounds([]), []);
});

t.test('R-PLAN-2: a customer named twice goes in a later statement, in the order the reports came', async (t) => {
  // The reseller's own usage three times, and another subscription's between them.
  t.same(ingestRounds([report('a', 'own'), report('b', 'own'), report('a', 'own'), report('a', 'own')]), [
    [0, 1],
    [2],
    [3],
  ]);
  // A report that shares one customer with a later round's report goes after it, even with new customers of its own.
  t.same(ingestRounds([report('a', 'c1'), report('a', 'c1', 'c2'), report('a', 'c2', 'c3'), report('a', 'c4')]), [
    [0, 3],
    [1],
    [2],
  ]);
  // The same customer id under two subscriptions is two rows.
  t.same(ingestRounds([report('a', 'c1'), report('b', 'c1')]), [[0, 1]]);
});

t.test('R-PLAN-2: every report is in exactly one statement, and no statement names a row twice', async (t) => {
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
  for (let c = 0; c < 200; c++) {
    const items = Array.from({ length: 1 + rand(40) }, () =>
      report(`s${rand(3)}`, ...new Set(Array.from({ length: 1 + rand(3) }, () => `c${rand(5)}`))),
    );
    const rounds = ingestRounds(items);
    t.same(
      rounds.flat().sort((x, y) => x - y),
      items.map((_, i) => i),
      'each report once',
    );
    for (const round of rounds) {
      const keys = round.flatMap((i) => items[i]!.entries.map((e) => `${items[i]!.subscriptionId} ${e.subject}`));
      t.equal(new Set(keys).size, keys.length, 'no row twice in one statement');
    }
    // A row's reports keep their order across statements.
    const position = new Map(rounds.flatMap((round, r) => round.map((i) => [i, r] as const)));
    items.forEach((a, i) =>
      items.slice(i + 1).forEach((b, k) => {
        const shared =
          a.subscriptionId === b.subscriptionId &&
          a.entries.some((e) => b.entries.some((f) => f.subject === e.subject));
        if (shared) t.ok(position.get(i)! < position.get(i + 1 + k)!, 'the earlier report first');
      }),
    );
  }
});

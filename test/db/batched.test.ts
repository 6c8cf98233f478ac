// The group commit under the hot paths (batched): calls made together share a statement, one batch
// in flight makes the next one larger, and a stalled batch does not hold back the calls queued
// behind it (extraLaneAfterMs). The scheduler alone, with a run function whose answers the test holds.
import t from 'tap';
import { batched } from '../../src/db/client.js';

/** A run function that records each batch and answers it when the test says so. */
function held() {
  const batches: { items: number[]; answer: () => void; fail: (err: unknown) => void }[] = [];
  const run = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      batches.push({ items, answer: () => resolve(items.map((i) => i * 10)), fail: reject });
    });
  return { batches, run };
}
const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 1));
};

t.test('calls of one tick share a batch; with one in flight, the next carries all that came meanwhile', async (t) => {
  const { batches, run } = held();
  const call = batched(run, { concurrency: 1 });
  const first = [call(1), call(2), call(3)];
  await until(() => batches.length === 1);
  t.same(batches[0]!.items, [1, 2, 3]);
  const later = [call(4), call(5)];
  await new Promise((r) => setTimeout(r, 5));
  t.equal(batches.length, 1, 'nothing more starts while the one batch is in flight (no extra lane set)');
  batches[0]!.answer();
  t.same(await Promise.all(first), [10, 20, 30], 'each caller gets its own answer');
  await until(() => batches.length === 2);
  t.same(batches[1]!.items, [4, 5]);
  batches[1]!.answer();
  t.same(await Promise.all(later), [40, 50]);
});

t.test("the next batch leaves before the answered batch's callers go on", async (t) => {
  const { batches, run } = held();
  const call = batched(run, { concurrency: 1 });
  const first = call(1);
  await until(() => batches.length === 1);
  const queued = call(2);
  let batchesWhenFirstWentOn = -1;
  const firstWentOn = first.then((v) => {
    batchesWhenFirstWentOn = batches.length;
    return v;
  });
  batches[0]!.answer();
  t.equal(await firstWentOn, 10);
  t.equal(batchesWhenFirstWentOn, 2, 'the queued call was on its way when the first caller resumed');
  t.same(batches[1]!.items, [2]);
  batches[1]!.answer();
  t.equal(await queued, 20);
});

t.test('a stalled batch: after extraLaneAfterMs the queued calls start beside it, up to maxConcurrency', async (t) => {
  const { batches, run } = held();
  const call = batched(run, { concurrency: 1, extraLaneAfterMs: 5, maxConcurrency: 2 });
  const stalled = call(1);
  await until(() => batches.length === 1);
  const behind = call(2);
  await until(() => batches.length === 2);
  t.same(batches[1]!.items, [2], 'the queued call went out beside the stalled batch');
  batches[1]!.answer();
  t.equal(await behind, 20, 'and was answered while the first still waits');
  // Two lanes stalled: the cap holds the third call until one of them answers.
  const again = call(3);
  await until(() => batches.length === 3);
  const capped = call(4);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(batches.length, 3, 'no third lane: maxConcurrency is 2');
  batches[0]!.answer();
  t.equal(await stalled, 10);
  await until(() => batches.length === 4);
  t.same(batches[3]!.items, [4]);
  batches[2]!.answer();
  batches[3]!.answer();
  t.same(await Promise.all([again, capped]), [30, 40]);
});

t.test('a failed batch is retried item by item with retryAlone: one bad item fails only itself', async (t) => {
  const seen: number[][] = [];
  const call = batched(
    async (items: number[]) => {
      seen.push(items);
      if (items.includes(2)) throw new Error('bad item');
      return items.map((i) => i * 10);
    },
    { retryAlone: true },
  );
  const out = await Promise.allSettled([call(1), call(2), call(3)]);
  t.same(
    out.map((o) => o.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  t.same(seen, [[1, 2, 3], [1], [2], [3]]);
});

// Deletion of rows past their expiry, as a background job (app.jobs): idempotent, so any number of
// instances may run it at once.
import type { FastifyInstance } from 'fastify';

export function sweepExpiredRows(app: FastifyInstance, what: string, sweep: (now: Date) => Promise<unknown[]>): void {
  app.jobs.register(`sweep-${what}`, async (now) => (await sweep(now)).length);
}

/**
 * Runs a batched cleanup (one batch per call, returning how many rows it touched) until a batch
 * touches none; returns the total. Batches keep each statement short on a large table.
 */
export async function inBatches(batch: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await batch();
    total += n;
    if (n === 0) return total;
  }
}

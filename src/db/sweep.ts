// Deletion of rows past their expiry, as a background job (app.jobs): idempotent, so any number of
// instances may run it at once.
import type { FastifyInstance } from 'fastify';

export function sweepExpiredRows(app: FastifyInstance, what: string, sweep: (now: Date) => Promise<unknown[]>): void {
  app.jobs.register(`sweep-${what}`, async (now) => (await sweep(now)).length);
}

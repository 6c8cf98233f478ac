// Periodic deletion of rows past their expiry. Idempotent, so any number of instances may run it.
import type { FastifyInstance } from 'fastify';

const SWEEP_EVERY_MS = 10 * 60_000;

export function sweepExpiredRows(app: FastifyInstance, what: string, sweep: () => Promise<unknown>, everyMs = SWEEP_EVERY_MS): void {
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => app.log.warn({ err }, `${what} sweep failed`));
  }, everyMs);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}

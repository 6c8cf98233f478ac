// R-API-3: every state-changing call of a reseller counts toward its UTC day. Past the threshold
// without a bulk notice that covers the count: a Fair-Use-Warning header on each response and one
// incident a day; past the ceiling: 429 bulk_notice_required until the day ends.
import fp from 'fastify-plugin';
import { isCommandRoute } from '../modules/fair-use/api.js';
import { appendPreValidation } from '../route-hooks.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { declareErrors, defineError } from '../errors.js';
import { commandCounter, judgeBulk, noticedCount, utcDay } from '../modules/fair-use/api.js';

export const BulkNoticeRequired = defineError(
  'bulk_notice_required',
  429,
  'Daily volume past the ceiling without a bulk notice',
  Type.Object({
    count: Type.Integer({ minimum: 0, maximum: 2_147_483_647, description: 'Orders and updates today' }),
    threshold: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }),
    ceiling: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }),
    noticed: Type.Integer({
      minimum: 0,
      maximum: 2_147_483_647,
      description: 'How many of today’s the bulk notices cover',
    }),
  }),
);

export default fp<{ threshold: number; ceiling: number }>(
  async function bulkWorkPlugin(app, opts) {
    // Concurrent commands share one upsert (see commandCounter).
    const countCommand = commandCounter(app.db);
    app.addHook('onRoute', (route) => {
      if (!isCommandRoute(route) || !route.schema) return;
      if (route.config?.bulkExempt) return;
      declareErrors(route, BulkNoticeRequired);
      const count = async (req: FastifyRequest, reply: FastifyReply, accountId: string) => {
        const day = utcDay();
        const n = await countCommand(accountId, day);
        if (n <= opts.threshold) return;
        const noticed = await noticedCount(app.db, accountId, day);
        const verdict = judgeBulk(n, noticed, opts.threshold, opts.ceiling);
        if (verdict.kind === 'ok') return;
        if (verdict.kind === 'refuse') {
          const endOfDay = Date.parse(`${day}T00:00:00Z`) + 86_400_000;
          throw new BulkNoticeRequired(
            `${n} orders and updates today, past the ceiling of ${opts.ceiling}, without a bulk notice that covers them (POST /v1/fair-use/bulk-notices)`,
            {
              headers: { 'retry-after': String(Math.ceil((endOfDay - Date.now()) / 1000)) },
              extensions: { count: n, threshold: opts.threshold, ceiling: opts.ceiling, noticed },
            },
          );
        }
        reply.header(
          'fair-use-warning',
          `bulk_notice_missing; count=${n}; threshold=${opts.threshold}; ceiling=${opts.ceiling}`,
        );
        if (verdict.firstPast) {
          await app.incidents.record({
            accountId,
            type: 'bulk_without_notice',
            dedupeKey: day,
            evidence: { day, count: n, threshold: opts.threshold, noticed, request_id: req.id },
          });
        }
      };
      appendPreValidation(route, (req, reply) => {
        const accountId = req.principal?.accountId;
        return accountId ? count(req, reply, accountId) : undefined;
      });
    });
  },
  { name: 'bulk-work', fastify: '5.x', dependencies: ['db', 'auth', 'incidents', 'repeated-failure-guard'] },
);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Not an order or update (filing the bulk notice itself). */
    bulkExempt?: boolean;
  }
}

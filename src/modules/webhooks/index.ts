// The webhooks area: endpoints (URL, event types, signing secret and its rotation, the SSRF guard),
// and deliveries per the Standard Webhooks specification (fan-out from the outbox, signing, retries,
// the delivery log, manual retry and replay).
import type { FastifyInstance } from 'fastify';
import { parseAllowlist } from '../../lib/cidr.js';
import { checkDestination, systemResolver } from '../../lib/ssrf-guard.js';
import type { AreaOptions } from '../area.js';
import { adminWebhookRoutes } from './admin-routes.js';
import { endpointRoutes } from './endpoint-routes.js';
import { createEndpointService } from './endpoint-service.js';
import { registerDeliveries } from './deliveries.js';

export default async function webhooksArea(app: FastifyInstance, opts: AreaOptions): Promise<void> {
  const settings = opts.config.webhooks;
  // A malformed WEBHOOK_ALLOWED_RANGES fails the start, not every webhook request later.
  try {
    parseAllowlist(settings.allowedRanges);
  } catch (err) {
    throw new Error(`WEBHOOK_ALLOWED_RANGES: not a list of CIDR ranges (${(err as Error).message})`);
  }
  const resolver = opts.resolver ?? systemResolver;

  // Endpoints (endpoint-*.ts, admin-routes.ts).
  const now = opts.now ?? (() => new Date());
  const endpoints = createEndpointService({
    db: app.db,
    seal: app.secretBox.seal,
    checkUrl: (url) => checkDestination(url, { allowedRanges: settings.allowedRanges, resolver }),
    maxConcurrency: settings.maxConcurrency,
    now,
  });
  await app.register(endpointRoutes, { endpoints, now });
  await app.register(adminWebhookRoutes, { endpoints, now });

  // Deliveries (deliveries.ts, delivery-*.ts, dispatcher.ts).
  await registerDeliveries(app, { config: opts.config, resolver, now: opts.now });
}

// The webhooks area: endpoints (URL, event types, signing secret and its rotation, the SSRF guard),
// and deliveries per the Standard Webhooks specification (fan-out from the outbox, signing, retries,
// the delivery log, manual retry and replay).
import type { FastifyInstance } from 'fastify';
import type { AreaOptions } from '../area.js';
import { registerDeliveries } from './deliveries.js';

export default async function webhooksArea(app: FastifyInstance, opts: AreaOptions): Promise<void> {
  // Endpoints: registered here (endpoint-*.ts).
  // Deliveries: registered here (deliveries.ts: registerDeliveries).
  await registerDeliveries(app, { config: opts.config, resolver: opts.resolver, now: opts.now });
}

// The webhooks area: endpoints (URL, event types, signing secret and its rotation, the SSRF guard),
// and deliveries per the Standard Webhooks specification (fan-out from the outbox, signing, retries,
// the delivery log, manual retry and replay).
import type { FastifyInstance } from 'fastify';
import type { AreaOptions } from '../area.js';

export default async function webhooksArea(_app: FastifyInstance, _opts: AreaOptions): Promise<void> {
  // Endpoints: registered here (endpoint-*.ts).
  // Deliveries: registered here (deliveries.ts: registerDeliveries).
}

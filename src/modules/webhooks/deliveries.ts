// Deliveries per the Standard Webhooks specification, wired into the app: the fan-out sink (the
// first attempts queued per subscribed endpoint, in the fan-out's transaction), the dispatcher (the
// loop on instances that run jobs; `webhooks.deliver` runs one pass at a given time), the
// housekeeping jobs and the delivery-log routes. webhooks/index.ts calls registerDeliveries once.
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Resolver } from '../../lib/ssrf-guard.js';
import { createDeliveryService } from './delivery-service.js';
import { deliveryRoutes } from './delivery-routes.js';
import { createSender } from './delivery-sender.js';
import { queueFanoutDeliveries } from './delivery-store.js';
import { createDispatcher } from './dispatcher.js';
import './events.js';

export interface DeliveriesDeps {
  config: Config;
  resolver?: Resolver | undefined;
  now?: (() => Date) | undefined;
}

export async function registerDeliveries(
  app: FastifyInstance,
  { config, resolver, now }: DeliveriesDeps,
): Promise<void> {
  const sender = createSender({
    allowedRanges: config.webhooks.allowedRanges,
    timeoutMs: config.webhooks.timeoutMs,
    resolver,
  });
  const dispatcher = createDispatcher({
    db: app.db,
    sender,
    openSecret: (sealed) => app.secretBox.open(sealed),
    leaseMs: config.webhooks.leaseMs,
    timeoutMs: config.webhooks.timeoutMs,
    pollMs: config.webhooks.pollMs,
    log: app.log.child({ component: 'webhook-dispatcher' }),
    onEventEmitted: () => app.eventFanout.wake(),
  });

  app.eventFanout.addSink('webhooks', {
    fanOut: async (tx, events) => {
      await queueFanoutDeliveries(tx, events);
    },
    afterCommit: () => dispatcher.wake(),
  });

  const deliveries = createDeliveryService({
    db: app.db,
    retentionDays: config.events.retentionDays,
    disableAfterDays: config.webhooks.disableAfterDays,
    logRetentionDays: config.webhooks.logRetentionDays,
    now,
    wake: () => dispatcher.wake(),
    onEventEmitted: () => app.eventFanout.wake(),
  });

  // One pass of the dispatcher at a given time (tests, operators); the loop runs it continuously.
  app.jobs.register('webhooks.deliver', (at) => dispatcher.run(at), { every: false });
  app.jobs.register('webhooks.disable-failing', (at) => deliveries.disableFailing(at), { every: 3_600_000 });
  app.jobs.register('webhooks.purge-bodies', (at) => deliveries.purgeBodies(at), { every: 3_600_000 });
  app.jobs.register('webhooks.purge-log', (at) => deliveries.purgeLog(at), { every: 3_600_000 });

  if (config.jobs.enabled) app.addHook('onReady', async () => dispatcher.start());
  app.addHook('onClose', async () => dispatcher.stop());

  await app.register(deliveryRoutes, { deliveries });
}

// The events area: the feed (/v1/events), the catalogue (/v1/event-types) and the retention job.
// Other areas emit through ./api.ts; webhooks and e-mail read events through app.eventFanout.
import type { FastifyInstance } from 'fastify';
import type { AreaOptions } from '../area.js';
import { eventRoutes } from './routes.js';
import { createEventService } from './service.js';

export default async function eventsArea(app: FastifyInstance, { config }: AreaOptions): Promise<void> {
  const events = createEventService({ db: app.db, retentionDays: config.events.retentionDays });
  app.jobs.register('events.purge', (now) => events.purge(now), { every: 3_600_000 });
  await app.register(eventRoutes, { events });
}

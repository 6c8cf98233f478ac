// The support area (R-TKT): tickets with response-time SLAs on business-hour calendars, operators'
// tools, inbound e-mail, and the timers job (warnings, breaches, the 72-hour and 5-day closes,
// agreed times) on the job engine.
import type { FastifyInstance } from 'fastify';
import type { AreaOptions } from '../area.js';
import { adminTicketRoutes } from './admin-routes.js';
import { createTicketCatalogue } from './catalogue.js';
import { createInboundEmail } from './inbound-email.js';
import { ticketBodyLimit, ticketRoutes } from './routes.js';
import { createTicketService } from './service.js';

export default async function ticketsArea(app: FastifyInstance, opts: AreaOptions): Promise<void> {
  const now = opts.now ?? (() => new Date());
  const config = opts.config.tickets;
  const tickets = createTicketService({ db: app.db, now, config });
  const catalogue = createTicketCatalogue(app.db, now, (tx, id) => tickets.recomputeCalendar(tx, id));
  const inbound = createInboundEmail(app.db, tickets, now);
  // Timers are due at an instant; each run takes every ticket whose earliest timer has come.
  app.jobs.register('ticket-timers', (at) => tickets.runTimers(at), { every: config.timersIntervalMs });
  const bodyLimit = ticketBodyLimit(config, opts.config.bodyLimit);
  await app.register(ticketRoutes, { tickets, catalogue, bodyLimit });
  await app.register(adminTicketRoutes, {
    tickets,
    catalogue,
    inbound,
    bodyLimit,
    emailBodyLimit: config.emailMaxBytes,
  });
}

// The tickets area's event types, each written in the transaction of the change it reports; the data
// is the ticket as GET /v1/tickets/{id} shows it after the change (its current period included).
import { defineEventType } from '../events/api.js';
import { Ticket } from './schemas.js';

const ticketEvent = (type: string, summary: string) =>
  defineEventType({ type, group: 'tickets', objectType: 'ticket', summary, data: Ticket });

export const TicketCreated = ticketEvent('ticket.created', 'A ticket was registered; its first response period runs');
export const TicketReplied = ticketEvent('ticket.replied', 'The provider replied; the ticket is on your side');
export const TicketInformationRequested = ticketEvent(
  'ticket.information_requested',
  'The provider asked for information: the clock stops, and 72 hours without it close the ticket (R-TKT-4, R-TKT-6)',
);
export const TicketPriorityChanged = ticketEvent(
  'ticket.priority_changed',
  'The provider assigned a priority; the running period is recomputed from its start (R-TKT-2)',
);
export const TicketSuspended = ticketEvent('ticket.suspended', 'You suspended the ticket (R-TKT-5)');
export const TicketResumed = ticketEvent(
  'ticket.resumed',
  'You resumed the ticket; a full response period starts anew (R-TKT-5)',
);
export const TicketRevoked = ticketEvent('ticket.revoked', 'You revoked the ticket (final)');
export const TicketClosed = ticketEvent(
  'ticket.closed',
  'The ticket was closed with a reason; an objection within 5 days reopens it (R-TKT-6, R-TKT-7)',
);
export const TicketReopened = ticketEvent(
  'ticket.reopened',
  'An objection reopened a closed ticket with a new response period (R-TKT-7)',
);
export const TicketFinalized = ticketEvent(
  'ticket.closed_without_comments',
  'Five days passed after the close without an objection: the ticket is final (R-TKT-7)',
);
export const TicketSlaWarning = ticketEvent(
  'ticket.sla.warning',
  'The running response period is close to its deadline (TICKET_SLA_WARNING_LEAD_S left)',
);
export const TicketSlaBreached = ticketEvent(
  'ticket.sla.breached',
  'The running response period passed its deadline without a response',
);
export const TicketSplit = ticketEvent(
  'ticket.split',
  'Messages were split off into a new ticket; both deadlines run from the newer creation (R-TKT-8)',
);
export const TicketMerged = ticketEvent(
  'ticket.merged',
  'Tickets were merged; the deadline runs from the creation of the most recent one (R-TKT-8)',
);

// /v1/admin/tickets, /v1/admin/calendars, /v1/admin/ticket-priorities: the operators' side of
// support (R-TKT): the queue by deadline, replies, internal notes, information requests, closes,
// priorities, pauses, waivers, split and merge, the SLA report, inbound e-mail, and the calendars
// and priority criteria.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { invalidField, NotFound, UnsupportedMediaType } from '../../errors.js';
import { pageSize } from '../../plugins/cursors.js';
import { DateTime, Int32, IdParams, PageQuery, Uuid } from '../../schemas.js';
import { CalendarInUse, DefaultCalendarRequired, type TicketCatalogue } from './catalogue.js';
import type { InboundEmail } from './inbound-email.js';
import { Attachments, attachmentsOf, BinaryFile, callerOf, sendAttachment } from './routes.js';
import {
  Calendar,
  CalendarBody,
  OperatorCloseReason,
  Concerns,
  PauseReason,
  PriorityInfo,
  PriorityName,
  Product,
  strict,
  Ticket,
  TicketDetail,
  TicketInboundEmailList,
  TicketList,
  TicketState,
} from './schemas.js';
import {
  AlreadyPaused,
  AttachmentLimit,
  NoRunningPeriod,
  NotPaused,
  TicketStateConflict,
  type TicketService,
} from './service.js';

const Text = (description: string) => Type.String({ minLength: 1, maxLength: 100_000, description });
const CalendarId = Type.Object({ id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }) }, strict);

export const adminTicketRoutes: FastifyPluginAsyncTypebox<{
  tickets: TicketService;
  catalogue: TicketCatalogue;
  inbound: InboundEmail;
  bodyLimit: number;
  emailBodyLimit: number;
}> = async (app, { tickets, catalogue, inbound, bodyLimit, emailBodyLimit }) => {
  const operator = (req: { principal: Parameters<typeof callerOf>[0] }) => callerOf(req.principal, true);

  app.get(
    '/v1/admin/tickets',
    {
      schema: {
        operationId: 'adminTicketQueue',
        tags: ['admin'],
        summary: 'The queue: every account’s tickets, earliest deadline first (those without one after)',
        querystring: Type.Object(
          {
            state: Type.Optional(TicketState),
            priority: Type.Optional(PriorityName),
            assignee_id: Type.Optional(Uuid),
            account_id: Type.Optional(Uuid),
            breached: Type.Optional(
              Type.Boolean({ description: 'Only those past (true) or within (false) a deadline' }),
            ),
            ...PageQuery,
          },
          strict,
        ),
        response: { 200: TicketList },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = pageSize(q);
      const cursor = app.listCursor(req);
      const at = cursor.position({ deadline: 'time', createdAt: 'time', id: 'uuid' });
      const filters = {
        ...(q.state ? { state: q.state } : {}),
        ...(q.priority ? { priority: q.priority } : {}),
        ...(q.assignee_id ? { assigneeId: q.assignee_id } : {}),
        ...(q.account_id ? { accountId: q.account_id } : {}),
        ...(q.breached === undefined ? {} : { breached: q.breached }),
      };
      const rows = await tickets.queue(filters, at, limit);
      return cursor.page(
        rows,
        limit,
        (r) => ({ deadline: r.deadline, createdAt: new Date(r.view.created_at), id: r.view.id }),
        (r) => r.view,
      );
    },
  );

  app.post(
    '/v1/admin/tickets',
    {
      bodyLimit,
      schema: {
        operationId: 'adminCreateTicket',
        tags: ['admin'],
        summary: 'Register a ticket taken by phone or chat for an account (R-TKT-10)',
        body: Type.Object(
          {
            account_id: Uuid,
            channel: Type.Enum(['phone', 'chat']),
            subject: Type.String({ minLength: 1, maxLength: 300 }),
            description: Text('The issue as the user described it'),
            concerns: Concerns,
            attachments: Attachments,
          },
          strict,
        ),
        errors: [AttachmentLimit],
        response: { 201: Ticket },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const t = await tickets.openOnBehalf({
        accountId: b.account_id,
        subject: b.subject,
        description: b.description,
        concerns: b.concerns,
        channel: b.channel,
        attachments: attachmentsOf(b.attachments),
      });
      req.audit = { targetType: 'ticket', targetId: t.id, accountId: t.account_id };
      return reply.code(201).send(t);
    },
  );

  app.get(
    '/v1/admin/tickets/sla-report',
    {
      schema: {
        operationId: 'adminTicketSlaReport',
        tags: ['admin'],
        summary:
          'Per priority: response periods that ended in [from, to) met and breached, median and 90th percentile response (business or calendar seconds)',
        querystring: Type.Object({ from: DateTime, to: DateTime }, strict),
        response: {
          200: Type.Object(
            {
              from: DateTime,
              to: DateTime,
              priorities: Type.Array(
                Type.Object(
                  {
                    priority: PriorityName,
                    met: Int32({ minimum: 0 }),
                    breached: Int32({ minimum: 0 }),
                    median_response_seconds: Type.Union([Int32({ minimum: 0 }), Type.Null()]),
                    p90_response_seconds: Type.Union([Int32({ minimum: 0 }), Type.Null()]),
                  },
                  strict,
                ),
              ),
            },
            strict,
          ),
        },
      },
    },
    async (req) => {
      const from = new Date(req.query.from);
      const to = new Date(req.query.to);
      if (to <= from) invalidField('/query/to', 'not_after_from', 'to must be later than from');
      return { from: from.toISOString(), to: to.toISOString(), priorities: await tickets.slaReport(from, to) };
    },
  );

  // The raw e-mail (message/rfc822) is taken by this route only: every other route takes JSON. Its
  // bytes are the raw body a signed request's signature covers, as a JSON body's are.
  await app.register(async (intake) => {
    intake.addContentTypeParser('message/rfc822', { parseAs: 'buffer' }, (req, body, done) => {
      req.rawBody = body as Buffer;
      done(null, body);
    });
    intake.post(
      '/v1/admin/tickets/inbound-email',
      {
        bodyLimit: emailBodyLimit,
        config: { audit: true },
        schema: {
          operationId: 'adminReceiveTicketEmail',
          tags: ['admin'],
          summary: 'Take one raw e-mail (message/rfc822) for the ticket intake (R-TKT-10)',
          description:
            'For an MTA pipe or an inbound-mail service. Accepted only from the contact address of exactly one account: a T-<number> reference in the subject, or In-Reply-To/References naming a message of the ticket, adds to that ticket (to the one it was merged into, if it was); a Message-ID already on one of the account’s tickets is a repeated delivery and changes nothing; otherwise a ticket opens. The answer is the same whether the message was taken or refused (a sender learns nothing about addresses); GET /v1/admin/tickets/inbound-email shows what each became.',
          consumes: ['message/rfc822'],
          errors: [UnsupportedMediaType],
          response: { 202: Type.Object({ id: Uuid, status: Type.Literal('received') }, strict) },
        },
      },
      async (req, reply) => {
        if (!Buffer.isBuffer(req.body))
          throw new UnsupportedMediaType('Send the raw message as message/rfc822', {
            headers: { 'accept-post': 'message/rfc822' },
          });
        const { id } = await inbound.receive(req.body);
        req.audit = { targetType: 'inbound_email', targetId: id };
        return reply.code(202).send({ id, status: 'received' as const });
      },
    );
  });

  app.get(
    '/v1/admin/tickets/inbound-email',
    {
      schema: {
        operationId: 'adminListTicketEmails',
        tags: ['admin'],
        summary: 'Inbound e-mails, newest first: the ticket each opened or joined, or why it was refused',
        querystring: Type.Object({ ...PageQuery }, strict),
        response: { 200: TicketInboundEmailList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const at = cursor.position({ receivedAt: 'time', id: 'uuid' });
      const rows = await inbound.list(at, limit);
      return cursor.page(
        rows,
        limit,
        (r) => ({ receivedAt: new Date(r.received_at), id: r.id }),
        (r) => r,
      );
    },
  );

  app.get(
    '/v1/admin/tickets/:id',
    {
      schema: {
        operationId: 'adminGetTicket',
        tags: ['admin'],
        summary: 'A ticket with every message, internal notes included',
        params: IdParams,
        errors: [NotFound],
        response: { 200: TicketDetail },
      },
    },
    async (req) => tickets.get(operator(req), req.params.id) as never,
  );

  app.get(
    '/v1/admin/tickets/:id/attachments/:attachment_id',
    {
      schema: {
        operationId: 'adminGetTicketAttachment',
        tags: ['admin'],
        summary: 'Download an attachment (always as a file)',
        params: Type.Object({ id: Uuid, attachment_id: Uuid }, strict),
        errors: [NotFound],
        response: { 200: BinaryFile },
      },
    },
    async (req, reply) =>
      sendAttachment(reply, await tickets.attachment(operator(req), req.params.id, req.params.attachment_id)),
  );

  const post = <B extends Parameters<typeof Type.Object>[0]>(
    path: string,
    operationId: string,
    summary: string,
    body: B | null,
    errors: Parameters<typeof Array.prototype.push>,
    run: (req: { params: { id: string }; body: never; principal: Parameters<typeof callerOf>[0] }) => Promise<unknown>,
    opts: { bodyLimit?: number; response?: unknown } = {},
  ) =>
    app.post(
      `/v1/admin/tickets/:id/${path}`,
      {
        ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
        schema: {
          operationId,
          tags: ['admin'],
          summary,
          params: IdParams,
          ...(body ? { body: Type.Object(body, strict) } : {}),
          errors: [NotFound, ...(errors as never[])],
          response: { 200: (opts.response ?? Ticket) as typeof Ticket },
        },
      },
      async (req) => run(req as never) as never,
    );

  post(
    'assign',
    'adminAssignTicket',
    'Assign the ticket to an operator (null: unassign)',
    { assignee_id: Type.Union([Uuid, Type.Null()]) },
    [TicketStateConflict],
    (req) => tickets.assign(req.params.id, (req.body as { assignee_id: string | null }).assignee_id),
  );
  post(
    'reply',
    'adminReplyTicket',
    'Reply: a response, so the running period ends (met or breached); the ticket is the user’s turn',
    { body: Text('The reply'), attachments: Attachments },
    [TicketStateConflict, AttachmentLimit],
    (req) => {
      const b = req.body as { body: string; attachments?: { filename: string; content_base64: string }[] };
      return tickets.reply(operator(req), req.params.id, b.body, attachmentsOf(b.attachments));
    },
    { bodyLimit },
  );
  post(
    'notes',
    'adminAddTicketNote',
    'An internal note (never shown to the reseller)',
    { body: Text('The note') },
    [],
    (req) => tickets.note(operator(req), req.params.id, (req.body as { body: string }).body),
  );
  post(
    'request-information',
    'adminRequestTicketInformation',
    'Ask the user for information: the clock stops; 72 hours without it close the ticket (R-TKT-4, R-TKT-6)',
    { body: Text('What is needed') },
    [TicketStateConflict],
    (req) => tickets.requestInformation(operator(req), req.params.id, (req.body as { body: string }).body),
  );
  post(
    'close',
    'adminCloseTicket',
    'Close with a reason (R-TKT-6); the user is notified and has 5 days to object (R-TKT-7)',
    { reason: OperatorCloseReason, body: Type.Optional(Text('A closing message to the user')) },
    [TicketStateConflict],
    (req) => {
      const b = req.body as { reason: string; body?: string };
      return tickets.close(operator(req), req.params.id, b.reason, b.body ?? null);
    },
  );
  post(
    'priority',
    'adminSetTicketPriority',
    'Assign the priority (R-TKT-2): the running period is recomputed from its start',
    { priority: PriorityName, reason: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })) },
    [TicketStateConflict],
    (req) => {
      const b = req.body as { priority: 'low' | 'medium' | 'high' | 'emergency'; reason?: string };
      return tickets.setPriority(operator(req), req.params.id, b.priority, b.reason ?? null);
    },
  );
  post(
    'product-team',
    'adminSetTicketProductTeam',
    'Whether the product team is involved: then periods count business hours whatever the priority (R-TKT-9)',
    { involved: Type.Boolean() },
    [TicketStateConflict],
    (req) => tickets.setProductTeam(operator(req), req.params.id, (req.body as { involved: boolean }).involved),
  );
  post(
    'pause',
    'adminPauseTicketClock',
    'Stop the clock: waiting for a vendor’s answer, or until a time agreed with the user (6.8)',
    {
      reason: PauseReason,
      until: Type.Optional(DateTime),
      note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    },
    [NoRunningPeriod, AlreadyPaused],
    (req) => {
      const b = req.body as { reason: 'vendor_response' | 'agreed_time'; until?: string; note?: string };
      return tickets.pause(operator(req), req.params.id, b.reason, b.until ? new Date(b.until) : null, b.note ?? null);
    },
  );
  post(
    'unpause',
    'adminUnpauseTicketClock',
    'The vendor answered (or the agreed time came early): the clock runs again',
    null,
    [NotPaused],
    (req) => tickets.unpause(operator(req), req.params.id),
  );
  post(
    'sla-waiver',
    'adminWaiveTicketDeadline',
    'The deadline does not apply: the user changed the product without coordination (6.6)',
    { reason: Type.String({ minLength: 1, maxLength: 2000 }) },
    [TicketStateConflict],
    (req) => tickets.waiveDeadline(operator(req), req.params.id, (req.body as { reason: string }).reason),
  );
  post(
    'split',
    'adminSplitTicket',
    'Move chosen messages to a new ticket; both deadlines run from the new one’s creation (R-TKT-8)',
    {
      message_ids: Type.Array(Uuid, { minItems: 1, maxItems: 500 }),
      subject: Type.String({ minLength: 1, maxLength: 300 }),
      priority: Type.Optional(PriorityName),
    },
    [TicketStateConflict],
    (req) => {
      const b = req.body as { message_ids: string[]; subject: string; priority?: 'low' };
      return tickets.split(operator(req), req.params.id, b.message_ids, b.subject, b.priority ?? null);
    },
    { response: Type.Object({ ticket: Ticket, split_into: Ticket }, strict) },
  );
  post(
    'merge',
    'adminMergeTickets',
    'Merge other tickets of the account into this one; the deadline runs from the most recent creation (R-TKT-8)',
    { ticket_ids: Type.Array(Uuid, { minItems: 1, maxItems: 50 }) },
    [TicketStateConflict],
    (req) => tickets.merge(operator(req), req.params.id, (req.body as { ticket_ids: string[] }).ticket_ids),
  );

  // ---- calendars and priority criteria ----

  app.get(
    '/v1/admin/calendars',
    {
      schema: {
        operationId: 'adminListCalendars',
        tags: ['admin'],
        summary: 'Business-hour calendars; the default one is what business-hour periods run on',
        response: { 200: Type.Object({ data: Type.Array(Calendar) }, strict) },
      },
    },
    async () => ({ data: await catalogue.calendars() }),
  );
  app.get(
    '/v1/admin/calendars/:id',
    {
      schema: {
        operationId: 'adminGetCalendar',
        tags: ['admin'],
        summary: 'One calendar',
        params: CalendarId,
        errors: [NotFound],
        response: { 200: Calendar },
      },
    },
    async (req) => catalogue.calendar(req.params.id),
  );
  app.put(
    '/v1/admin/calendars/:id',
    {
      schema: {
        operationId: 'adminSetCalendar',
        tags: ['admin'],
        summary: 'Add or replace a calendar: weekly hours in an IANA zone, whole- and part-day holidays',
        description:
          'Periods running on it get their deadlines anew (the business time already used is counted on the new hours). Making it the default moves periods that start from now on to it.',
        params: CalendarId,
        body: CalendarBody,
        errors: [DefaultCalendarRequired],
        response: { 200: Calendar },
      },
    },
    async (req) => catalogue.setCalendar(req.params.id, req.body),
  );
  app.delete(
    '/v1/admin/calendars/:id',
    {
      schema: {
        operationId: 'adminRemoveCalendar',
        tags: ['admin'],
        summary: 'Remove a calendar that is not the default and no running period uses',
        description:
          'The default calendar answers 409 default_calendar_required; one that running response periods use, 409 calendar_in_use.',
        params: CalendarId,
        errors: [NotFound, DefaultCalendarRequired, CalendarInUse],
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await catalogue.removeCalendar(req.params.id);
      return reply.code(204).send(null);
    },
  );
  app.put(
    '/v1/admin/ticket-priorities/:priority/criteria/:product',
    {
      schema: {
        operationId: 'adminSetTicketPriorityCriteria',
        tags: ['admin'],
        summary: 'Set what makes a ticket about a product this priority (R-TKT-2)',
        params: Type.Object(
          { priority: PriorityName, product: Type.Union([Product, Type.Literal('general')]) },
          strict,
        ),
        body: Type.Object(
          { criteria: Type.Array(Type.String({ minLength: 1, maxLength: 2000 }), { maxItems: 50 }) },
          strict,
        ),
        response: { 200: Type.Object({ data: Type.Array(PriorityInfo) }, strict) },
      },
    },
    async (req) => ({
      data: await catalogue.setCriteria(req.params.product, req.params.priority, req.body.criteria),
    }),
  );
};

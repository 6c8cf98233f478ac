// /v1/tickets: the reseller's support tickets (R-TKT): open one about a product or service, write,
// provide requested information, ask for a priority, suspend, resume, revoke, object to a close;
// and /v1/ticket-priorities, the criteria of each priority and its response time.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { invalidField, NotFound } from '../../errors.js';
import { pageSize } from '../../plugins/cursors.js';
import { IdParams, PageQuery, Uuid } from '../../schemas.js';
import { tenantOf, type Principal } from '../accounts/api.js';
import { PriorityName, PriorityInfo, strict, Concerns, Ticket, TicketDetail, TicketList } from './schemas.js';
import {
  AttachmentLimit,
  ObjectionWindowOver,
  TicketStateConflict,
  type Caller,
  type NewAttachment,
  type TicketService,
} from './service.js';
import type { TicketCatalogue } from './catalogue.js';

const Body = (description: string) => Type.String({ minLength: 1, maxLength: 100_000, description });
export const Attachments = Type.Optional(
  Type.Array(
    Type.Object(
      {
        filename: Type.String({ minLength: 1, maxLength: 255 }),
        content_base64: Type.String({
          // Whole groups of four, padded as base64 is (RFC 4648): "A" or "AB=" is not a file.
          pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$',
          minLength: 4,
          contentEncoding: 'base64',
          description:
            'The file (at least one byte), base64 with its padding; its content type is sniffed from the bytes',
          examples: ['aGVsbG8K'],
        }),
      },
      strict,
    ),
    {
      maxItems: 50,
      description:
        'Files kept with the message (limits: TICKET_ATTACHMENT_MAX_BYTES each, TICKET_ATTACHMENTS_PER_MESSAGE, TICKET_ATTACHMENTS_PER_TICKET)',
    },
  ),
);
export const attachmentsOf = (a: { filename: string; content_base64: string }[] | undefined): NewAttachment[] =>
  (a ?? []).map((f) => ({ filename: f.filename, data: Buffer.from(f.content_base64, 'base64') }));

/** Room in one request for the largest allowed attachments, base64, and the rest of the body. */
export const ticketBodyLimit = (c: { attachmentMaxBytes: number; attachmentsPerMessage: number }, base: number) =>
  Math.max(base, Math.ceil((c.attachmentMaxBytes * 4) / 3) * Math.max(1, c.attachmentsPerMessage) + 1_048_576);

export const callerOf = (p: Principal | null, operator = false): Caller => ({
  accountId: operator ? null : tenantOf(p),
  userId: p?.userId ?? null,
});

/** An attachment as a download: never inline, never sniffed again by the browser. */
export function sendAttachment(
  reply: FastifyReply,
  a: { filename: string; contentType: string; data: Buffer; sha256: string },
): FastifyReply {
  const ascii = a.filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return reply
    .type(a.contentType)
    .header(
      'content-disposition',
      `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(a.filename)}`,
    )
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .header('digest', `sha-256=${Buffer.from(a.sha256, 'hex').toString('base64')}`)
    .send(a.data);
}
export const BinaryFile = {
  description: 'The file as sent, with its sniffed content type, as an attachment',
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
};

/**
 * R-API-3 counts orders and updates of products; a ticket is neither, and a reseller past the bulk
 * ceiling must still be able to ask for help.
 */
const notBulkWork = { bulkExempt: true } as const;

export const ticketRoutes: FastifyPluginAsyncTypebox<{
  tickets: TicketService;
  catalogue: TicketCatalogue;
  bodyLimit: number;
}> = async (app, { tickets, catalogue, bodyLimit }) => {
  app.get(
    '/v1/ticket-priorities',
    {
      schema: {
        operationId: 'listTicketPriorities',
        tags: ['tickets'],
        summary: 'Each priority: its response time and the criteria per product (R-TKT-2, R-TKT-3)',
        response: { 200: Type.Object({ data: Type.Array(PriorityInfo) }, strict) },
      },
    },
    async () => ({ data: await catalogue.priorities() }),
  );

  app.post(
    '/v1/tickets',
    {
      // The ticket's statement makes the R-API-2 lookup (ticket creation is a hot path).
      config: { ...notBulkWork, guardInStatement: true },
      bodyLimit,
      schema: {
        operationId: 'createTicket',
        tags: ['tickets'],
        summary: 'Open a ticket about one issue (R-TKT-1): Low at first, its response period starts',
        description:
          'One issue per ticket, with a full description and the product or service it concerns. It starts Low (R-TKT-2); ask for a higher priority with requested_priority and a justification (see GET /v1/ticket-priorities). The response period starts now: 32 business hours at Low (R-TKT-3).',
        body: Type.Object(
          {
            subject: Type.String({ minLength: 1, maxLength: 300 }),
            description: Body('The full description: what happens, what you expected, the steps, its consequences'),
            concerns: Concerns,
            requested_priority: Type.Optional(PriorityName),
            justification: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000 })),
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
      const requested = b.requested_priority;
      if (requested && requested !== 'low' && !b.justification) {
        invalidField('/body/justification', 'justification_required', 'A higher priority needs a justification');
      }
      let t: Awaited<ReturnType<TicketService['open']>>;
      try {
        t = await tickets.open(
          {
            accountId: tenantOf(req.principal),
            subject: b.subject,
            description: b.description,
            concerns: b.concerns,
            channel: 'api',
            requestedPriority: requested ? { priority: requested, justification: b.justification ?? '' } : undefined,
            attachments: attachmentsOf(b.attachments),
          },
          req.principal!.userId,
          // The statement that writes the ticket writes its audit row too (R-SEC-7).
          (id) => {
            req.audit = { targetType: 'ticket', targetId: id };
            return req.auditRowFor(201);
          },
          req.deferredGuard(),
        );
      } catch (err) {
        // No ticket was opened: the failure's audit row names none (auditRowFor had set it).
        req.audit = undefined;
        throw err;
      }
      req.audit = { targetType: 'ticket', targetId: t.ticket.id };
      if (t.audited) req.auditWrittenFor = 201;
      return reply.code(201).send(t.ticket);
    },
  );

  app.get(
    '/v1/tickets',
    {
      schema: {
        operationId: 'listTickets',
        tags: ['tickets'],
        summary: 'Your tickets, newest first, each with its current deadline',
        querystring: Type.Object({ ...PageQuery }, strict),
        response: { 200: TicketList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const at = cursor.position({ createdAt: 'time', id: 'uuid' });
      const rows = await tickets.list(callerOf(req.principal), at, limit);
      return cursor.page(
        rows,
        limit,
        (r) => ({ createdAt: new Date(r.created_at), id: r.id }),
        (r) => r,
      );
    },
  );

  app.get(
    '/v1/tickets/:id',
    {
      schema: {
        operationId: 'getTicket',
        tags: ['tickets'],
        summary: 'A ticket with its messages, its deadline, every response period and its priority history',
        params: IdParams,
        errors: [NotFound],
        response: { 200: TicketDetail },
      },
    },
    async (req) => tickets.get(callerOf(req.principal), req.params.id) as never,
  );

  const MessageBody = Type.Object({ body: Body('Your message'), attachments: Attachments }, strict);
  app.post(
    '/v1/tickets/:id/messages',
    {
      config: notBulkWork,
      bodyLimit,
      schema: {
        operationId: 'addTicketMessage',
        tags: ['tickets'],
        summary: 'Write on a ticket: after a reply or an information request, a full response period starts',
        params: IdParams,
        body: MessageBody,
        errors: [NotFound, TicketStateConflict, AttachmentLimit],
        response: { 200: Ticket },
      },
    },
    async (req) =>
      tickets.message(callerOf(req.principal), req.params.id, req.body.body, attachmentsOf(req.body.attachments)),
  );

  app.post(
    '/v1/tickets/:id/provide-information',
    {
      config: notBulkWork,
      bodyLimit,
      schema: {
        operationId: 'provideTicketInformation',
        tags: ['tickets'],
        summary: 'The information the provider asked for: the countdown starts anew (R-TKT-4)',
        params: IdParams,
        body: MessageBody,
        errors: [NotFound, TicketStateConflict, AttachmentLimit],
        response: { 200: Ticket },
      },
    },
    async (req) =>
      tickets.provideInformation(
        callerOf(req.principal),
        req.params.id,
        req.body.body,
        attachmentsOf(req.body.attachments),
      ),
  );

  for (const [action, operationId, summary, run] of [
    [
      'suspend',
      'suspendTicket',
      'Suspend your ticket: the response period stops (R-TKT-5)',
      (c: Caller, id: string) => tickets.suspend(c, id),
    ],
    [
      'resume',
      'resumeTicket',
      'Resume a suspended ticket: a full response period starts anew (R-TKT-5)',
      (c: Caller, id: string) => tickets.resume(c, id),
    ],
    ['revoke', 'revokeTicket', 'Revoke your ticket (final)', (c: Caller, id: string) => tickets.revoke(c, id)],
  ] as const) {
    app.post(
      `/v1/tickets/:id/${action}`,
      {
        config: notBulkWork,
        schema: {
          operationId,
          tags: ['tickets'],
          summary,
          params: IdParams,
          errors: [NotFound, TicketStateConflict],
          response: { 200: Ticket },
        },
      },
      async (req) => run(callerOf(req.principal), req.params.id),
    );
  }

  app.post(
    '/v1/tickets/:id/objection',
    {
      config: notBulkWork,
      bodyLimit,
      schema: {
        operationId: 'objectToTicketClose',
        tags: ['tickets'],
        summary: 'Object to a close within 5 days, with a justification: the ticket reopens (R-TKT-7)',
        params: IdParams,
        body: Type.Object(
          { justification: Body('Why the close is wrong, as fully as a new ticket'), attachments: Attachments },
          strict,
        ),
        errors: [NotFound, TicketStateConflict, ObjectionWindowOver, AttachmentLimit],
        response: { 200: Ticket },
      },
    },
    async (req) =>
      tickets.object(
        callerOf(req.principal),
        req.params.id,
        req.body.justification,
        attachmentsOf(req.body.attachments),
      ),
  );

  app.post(
    '/v1/tickets/:id/priority-request',
    {
      config: notBulkWork,
      schema: {
        operationId: 'requestTicketPriority',
        tags: ['tickets'],
        summary: 'Ask for a priority, with a justification; the provider assigns it (R-TKT-2)',
        params: IdParams,
        body: Type.Object(
          { priority: PriorityName, justification: Type.String({ minLength: 1, maxLength: 10_000 }) },
          strict,
        ),
        errors: [NotFound, TicketStateConflict],
        response: { 200: Ticket },
      },
    },
    async (req) =>
      tickets.requestPriority(callerOf(req.principal), req.params.id, req.body.priority, req.body.justification),
  );

  app.get(
    '/v1/tickets/:id/attachments/:attachment_id',
    {
      schema: {
        operationId: 'getTicketAttachment',
        tags: ['tickets'],
        summary: 'Download an attachment (always as a file, never shown inline)',
        params: Type.Object({ id: Uuid, attachment_id: Uuid }, strict),
        errors: [NotFound],
        response: { 200: BinaryFile },
      },
    },
    async (req, reply) =>
      sendAttachment(reply, await tickets.attachment(callerOf(req.principal), req.params.id, req.params.attachment_id)),
  );
};

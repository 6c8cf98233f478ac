// R-DOM-6: abuse complaints. Anyone files one (POST /v1/abuse-complaints, limited per address) or an
// operator does; the domain's reseller sees it and responds by respond_by; unanswered ones escalate.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { Page, PageQuery, Uuid } from '../../schemas.js';
import { pageSize, type ListCursor } from '../../plugins/cursors.js';
import { tenantOf } from '../accounts/api.js';
import { type AbuseService, type ComplaintWithIncident, type NewComplaint } from './abuse-service.js';
import {
  Action,
  AdminComplaint,
  AdminComplaintBody,
  adminComplaintView,
  Complaint,
  complaintView,
  PublicReceipt,
  PublicReportBody,
  Status,
} from './abuse-schemas.js';
import { nameFromParam, strict } from './domain-schemas.js';
import { NotFound } from '../../errors.js';
import { AbuseComplaintClosed } from './abuse-service.js';

export interface AbuseRouteOptions {
  abuse: AbuseService;
}

const ListQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(Status), domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })) },
  strict,
);
const AdminListQuery = Type.Object({ ...ListQuery.properties, account_id: Type.Optional(Uuid) }, strict);
const IdParams = Type.Object({ id: Uuid }, strict);
const ResponseBody = Type.Object({ action: Action, message: Type.String({ minLength: 1, maxLength: 10_000 }) }, strict);
const CloseBody = Type.Object(
  { note: Type.String({ minLength: 1, maxLength: 10_000, description: 'Why, and what was done' }) },
  strict,
);

export const abuseRoutes: FastifyPluginAsyncTypebox<AbuseRouteOptions> = async (app, { abuse }) => {
  async function list(req: FastifyRequest, accountId: string | undefined, q: Static<typeof AdminListQuery>) {
    const limit = pageSize(q);
    const cursor = app.listCursor(req);
    const at = cursor.position({ t: 'time', id: 'uuid' });
    const before = at ? { createdAt: at.t, id: at.id } : undefined;
    const rows = await abuse.listComplaints({
      accountId,
      status: q.status,
      domain: q.domain ? nameFromParam(q.domain.trim()) : undefined,
      before,
      limit,
    });
    return { rows, limit, cursor };
  }
  /** Files a complaint from either body; who filed it and from where is the caller's. */
  const file = (
    b: Static<typeof AdminComplaintBody>,
    who: Pick<NewComplaint, 'reporterEmail' | 'source' | 'filedByUserId' | 'filedFromIp'>,
  ) =>
    abuse.fileComplaint({
      domain: nameFromParam(b.domain.trim()),
      category: b.category,
      description: b.description,
      evidenceUrls: b.evidence_urls ?? [],
      reporterName: b.reporter_name ?? null,
      ...who,
    });
  const pageOf = <O>(
    r: { rows: ComplaintWithIncident[]; limit: number; cursor: ListCursor },
    view: (c: ComplaintWithIncident) => O,
  ) => r.cursor.page(r.rows, r.limit, (c) => ({ t: c.createdAt, id: c.id }), view);

  // ---- anyone ----

  app.post(
    '/v1/abuse-complaints',
    {
      schema: {
        operationId: 'fileAbuseComplaint',
        tags: ['domains'],
        summary: 'Report abuse of a domain registered through us (no account needed)',
        description:
          'Unauthenticated and rate limited per client address. The complaint goes to the reseller holding the domain, who must respond within the configured time; an unanswered complaint is escalated to our staff. Your name and e-mail are not shown to the reseller.',
        body: PublicReportBody,
        errors: [NotFound],
        response: { 202: PublicReceipt },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const row = await file(b, {
        reporterEmail: b.reporter_email,
        source: 'public',
        filedByUserId: null,
        filedFromIp: req.ip,
      });
      // Kept out of the reseller's audit log: the row holds the reporter's address and e-mail.
      req.audit = { accountId: null, userId: null, targetType: 'abuse_complaint', targetId: row.id };
      return reply
        .code(202)
        .send({ id: row.id, status: 'open' as const, domain: row.domainName, respond_by: row.respondBy.toISOString() });
    },
  );

  // ---- resellers ----

  app.get(
    '/v1/abuse-complaints',
    {
      schema: {
        operationId: 'listAbuseComplaints',
        tags: ['domains'],
        summary: 'Abuse complaints about your domains, newest first',
        querystring: ListQuery,
        errors: [NotFound],
        response: { 200: Page(Complaint) },
      },
    },
    async (req) => pageOf(await list(req, tenantOf(req.principal), req.query), complaintView),
  );

  app.get(
    '/v1/abuse-complaints/:id',
    {
      schema: {
        operationId: 'getAbuseComplaint',
        tags: ['domains'],
        summary: 'One abuse complaint about your domain',
        params: IdParams,
        errors: [NotFound],
        response: { 200: Complaint },
      },
    },
    async (req) => complaintView(await abuse.getComplaint(req.params.id, tenantOf(req.principal))),
  );

  app.post(
    '/v1/abuse-complaints/:id/responses',
    {
      schema: {
        operationId: 'respondToAbuseComplaint',
        tags: ['domains'],
        summary: 'Respond to an abuse complaint: what you did about it (R-DOM-6)',
        description:
          'Answered by respond_by, an open complaint becomes responded. A later response replaces the earlier one (e.g. investigating, then removed). After respond_by the complaint escalates to a fair-use incident whether or not the answer came late; a late answer is still recorded for our staff. A closed complaint takes no responses (409 abuse_complaint_closed).',
        params: IdParams,
        body: ResponseBody,
        errors: [NotFound, AbuseComplaintClosed],
        response: { 200: Complaint },
      },
    },
    async (req) => {
      const accountId = tenantOf(req.principal);
      const complaint = await abuse.respondToComplaint(accountId, req.params.id, {
        action: req.body.action,
        message: req.body.message,
        userId: req.principal!.userId,
      });
      req.audit = { targetType: 'abuse_complaint', targetId: complaint.id };
      return complaintView(complaint);
    },
  );

  // ---- operators ----

  app.post(
    '/v1/admin/abuse-complaints',
    {
      schema: {
        operationId: 'adminCreateAbuseComplaint',
        tags: ['admin'],
        summary: 'File an abuse complaint against a domain on behalf of a reporter',
        body: AdminComplaintBody,
        errors: [NotFound],
        response: { 201: AdminComplaint },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const row = await file(b, {
        reporterEmail: b.reporter_email ?? null,
        source: 'operator',
        filedByUserId: req.principal!.userId,
        filedFromIp: null,
      });
      req.audit = { targetType: 'abuse_complaint', targetId: row.id };
      return reply.code(201).send(adminComplaintView(row));
    },
  );

  app.get(
    '/v1/admin/abuse-complaints',
    {
      schema: {
        operationId: 'adminListAbuseComplaints',
        tags: ['admin'],
        summary: 'Abuse complaints of every account, newest first',
        querystring: AdminListQuery,
        response: { 200: Page(AdminComplaint) },
      },
    },
    async (req) => pageOf(await list(req, req.query.account_id, req.query), adminComplaintView),
  );

  app.get(
    '/v1/admin/abuse-complaints/:id',
    {
      schema: {
        operationId: 'adminGetAbuseComplaint',
        tags: ['admin'],
        summary: 'One abuse complaint, with its reporter',
        params: IdParams,
        errors: [NotFound],
        response: { 200: AdminComplaint },
      },
    },
    async (req) => adminComplaintView(await abuse.getComplaint(req.params.id)),
  );

  app.post(
    '/v1/admin/abuse-complaints/:id/close',
    {
      schema: {
        operationId: 'adminCloseAbuseComplaint',
        tags: ['admin'],
        summary: 'Close an abuse complaint; it then takes no responses and never escalates',
        description:
          'An incident already filed for it stays; clear it through PATCH /v1/admin/fair-use/incidents/{id} if it should not count.',
        params: IdParams,
        body: CloseBody,
        errors: [NotFound, AbuseComplaintClosed],
        response: { 200: AdminComplaint },
      },
    },
    async (req) => {
      const row = await abuse.closeComplaint(req.params.id, req.body.note);
      req.audit = { accountId: row.accountId, targetType: 'abuse_complaint', targetId: row.id };
      return adminComplaintView(row);
    },
  );
};

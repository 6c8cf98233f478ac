// Incidents, bulk notices, the ladder and suspensions (R-API-3, R-API-4), for resellers and operators.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { pageSize } from '../../plugins/cursors.js';
import { BigIntId, Page, PageQuery, Uuid } from '../../schemas.js';
import { tenantOf } from '../accounts/api.js';
import type { IncidentService } from './incident-service.js';
import { BulkNotice, BulkNoticeBody, Incident, IncidentPatch, incidentView, Ladder } from './schemas.js';
import { NotFound } from '../../errors.js';

const IncidentQuery = Type.Object(
  {
    ...PageQuery,
    status: Type.Optional(Type.Enum(['open', 'cleared'])),
    account_id: Type.Optional(Type.String({ format: 'uuid', description: 'Operators only' })),
  },
  { additionalProperties: false },
);

export const incidentRoutes: FastifyPluginAsyncTypebox<{ incidents: IncidentService }> = async (app, { incidents }) => {
  async function listIncidents(req: FastifyRequest, accountId: string | undefined, q: Static<typeof IncidentQuery>) {
    const limit = pageSize(q);
    const cursor = app.listCursor(req);
    const before = cursor.position({ id: 'id' })?.id;
    const rows = await incidents.listIncidents({ accountId, status: q.status, before, limit });
    return cursor.page(rows, limit, (i) => ({ id: i.id }), incidentView);
  }

  app.get(
    '/v1/fair-use/incidents',
    {
      schema: {
        operationId: 'listFairUseIncidents',
        tags: ['fair-use'],
        summary: 'Your fair-use incidents, newest first',
        querystring: IncidentQuery,
        errors: [NotFound],
        response: { 200: Page(Incident) },
      },
      config: { allowDuringApiSuspension: true },
    },
    async (req) => listIncidents(req, tenantOf(req.principal), req.query),
  );

  app.post(
    '/v1/fair-use/bulk-notices',
    {
      schema: {
        operationId: 'createBulkNotice',
        tags: ['fair-use'],
        summary: 'Announce bulk work for a UTC day, in advance (R-API-3)',
        description:
          'Above the daily threshold of orders and updates, calls are flagged and past the ceiling refused unless a notice for that day announces at least that many. A notice is filed in advance: for today only while today’s count is within the threshold (422 not_in_advance at /body/date otherwise), or for a later day.',
        body: BulkNoticeBody,
        errors: [NotFound],
        response: { 201: BulkNotice },
      },
      config: { bulkExempt: true },
    },
    async (req, reply) => {
      const row = await incidents.fileBulkNotice({
        accountId: tenantOf(req.principal),
        day: req.body.date,
        expectedCount: req.body.expected_count,
        description: req.body.description,
        createdBy: req.principal!.userId,
      });
      req.audit = { targetType: 'bulk_notice', targetId: row.id };
      return reply.code(201).send({
        id: row.id,
        date: row.day,
        expected_count: row.expectedCount,
        description: row.description,
        created_at: row.createdAt.toISOString(),
      });
    },
  );

  app.get(
    '/v1/fair-use/bulk-notices',
    {
      schema: {
        operationId: 'listBulkNotices',
        tags: ['fair-use'],
        summary: 'Your bulk notices for today and later',
        errors: [NotFound],
        response: { 200: Type.Object({ data: Type.Array(BulkNotice) }, { additionalProperties: false }) },
      },
      config: { allowDuringApiSuspension: true },
    },
    async (req) => {
      const rows = await incidents.listBulkNotices(tenantOf(req.principal));
      return {
        data: rows.map((n) => ({
          id: n.id,
          date: n.day,
          expected_count: n.expectedCount,
          description: n.description,
          created_at: n.createdAt.toISOString(),
        })),
      };
    },
  );

  // ---- operators ----

  app.get(
    '/v1/admin/fair-use/incidents',
    {
      schema: {
        operationId: 'adminListFairUseIncidents',
        tags: ['admin'],
        summary: 'Incidents of every account, newest first',
        querystring: IncidentQuery,
        response: { 200: Page(Incident) },
      },
    },
    async (req) => listIncidents(req, req.query.account_id, req.query),
  );

  app.patch(
    '/v1/admin/fair-use/incidents/:id',
    {
      schema: {
        operationId: 'adminUpdateFairUseIncident',
        tags: ['admin'],
        summary: 'Annotate an incident, or clear it so it no longer counts toward the ladder',
        params: Type.Object({ id: BigIntId() }, { additionalProperties: false }),
        body: IncidentPatch,
        errors: [NotFound],
        response: { 200: Incident },
      },
    },
    async (req) => {
      const row = await incidents.updateIncident(req.params.id, req.body, req.principal!.userId);
      req.audit = { accountId: row.accountId, targetType: 'fair_use_incident', targetId: String(row.id) };
      return incidentView(row);
    },
  );

  app.delete(
    '/v1/admin/fair-use/suspensions/:account_id',
    {
      schema: {
        operationId: 'adminLiftApiSuspension',
        tags: ['admin'],
        summary: 'Lift a fair-use API suspension now',
        params: Type.Object({ account_id: Uuid }, { additionalProperties: false }),
        errors: [NotFound],
        response: { 204: Type.Null({ description: 'Lifted' }) },
      },
    },
    async (req, reply) => {
      await incidents.liftApiSuspension(req.params.account_id);
      req.audit = { accountId: req.params.account_id, targetType: 'account', targetId: req.params.account_id };
      return reply.code(204).send(null);
    },
  );

  const ladderView = (steps: Awaited<ReturnType<IncidentService['getLadder']>>) => ({
    steps: steps.map((s) => ({
      threshold: s.threshold,
      min_days: s.minDays,
      action: s.action as 'warning',
      suspension_hours: s.suspensionHours,
      fee: (s.fee as Record<string, number> | null) ?? null,
    })),
  });

  app.get(
    '/v1/admin/fair-use/ladder',
    {
      schema: {
        operationId: 'adminGetFairUseLadder',
        tags: ['admin'],
        summary: 'The escalation ladder',
        response: { 200: Ladder },
      },
    },
    async () => ladderView(await incidents.getLadder()),
  );

  app.put(
    '/v1/admin/fair-use/ladder',
    {
      schema: {
        operationId: 'adminSetFairUseLadder',
        tags: ['admin'],
        summary: 'Replace the escalation ladder',
        description:
          'Incidents are counted once per cause (type) per UTC day; a step fires when the count reaches its threshold and the incidents fall on at least min_days distinct UTC days within the period. No single incident may suspend, fine or flag an account: those steps need a threshold of 2 or more.',
        body: Ladder,
        response: { 200: Ladder },
      },
    },
    async (req) => {
      const steps = await incidents.setLadder(req.body.steps);
      req.audit = { targetType: 'fair_use_ladder', targetId: 'ladder' };
      return ladderView(steps);
    },
  );
};

// Incidents, bulk notices, the ladder and suspensions (R-API-3, R-API-4), for resellers and operators.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { and, desc, eq, gt, lt } from 'drizzle-orm';
import { Type, type Static } from 'typebox';
import { accounts, bulkNotices, fairUseIncidents, ladderSteps } from '../../db/schema/index.js';
import { NotFound, ValidationFailed } from '../../errors.js';
import { BigIntId, iso, Page, PageQuery, Uuid } from '../../schemas.js';
import { tenantOf } from '../accounts/service.js';
import { utcDay } from './bulk.js';
import { BulkNotice, BulkNoticeBody, Incident, IncidentPatch, Ladder } from './schemas.js';

type IncidentRow = typeof fairUseIncidents.$inferSelect;
export const incidentView = (i: IncidentRow): Static<typeof Incident> => ({
  id: i.id,
  account_id: i.accountId,
  type: i.type as Static<typeof Incident>['type'],
  occurred_at: i.occurredAt.toISOString(),
  evidence: i.evidence as Record<string, unknown>,
  status: i.status as 'open' | 'cleared',
  annotation: i.annotation,
  actions: i.actions,
  cleared_at: iso(i.clearedAt),
});

const IncidentQuery = Type.Object(
  {
    ...PageQuery,
    status: Type.Optional(Type.Enum(['open', 'cleared'])),
    account_id: Type.Optional(Type.String({ format: 'uuid', description: 'Operators only' })),
  },
  { additionalProperties: false },
);

export const incidentRoutes: FastifyPluginAsyncTypebox<{ periodDays: number }> = async (app, opts) => {
  async function listIncidents(req: FastifyRequest, accountId: string | undefined, q: Static<typeof IncidentQuery>) {
    const limit = q.limit ?? 50;
    const cursor = app.listCursor(req);
    const before = cursor.position({ id: 'id' })?.id;
    const rows = await app.db
      .select()
      .from(fairUseIncidents)
      .where(
        and(
          accountId ? eq(fairUseIncidents.accountId, accountId) : undefined,
          q.status ? eq(fairUseIncidents.status, q.status) : undefined,
          before !== undefined ? lt(fairUseIncidents.id, before) : undefined,
        ),
      )
      .orderBy(desc(fairUseIncidents.id))
      .limit(limit + 1);
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
          'Above the daily threshold of orders and updates, calls are flagged and past the ceiling refused unless a notice for that day announces at least that many.',
        body: BulkNoticeBody,
        errors: [NotFound],
        response: { 201: BulkNotice },
      },
      config: { bulkExempt: true },
    },
    async (req, reply) => {
      if (req.body.date < utcDay()) {
        throw new ValidationFailed('A bulk notice is filed in advance: today or a later day', {
          errors: [{ pointer: '/body/date', code: 'in_the_past', message: `must be ${utcDay()} or later` }],
        });
      }
      const [row] = await app.db
        .insert(bulkNotices)
        .values({
          accountId: tenantOf(req.principal),
          day: req.body.date,
          expectedCount: req.body.expected_count,
          description: req.body.description,
          createdBy: req.principal!.userId,
        })
        .returning();
      req.audit = { targetType: 'bulk_notice', targetId: row!.id };
      return reply.code(201).send({
        id: row!.id,
        date: row!.day,
        expected_count: row!.expectedCount,
        description: row!.description,
        created_at: row!.createdAt.toISOString(),
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
      const rows = await app.db
        .select()
        .from(bulkNotices)
        .where(
          and(
            eq(bulkNotices.accountId, tenantOf(req.principal)),
            gt(bulkNotices.day, new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)),
          ),
        )
        .orderBy(bulkNotices.day);
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
      const clearing = req.body.status === 'cleared';
      const [row] = await app.db
        .update(fairUseIncidents)
        .set({
          ...(req.body.annotation !== undefined ? { annotation: req.body.annotation } : {}),
          ...(req.body.status
            ? {
                status: req.body.status,
                clearedAt: clearing ? new Date() : null,
                clearedBy: clearing ? req.principal!.userId : null,
              }
            : {}),
        })
        .where(eq(fairUseIncidents.id, req.params.id))
        .returning();
      if (!row) throw new NotFound('No such incident');
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
      const [row] = await app.db
        .update(accounts)
        .set({ apiSuspendedUntil: null, updatedAt: new Date() })
        .where(eq(accounts.id, req.params.account_id))
        .returning({ id: accounts.id });
      if (!row) throw new NotFound('No such account');
      app.credentialCache.revoke({ accountId: row.id });
      req.audit = { accountId: row.id, targetType: 'account', targetId: row.id };
      return reply.code(204).send(null);
    },
  );

  const ladderView = async () => ({
    steps: (await app.db.select().from(ladderSteps).orderBy(ladderSteps.threshold)).map((s) => ({
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
    ladderView,
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
      const errors = req.body.steps.flatMap((s, i) => {
        const out = [];
        if (s.action !== 'warning' && s.threshold < 2)
          out.push({
            pointer: `/body/steps/${i}/threshold`,
            code: 'too_small',
            message: 'no single incident may suspend, fine or flag: 2 or more',
          });
        if (s.action === 'suspend_api' && !s.suspension_hours)
          out.push({
            pointer: `/body/steps/${i}/suspension_hours`,
            code: 'required',
            message: 'a suspension needs its length',
          });
        if (s.action === 'fee' && !s.fee)
          out.push({
            pointer: `/body/steps/${i}/fee`,
            code: 'required',
            message: 'a fee needs an amount per currency',
          });
        if ((s.min_days ?? 1) > opts.periodDays)
          out.push({
            pointer: `/body/steps/${i}/min_days`,
            code: 'too_large',
            message: `the period is ${opts.periodDays} days: this step could never fire`,
          });
        return out;
      });
      if (new Set(req.body.steps.map((s) => s.threshold)).size !== req.body.steps.length) {
        errors.push({ pointer: '/body/steps', code: 'duplicate_items', message: 'one step per threshold' });
      }
      if (errors.length) throw new ValidationFailed('The ladder is not valid', { errors });
      await app.db.transaction(async (tx) => {
        await tx.delete(ladderSteps);
        if (req.body.steps.length) {
          await tx.insert(ladderSteps).values(
            req.body.steps.map((s) => ({
              threshold: s.threshold,
              minDays: s.min_days ?? 1,
              action: s.action,
              suspensionHours: s.suspension_hours ?? null,
              fee: s.fee ?? null,
            })),
          );
        }
      });
      req.audit = { targetType: 'fair_use_ladder', targetId: 'ladder' };
      return ladderView();
    },
  );
};

// /v1/fair-use (resellers: their standing) and /v1/admin/fair-use (operators: limits and costs).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { tenantOf } from '../accounts/api.js';
import type { FairUseService } from './fair-use-service.js';
import { bucketsOf } from '../../plugins/rate-limit.js';
import {
  Cost,
  CostBody,
  FairUseView,
  incidentView,
  LimitBody,
  Limit,
  LimitsView,
  Scope,
  standingView,
} from './schemas.js';
import { NotFound } from '../../errors.js';

export const fairUseRoutes: FastifyPluginAsyncTypebox<{ fairUse: FairUseService }> = async (app, { fairUse }) => {
  app.get(
    '/v1/fair-use',
    {
      schema: {
        operationId: 'getFairUse',
        tags: ['fair-use'],
        summary: "Your standing: API suspension, incidents, today's order count, rate-limit buckets and costs",
        errors: [NotFound],
        response: { 200: FairUseView },
      },
      config: { allowDuringApiSuspension: true },
    },
    async (req) => {
      const { account, standing, incidents, today, periodDays, buckets, costs } = await fairUse.standingOf(
        tenantOf(req.principal),
        bucketsOf(req),
      );
      return {
        standing: standingView(account, standing, periodDays, new Date()),
        today,
        recent_incidents: incidents.map(incidentView),
        buckets: buckets.map((b) => ({
          scope: b.scope,
          capacity: b.policy.capacity,
          refill_per_minute: Math.round(b.policy.refillPerSecond * 60),
          remaining: b.remaining,
        })),
        costs: costs.map((c) => ({ operation_id: c.operationId, cost: c.cost })),
      };
    },
  );

  const limitsView = async () => {
    const { limits, costs } = await fairUse.limitsAndCosts();
    return {
      limits: limits.map((l) => ({
        scope: l.scope as 'credential',
        capacity: l.capacity,
        refill_per_minute: l.refillPerMinute,
        updated_at: l.updatedAt.toISOString(),
      })),
      costs: costs.map((c) => ({ operation_id: c.operationId, cost: c.cost, updated_at: c.updatedAt.toISOString() })),
    };
  };

  app.get(
    '/v1/admin/fair-use/limits',
    {
      schema: {
        operationId: 'adminGetFairUseLimits',
        tags: ['admin'],
        summary: 'Rate limits per bucket scope and operation costs',
        response: { 200: LimitsView },
      },
    },
    limitsView,
  );

  app.put(
    '/v1/admin/fair-use/limits/:scope',
    {
      schema: {
        operationId: 'adminSetFairUseLimit',
        tags: ['admin'],
        summary: "Set a bucket scope's capacity and refill rate; every instance applies it within FAIR_USE_REFRESH_MS",
        params: Type.Object({ scope: Scope }, { additionalProperties: false }),
        body: LimitBody,
        response: { 200: Limit },
      },
    },
    async (req) => {
      const row = await fairUse.setLimit(req.params.scope, {
        capacity: req.body.capacity,
        refillPerMinute: req.body.refill_per_minute,
      });
      req.audit = { targetType: 'rate_limit_policy', targetId: req.params.scope };
      return {
        scope: row.scope as 'credential',
        capacity: row.capacity,
        refill_per_minute: row.refillPerMinute,
        updated_at: row.updatedAt.toISOString(),
      };
    },
  );

  const OperationParams = Type.Object(
    { operation_id: Type.String({ pattern: '^[a-z][A-Za-z0-9]*$', maxLength: 100 }) },
    { additionalProperties: false },
  );

  app.put(
    '/v1/admin/fair-use/costs/:operation_id',
    {
      schema: {
        operationId: 'adminSetOperationCost',
        tags: ['admin'],
        summary: 'Set what one call to an operation costs in tokens',
        params: OperationParams,
        body: CostBody,
        response: { 200: Cost },
      },
    },
    async (req) => {
      const row = await fairUse.setCost(req.params.operation_id, req.body.cost);
      req.audit = { targetType: 'operation_cost', targetId: req.params.operation_id };
      return { operation_id: row.operationId, cost: row.cost, updated_at: row.updatedAt.toISOString() };
    },
  );

  const Exemption = Type.Object(
    { operation_id: Type.String(), reason: Type.String(), created_at: Type.String({ format: 'date-time' }) },
    { additionalProperties: false },
  );

  app.get(
    '/v1/admin/fair-use/guard-exemptions',
    {
      schema: {
        operationId: 'adminListGuardExemptions',
        tags: ['admin'],
        summary: 'Operations the repeated-failure guard (R-API-2) leaves alone',
        response: { 200: Type.Object({ data: Type.Array(Exemption) }, { additionalProperties: false }) },
      },
    },
    async () => ({
      data: (await fairUse.listGuardExemptions()).map((e) => ({
        operation_id: e.operationId,
        reason: e.reason,
        created_at: e.createdAt.toISOString(),
      })),
    }),
  );

  app.put(
    '/v1/admin/fair-use/guard-exemptions/:operation_id',
    {
      schema: {
        operationId: 'adminSetGuardExemption',
        tags: ['admin'],
        summary: 'Exempt an operation from the repeated-failure guard',
        params: OperationParams,
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
        response: { 200: Exemption },
      },
    },
    async (req) => {
      const row = await fairUse.setGuardExemption(req.params.operation_id, req.body.reason);
      req.audit = { targetType: 'guard_exemption', targetId: req.params.operation_id };
      return { operation_id: row.operationId, reason: row.reason, created_at: row.createdAt.toISOString() };
    },
  );

  app.delete(
    '/v1/admin/fair-use/guard-exemptions/:operation_id',
    {
      schema: {
        operationId: 'adminRemoveGuardExemption',
        tags: ['admin'],
        summary: 'Guard an operation again',
        params: OperationParams,
        errors: [NotFound],
        response: { 204: Type.Null({ description: 'Removed' }) },
      },
    },
    async (req, reply) => {
      await fairUse.removeGuardExemption(req.params.operation_id);
      req.audit = { targetType: 'guard_exemption', targetId: req.params.operation_id };
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/v1/admin/fair-use/costs/:operation_id',
    {
      schema: {
        operationId: 'adminResetOperationCost',
        tags: ['admin'],
        summary: 'Back to the default cost of 1',
        params: OperationParams,
        errors: [NotFound],
        response: { 204: Type.Null({ description: 'Reset' }) },
      },
    },
    async (req, reply) => {
      await fairUse.resetCost(req.params.operation_id);
      req.audit = { targetType: 'operation_cost', targetId: req.params.operation_id };
      return reply.code(204).send(null);
    },
  );
};

// Liveness and readiness for load balancers and orchestrators.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HealthService } from './service.js';

const Health = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false });
const Check = Type.Enum(['ok', 'failing', 'pending']);
const Readiness = Type.Object(
  {
    status: Type.Enum(['ready', 'not_ready']),
    checks: Type.Object(
      {
        database: Check,
        migrations: Check,
        redis: Type.Optional(
          Type.Enum(['ok', 'degraded'], {
            description:
              'Present when Redis is configured. degraded: Redis fails or times out, so rate limits fail open; the instance still serves (200)',
          }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const healthRoutes: FastifyPluginAsyncTypebox<{ health: HealthService }> = async (app, { health }) => {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'getHealth',
        tags: ['health'],
        summary: 'Liveness: the process is up and serving',
        response: { 200: Health },
      },
      config: { rateLimitExempt: true },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        tags: ['health'],
        summary:
          'Readiness: the database answers and every migration is applied (a degraded Redis is reported, still 200)',
        response: { 200: Readiness, 503: Readiness },
      },
      config: { rateLimitExempt: true },
    },
    async (req, reply) => {
      const result = await health.checkReadiness(req.log);
      return reply.code(result.status === 'ready' ? 200 : 503).send(result);
    },
  );
};

// The health area: liveness and readiness.
import type { FastifyInstance } from 'fastify';
import type { AreaOptions } from '../area.js';
import { healthRoutes } from './routes.js';

export default async function healthArea(app: FastifyInstance, { config }: AreaOptions): Promise<void> {
  await app.register(healthRoutes, { readyTimeoutMs: config.databaseReadyTimeoutMs });
}

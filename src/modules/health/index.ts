// The health area: liveness and readiness.
import type { FastifyInstance } from 'fastify';
import { readJournal } from '../../db/migrate.js';
import type { AreaOptions } from '../area.js';
import { healthRoutes } from './routes.js';
import { createHealthService } from './service.js';

export default async function healthArea(app: FastifyInstance, { config }: AreaOptions): Promise<void> {
  // Read once: the journal shipped with this build is what "migrated" means for this instance.
  const expectedMigration = readJournal().at(-1)?.when ?? null;
  const health = createHealthService({
    db: app.db,
    redis: app.redis,
    expectedMigration,
    timeoutMs: config.databaseReadyTimeoutMs,
  });
  await app.register(healthRoutes, { health });
}

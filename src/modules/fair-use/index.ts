// The fair-use area: standing, limits, costs, guard exemptions, incidents, bulk notices and the
// ladder (R-API-1 to R-API-4). The metering itself is cross-cutting: plugins/rate-limit,
// idempotency, repeated-failure-guard, bulk-work and incidents.
import type { FastifyInstance } from 'fastify';
import { createAccountReader } from '../accounts/api.js';
import type { AreaOptions } from '../area.js';
import { createFairUseService } from './fair-use-service.js';
import { incidentRoutes } from './incident-routes.js';
import { createIncidentService } from './incident-service.js';
import { fairUseRoutes } from './routes.js';

export default async function fairUseArea(app: FastifyInstance, { config }: AreaOptions): Promise<void> {
  const db = app.db;
  const fairUse = createFairUseService({
    db,
    accounts: createAccountReader({ db }),
    policy: app.fairUsePolicy,
    buckets: app.buckets,
    periodDays: config.incidentPeriodDays,
    bulkThreshold: config.bulkDailyThreshold,
    bulkCeiling: config.bulkDailyCeiling,
  });
  const incidents = createIncidentService({
    db,
    periodDays: config.incidentPeriodDays,
    bulkThreshold: config.bulkDailyThreshold,
    revokeCredentials: (accountId) => app.credentialCache.revoke({ accountId }),
  });
  // R-API-4: a suspension past its end is written down and reported (fair_use.api_suspension_lifted).
  app.jobs.register('fair-use-suspension-expiry', (now) => incidents.endExpiredSuspensions(now));
  await app.register(fairUseRoutes, { fairUse });
  await app.register(incidentRoutes, { incidents });
}

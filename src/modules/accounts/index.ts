// The accounts area: resellers, users, API keys, sessions, 2FA, allowlists and the audit trail.
// Builds its services, registers its routes and sweeps, and creates the bootstrap operator.
import type { FastifyInstance } from 'fastify';
import { sweepExpiredRows } from '../../db/sweep.js';
import type { AreaOptions } from '../area.js';
import { accountRoutes } from './account-routes.js';
import { adminAccountRoutes } from './admin-routes.js';
import { apiKeyRoutes } from './api-key-routes.js';
import { createAuditService } from './audit-store.js';
import { auditRoutes } from './audit-routes.js';
import { authRoutes } from './auth-routes.js';
import { createAuthService, deleteExpiredSessions } from './auth-service.js';
import { bootstrapOperator } from './bootstrap.js';
import { deleteSpentUsernameFailures } from './login-lockout.js';
import { deleteExpiredNonces } from './nonce-store.js';
import { createAccountService } from './service.js';
import { userRoutes } from './user-routes.js';

export default async function accountsArea(app: FastifyInstance, { config }: AreaOptions): Promise<void> {
  const db = app.db;
  const policy = config.auth;
  const accounts = createAccountService({ db });
  const auth = createAuthService({ db, box: app.secretBox, policy });
  const audit = createAuditService({ db, sources: app.auditSources });

  await bootstrapOperator(db, config.bootstrapOperator, app.log);

  // A login token past its expiry is kept a week (GET /v1/auth/sessions shows it), then deleted.
  sweepExpiredRows(app, 'sessions', (now) => deleteExpiredSessions(db, now));
  // Signed-request nonces past twice the skew window: their timestamps are refused anyway.
  sweepExpiredRows(app, 'used-nonces', (now) => deleteExpiredNonces(db, now));
  // Failed-login counts per username that neither count towards a lock nor hold one any more.
  sweepExpiredRows(app, 'login-name-failures', (now) => deleteSpentUsernameFailures(db, policy, now));

  await app.register(authRoutes, { auth });
  await app.register(accountRoutes, { accounts });
  await app.register(userRoutes, { accounts, auth });
  await app.register(apiKeyRoutes, { auth });
  await app.register(auditRoutes, { audit });
  await app.register(adminAccountRoutes, { accounts });
}

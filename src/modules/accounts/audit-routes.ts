// GET /v1/audit-events: who changed what (R-SEC-7). Resellers see their account; operators all.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { pageSize } from '../../plugins/cursors.js';
import { Page } from '../../schemas.js';
import type { AuditService } from './audit-store.js';
import { AuditEvent, AuditQuery } from './schemas.js';

export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditService }> = async (app, { audit }) => {
  app.get(
    '/v1/audit-events',
    {
      schema: {
        operationId: 'listAuditEvents',
        tags: ['audit'],
        summary: 'Audit trail of state-changing calls, newest first',
        description:
          'R-SEC-7: who (account, user, credential), from which address, what (operation, method, path, target), and the result, for every state-changing call. A license check-in (reportPleskLicenseAddresses) that succeeded is its own record, kept with its report: details.report is the report as stored (addresses normalised, seen_at as kept) instead of the request body.',
        querystring: AuditQuery,
        response: { 200: Page(AuditEvent) },
      },
    },
    async (req) => {
      const q = req.query;
      const p = req.principal!;
      const limit = pageSize(q);
      // Resellers are pinned to their account whatever they ask for (R-SEC-6).
      const accountId = p.accountId ?? q.account_id;
      const cursor = app.listCursor(req);
      const before = cursor.position({ id: 'id' })?.id;
      const rows = await audit.listAuditEvents({
        accountId,
        before,
        operation: q.operation,
        userId: q.user_id,
        result: q.result,
        since: q.since,
        until: q.until,
        limit,
      });
      return cursor.page(
        rows,
        limit,
        (r) => ({ id: r.id }),
        (r) => ({
          id: r.id,
          at: r.at.toISOString(),
          account_id: r.accountId,
          user_id: r.userId,
          credential_type: r.credentialType as 'session' | 'api_key' | null,
          credential_id: r.credentialId,
          address: r.address,
          operation: r.operation,
          method: r.method,
          path: r.path,
          target_type: r.targetType,
          target_id: r.targetId,
          status_code: r.statusCode,
          result: r.result as 'success' | 'failure',
          error_code: r.errorCode,
          request_id: r.requestId,
          details: (r.details as Record<string, unknown> | null) ?? null,
        }),
      );
    },
  );
};

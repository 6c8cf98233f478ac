// R-SEC-7: every state-changing call leaves an audit row: who, which credential, from where, what,
// on which object, and the result (failures included). Written just before the response leaves, so
// a client that has its answer finds the change in the audit log; a failed write is logged loudly.
import fp from 'fastify-plugin';
import { auditEvents } from '../db/schema/index.js';
import { redactSecrets } from '../lib/redact.js';

export interface AuditNote {
  targetType?: string;
  targetId?: string;
  /** For calls that have no principal yet (login): whose account/user the attempt concerned. */
  accountId?: string | null;
  userId?: string | null;
  details?: Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyRequest {
    audit: AuditNote | undefined;
  }
}

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const MAX_DETAIL_BYTES = 8_192;

export default fp(
  async function auditPlugin(app) {
    app.decorateRequest('audit', undefined);

    app.addHook('onSend', async (req, reply, payload) => {
      if (!CHANGES.has(req.method)) return payload;
      const operation = req.routeOptions.schema?.operationId;
      if (!operation) return payload; // unknown routes change nothing
      // The problem code, without parsing bodies on success.
      const errorCode = reply.statusCode >= 400 && typeof payload === 'string' ? (/"code":"([a-z0-9_]+)"/.exec(payload)?.[1] ?? null) : null;
      const p = req.principal;
      const note = req.audit ?? {};
      const params = (req.params ?? {}) as Record<string, unknown>;
      const body = redactSecrets(req.body);
      const bodyText = body === undefined ? undefined : JSON.stringify(body);
      try {
        await app.db.insert(auditEvents).values({
          accountId: note.accountId !== undefined ? note.accountId : (p?.accountId ?? null),
          userId: note.userId !== undefined ? note.userId : (p?.userId ?? null),
          credentialType: p?.credential.type ?? null,
          credentialId: p?.credential.id ?? null,
          address: req.ip,
          operation,
          method: req.method,
          path: req.url.split('?')[0] ?? req.url,
          targetType: note.targetType ?? null,
          targetId: note.targetId ?? (typeof params.id === 'string' ? params.id : null),
          statusCode: reply.statusCode,
          result: reply.statusCode < 400 ? 'success' : 'failure',
          errorCode,
          requestId: req.id,
          details: {
            ...note.details,
            ...(Object.keys(params).length ? { params } : {}),
            ...(bodyText && bodyText.length <= MAX_DETAIL_BYTES ? { body } : {}),
          },
        });
      } catch (err) {
        req.log.error({ err, operation }, 'AUDIT WRITE FAILED');
      }
      return payload;
    });
  },
  { name: 'audit', fastify: '5.x', dependencies: ['db'] },
);

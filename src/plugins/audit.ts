// R-SEC-7: every state-changing call leaves an audit row: who, which credential, from where, what,
// on which object, and the result (failures included). Written just before the response leaves, so
// a client that has its answer finds the change in the audit log; a failed write is logged loudly.
import { sql, type SQL } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { batched, preparedStatement } from '../db/client.js';
import { syncFirstOnSend } from '../route-hooks.js';
import { redactBody, redactSecrets } from '../lib/redact.js';
import { problemCodeOf } from './problem-json.js';

export interface AuditNote {
  targetType?: string;
  targetId?: string;
  /** For calls that have no principal yet (login): whose account/user the attempt concerned. */
  accountId?: string | null;
  userId?: string | null;
  details?: Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Tables whose rows are audit records of their own, besides audit_events (a check-in's report
     * keeps its request's who, credential and address: see AuditSource). The audit trail reads them
     * all, ordered by one id.
     */
    auditSources: AuditSource[];
  }
  interface FastifyRequest {
    audit: AuditNote | undefined;
    /**
     * The audit row this request's answer with `statusCode` makes, for a store that writes it in
     * the change's own statement (auditRowsInsert); null when the route is not audited. The handler
     * then sets auditWrittenFor to that status.
     */
    auditRowFor(statusCode: number): AuditRow | null;
    /** The status whose audit row the change's statement wrote: onSend writes none for that answer. */
    auditWrittenFor: number | undefined;
  }
  interface FastifyContextConfig {
    /**
     * Default: audited when the method changes state (POST, PUT, PATCH, DELETE). true: a read that
     * hands out a secret (a domain's auth code). false: a POST that changes nothing of the
     * account's (an availability check, which is a query with a body).
     */
    audit?: boolean;
  }
}

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** JSON that PostgreSQL's jsonb takes: it refuses U+0000, which a client may send in any string. */
export const jsonForPostgres = (v: unknown): string => {
  const text = JSON.stringify(v);
  return text.includes('\\u0000') ? text.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : text;
};
const MAX_DETAIL_BYTES = 8_192;

export interface AuditRow {
  at: string;
  account_id: string | null;
  user_id: string | null;
  credential_type: string | null;
  credential_id: string | null;
  address: string;
  operation: string;
  method: string;
  path: string;
  target_type: string | null;
  target_id: string | null;
  status_code: number;
  result: 'success' | 'failure';
  error_code: string | null;
  request_id: string;
  details: Record<string, unknown>;
}

// The columns of audit_events an AuditRow fills, with their types, in one order.
const COLUMNS = [
  ['at', 'timestamptz'],
  ['account_id', 'uuid'],
  ['user_id', 'uuid'],
  ['credential_type', 'text'],
  ['credential_id', 'text'],
  ['address', 'text'],
  ['operation', 'text'],
  ['method', 'text'],
  ['path', 'text'],
  ['target_type', 'text'],
  ['target_id', 'text'],
  ['status_code', 'integer'],
  ['result', 'text'],
  ['error_code', 'text'],
  ['request_id', 'text'],
  ['details', 'jsonb'],
] as const satisfies readonly (readonly [keyof AuditRow, string])[];
/** audit_events' columns an AuditRow fills, in one order (the audit trail's reads list them too). */
export const auditColumnList = sql.raw(COLUMNS.map(([c]) => c).join(', '));
const recordType = sql.raw(COLUMNS.map(([c, t]) => `${c} ${t}`).join(', '));

/**
 * An INSERT of the audit rows that `rows` (a jsonb array of AuditRow, from jsonForPostgres, or a
 * json one) holds, for a change that writes its request's audit row in its own statement (as a CTE).
 */
export function auditRowsInsert(rows: SQL, type: 'jsonb' | 'json' = 'jsonb'): SQL {
  const toRecords = sql.raw(`${type}_to_recordset`);
  return sql`INSERT INTO audit_events (${auditColumnList})
             SELECT ${auditColumnList} FROM ${toRecords}(${rows}) AS r(${recordType})`;
}

/**
 * A SELECT that gives audit records in audit_events' columns (id, at, account_id, user_id,
 * credential_type, credential_id, address, operation, method, path, target_type, target_id,
 * status_code, result, error_code, request_id, details), with the same types, its ids drawn from
 * audit_events' sequence. An area adds one for a change that is stored as its own audit record. It
 * reads one table and has no WHERE: a row whose request_id is null is not an audit record (the
 * trail leaves it out), and PostgreSQL merges the tables' newest-first index scans only for members
 * of a UNION ALL without conditions of their own (it plans any other as a sort of every row).
 */
export interface AuditSource {
  name: string;
  select: SQL;
}

function auditRow(req: FastifyRequest, statusCode: number, errorCode: string | null): AuditRow | null {
  if (!(req.routeOptions.config.audit ?? CHANGES.has(req.method))) return null;
  const operation = req.routeOptions.schema?.operationId;
  if (!operation) return null; // unknown routes change nothing
  const p = req.principal;
  const note = req.audit ?? {};
  const params = (req.params ?? {}) as Record<string, unknown>;
  // Whatever the content type: a JSON text sent as text/plain is parsed and redacted, any
  // other unparsed body is not stored (R-SEC-7).
  const body = redactBody(req.body);
  const bodyText = body === undefined ? undefined : JSON.stringify(body);
  return {
    at: new Date().toISOString(),
    account_id: note.accountId !== undefined ? note.accountId : (p?.accountId ?? null),
    user_id: note.userId !== undefined ? note.userId : (p?.userId ?? null),
    credential_type: p?.credential.type ?? null,
    credential_id: p?.credential.id ?? null,
    address: req.ip,
    operation,
    method: req.method,
    path: req.url.split('?')[0] ?? req.url,
    target_type: note.targetType ?? null,
    target_id: note.targetId ?? (typeof params.id === 'string' ? params.id : null),
    status_code: statusCode,
    result: statusCode < 400 ? 'success' : 'failure',
    error_code: errorCode,
    request_id: req.id,
    details: {
      ...(note.details ? (redactSecrets(note.details) as Record<string, unknown>) : {}),
      ...(Object.keys(params).length ? { params } : {}),
      ...(bodyText && bodyText.length <= MAX_DETAIL_BYTES ? { body } : {}),
    },
  };
}

export default fp(
  async function auditPlugin(app) {
    app.decorate('auditSources', []);
    app.decorateRequest('audit', undefined);
    app.decorateRequest('auditWrittenFor', undefined);
    app.decorateRequest('auditRowFor', function (this: FastifyRequest, statusCode: number) {
      return auditRow(this, statusCode, null);
    });
    // Rows of concurrent requests go in one INSERT (each request still awaits its own row): one
    // round trip and one commit per batch instead of per request. A failing batch is retried row
    // by row, so one bad row cannot lose the others.
    const insert = preparedStatement('audit_insert', auditRowsInsert(sql`${sql.placeholder('rows')}::jsonb`));
    const write = batched<AuditRow, unknown>(
      async (rows) => {
        await insert(app.db, { rows: jsonForPostgres(rows) });
        return rows.map(() => null);
      },
      { concurrency: 2, retryAlone: true },
    );

    app.addHook(
      'onSend',
      syncFirstOnSend((req, reply, payload) => {
        // Written with the change itself (auditRowFor): nothing more to write for this answer.
        if (req.auditWrittenFor === reply.statusCode) return;
        // The problem code, without parsing bodies on success.
        const errorCode = reply.statusCode >= 400 ? problemCodeOf(payload) : null;
        const row = auditRow(req, reply.statusCode, errorCode);
        if (!row) return;
        return write(row).catch((err: unknown) =>
          req.log.error({ err, operation: row.operation }, 'AUDIT WRITE FAILED'),
        );
      }),
    );
  },
  { name: 'audit', fastify: '5.x', dependencies: ['db'] },
);

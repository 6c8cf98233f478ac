// Reads of the audit trail (the audit plugin writes it): newest first, filtered. The trail is
// audit_events and every audit source an area added (a check-in's report is its own audit record):
// one id orders them all, and the filters reach into each table's own index.
import { sql, type SQL } from 'drizzle-orm';
import { jsonValue, queryRows, type Db } from '../../db/client.js';
import type { AuditSource } from '../../plugins/audit.js';

export interface AuditEventRow {
  id: number;
  at: Date;
  accountId: string | null;
  userId: string | null;
  credentialType: string | null;
  credentialId: string | null;
  address: string;
  operation: string;
  method: string;
  path: string;
  targetType: string | null;
  targetId: string | null;
  statusCode: number;
  result: string;
  errorCode: string | null;
  requestId: string;
  details: unknown;
}

export interface AuditFilter {
  accountId?: string | undefined;
  /** Only events with a smaller id (the cursor's position). */
  before?: number | undefined;
  operation?: string | undefined;
  userId?: string | undefined;
  result?: 'success' | 'failure' | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit: number;
}

interface Row extends Record<string, unknown> {
  id: string | number;
  at: string | Date;
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
  result: string;
  error_code: string | null;
  request_id: string;
  details: unknown;
}

const OWN = sql`SELECT id, at, account_id, user_id, credential_type, credential_id, address, operation, method,
                       path, target_type, target_id, status_code, result, error_code, request_id, details
                FROM audit_events`;

/** Up to limit + 1 events, so the caller knows whether another page follows. */
export async function listAuditEvents(
  db: Db,
  sources: readonly AuditSource[],
  f: AuditFilter,
): Promise<AuditEventRow[]> {
  const conditions: SQL[] = [
    sql`request_id IS NOT NULL`,
    f.accountId ? sql`account_id = ${f.accountId}` : undefined,
    f.before !== undefined ? sql`id < ${f.before}` : undefined,
    f.operation ? sql`operation = ${f.operation}` : undefined,
    f.userId ? sql`user_id = ${f.userId}` : undefined,
    f.result ? sql`result = ${f.result}` : undefined,
    f.since ? sql`at >= ${new Date(f.since).toISOString()}::timestamptz` : undefined,
    f.until ? sql`at <= ${new Date(f.until).toISOString()}::timestamptz` : undefined,
  ].filter((c): c is SQL => c !== undefined);
  // One UNION ALL: PostgreSQL pushes the conditions into each table's scan and merges the tables'
  // newest-first index scans, so a page reads about limit rows of each.
  const trail = sql.join([OWN, ...sources.map((s) => s.select)], sql` UNION ALL `);
  const rows = await queryRows<Row>(
    db,
    sql`SELECT * FROM (${trail}) e
        WHERE ${sql.join(conditions, sql` AND `)}
        ORDER BY id DESC LIMIT ${f.limit + 1}`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    at: new Date(r.at),
    accountId: r.account_id,
    userId: r.user_id,
    credentialType: r.credential_type,
    credentialId: r.credential_id,
    address: r.address,
    operation: r.operation,
    method: r.method,
    path: r.path,
    targetType: r.target_type,
    targetId: r.target_id,
    statusCode: Number(r.status_code),
    result: r.result,
    errorCode: r.error_code,
    requestId: r.request_id,
    details: jsonValue<unknown>(r.details),
  }));
}

export function createAuditService(deps: { db: Db; sources: readonly AuditSource[] }) {
  return { listAuditEvents: (f: AuditFilter) => listAuditEvents(deps.db, deps.sources, f) };
}
export type AuditService = ReturnType<typeof createAuditService>;

// Reads of the audit trail (the audit plugin writes it): newest first, filtered. The trail is
// audit_events and every audit source an area added (a check-in's report is its own audit record):
// one id orders them all, and the filters reach into each table's own index.
import { sql, type SQL } from 'drizzle-orm';
import { jsonValue, queryRows, type Db } from '../../db/client.js';
import { auditEvents } from '../../db/schema/index.js';
import { auditColumnList, type AuditRow, type AuditSource } from '../../plugins/audit.js';

export type AuditEventRow = typeof auditEvents.$inferSelect;

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

/** A union row as the driver gives it: audit_events' columns, snake_case. */
type Row = Omit<AuditRow, 'at' | 'result' | 'details'> & {
  id: string | number;
  at: string | Date;
  result: string;
  details: unknown;
};

const OWN = sql`SELECT id, ${auditColumnList} FROM audit_events`;

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
  const rows = await queryRows<Row & Record<string, unknown>>(
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

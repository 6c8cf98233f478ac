// Reads of the audit trail (the audit plugin writes it): newest first, filtered.
import { and, desc, eq, gte, lt, lte } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { auditEvents } from '../../db/schema/index.js';

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

/** Up to limit + 1 events, so the caller knows whether another page follows. */
export function listAuditEvents(db: Db, f: AuditFilter): Promise<AuditEventRow[]> {
  return db
    .select()
    .from(auditEvents)
    .where(
      and(
        f.accountId ? eq(auditEvents.accountId, f.accountId) : undefined,
        f.before !== undefined ? lt(auditEvents.id, f.before) : undefined,
        f.operation ? eq(auditEvents.operation, f.operation) : undefined,
        f.userId ? eq(auditEvents.userId, f.userId) : undefined,
        f.result ? eq(auditEvents.result, f.result) : undefined,
        f.since ? gte(auditEvents.at, new Date(f.since)) : undefined,
        f.until ? lte(auditEvents.at, new Date(f.until)) : undefined,
      ),
    )
    .orderBy(desc(auditEvents.id))
    .limit(f.limit + 1);
}

export function createAuditService(deps: { db: Db }) {
  return { listAuditEvents: (f: AuditFilter) => listAuditEvents(deps.db, f) };
}
export type AuditService = ReturnType<typeof createAuditService>;

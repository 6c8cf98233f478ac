// R-DOM-6: abuse complaints about a domain reach its reseller, who must respond by a deadline;
// unanswered complaints become fair-use incidents (R-API-4) and are escalated to operators.
import { and, asc, desc, eq, getTableColumns, gt, inArray, lt, lte, notInArray, or, sql, type SQL } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { claimDueRows } from '../../db/claim-due-rows.js';
import { abuseComplaints, domains, fairUseIncidents } from '../../db/schema/index.js';
import { defineError, NotFound, ValidationFailed, type FieldErrorBody } from '../../errors.js';
import type { IncidentType } from '../fair-use/api.js';
import { emitEvent, type EventType } from '../events/api.js';
import {
  ABUSE_CATEGORIES,
  COMPLAINT_STATUSES,
  complaintView,
  RESPONSE_ACTIONS,
  type Complaint,
  type ComplaintStatus,
} from './abuse-schemas.js';
import { ComplaintClosed, ComplaintEscalated, ComplaintFiled, ComplaintResponded } from './events.js';

export type ComplaintRow = typeof abuseComplaints.$inferSelect;
/** A complaint with the fair-use incident its escalation filed, if any. */
export type ComplaintWithIncident = ComplaintRow & { incidentNumber: number | null };

export { ABUSE_CATEGORIES, COMPLAINT_STATUSES, RESPONSE_ACTIONS, type ComplaintStatus };

export const INCIDENT_TYPE = 'abuse_unanswered' as const;
export const ESCALATION_BATCH = 100;

export const AbuseComplaintClosed = defineError('abuse_complaint_closed', 409, 'The abuse complaint is closed');

export function computeResponseDeadline(filedAt: Date, responseHours: number): Date {
  return new Date(filedAt.getTime() + responseHours * 3_600_000);
}

/**
 * The fair-use incident filed for a complaint, looked up by its dedupe key (the complaint id): the
 * incident table is the one place that records it.
 * Qualified by hand: Drizzle leaves columns unqualified in single-table selects, and inside the
 * subquery an unqualified "id" would be the incident's.
 */
const incidentNumber = sql<
  number | null
>`(select fi.id from ${fairUseIncidents} fi where fi.account_id = "abuse_complaints"."account_id" and fi.type = ${INCIDENT_TYPE} and fi.dedupe_key = "abuse_complaints"."id"::text)`.mapWith(
  (v: unknown) => (v === null || v === undefined ? null : Number(v)),
);

/** A complaint's event, to the reseller holding the domain, with the complaint as that reseller's GET shows it. */
const emitComplaint = (tx: Tx, type: EventType<typeof Complaint>, c: ComplaintWithIncident) =>
  emitEvent(tx, type, { accountId: c.accountId, objectId: c.id, data: complaintView(c) });

function blankProblems(fields: Record<string, string | undefined>): FieldErrorBody[] {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined && v.trim() === '')
    .map(([field]) => ({ pointer: `/body/${field}`, code: 'required', message: 'must not be blank' }));
}

export interface NewComplaint {
  /** A-label form. */
  domain: string;
  category: (typeof ABUSE_CATEGORIES)[number];
  description: string;
  evidenceUrls: string[];
  reporterName: string | null;
  reporterEmail: string | null;
  source: 'operator' | 'public';
  filedByUserId: string | null;
  filedFromIp: string | null;
}

export interface AbuseDeps {
  db: Db;
  /** R-DOM-6: hours a reseller has to respond. */
  responseHours: number;
  recordIncident(input: {
    accountId: string;
    type: IncidentType;
    dedupeKey: string;
    evidence: Record<string, unknown>;
  }): Promise<unknown>;
}

/** Abuse complaints for the routes; the escalation job is escalateOverdueComplaints. */
export function createAbuseService(deps: AbuseDeps) {
  const { db } = deps;
  return {
    fileComplaint: (input: NewComplaint) => fileComplaint(db, input, deps.responseHours),
    listComplaints: (f: ComplaintFilter) => listComplaints(db, f),
    getComplaint: (id: string, accountId?: string) => getComplaint(db, id, accountId),
    /** The reseller responds; a response past respond_by escalates now, and the incident is recorded after the commit. */
    async respondToComplaint(accountId: string, id: string, response: ComplaintResponse) {
      const { complaint, escalatedNow } = await respondToComplaint(db, accountId, id, response);
      if (!escalatedNow) return complaint;
      await deps.recordIncident(incidentInput(complaint));
      return getComplaint(db, complaint.id, accountId);
    },
    closeComplaint: (id: string, note: string) => closeComplaint(db, id, note),
  };
}
export type AbuseService = ReturnType<typeof createAbuseService>;

/** Files a complaint against the live domain of that name and starts its reseller's response clock. */
export async function fileComplaint(
  db: Db,
  input: NewComplaint,
  responseHours: number,
  now = new Date(),
): Promise<ComplaintWithIncident> {
  const problems = blankProblems({ description: input.description, reporter_name: input.reporterName ?? undefined });
  if (problems.length)
    throw new ValidationFailed(`${problems.length} field(s) failed validation`, { errors: problems });
  return db.transaction(async (tx) => {
    const [domain] = await tx
      .select({ id: domains.id, name: domains.name, accountId: domains.accountId })
      .from(domains)
      .where(and(eq(domains.name, input.domain), notInArray(domains.status, ['released', 'transferred_out'])));
    if (!domain) throw new NotFound(`No domain ${input.domain} is registered through us`);
    const [row] = await tx
      .insert(abuseComplaints)
      .values({
        domainId: domain.id,
        domainName: domain.name,
        accountId: domain.accountId,
        category: input.category,
        description: input.description.trim(),
        evidenceUrls: input.evidenceUrls,
        reporterName: input.reporterName?.trim() ?? null,
        reporterEmail: input.reporterEmail,
        source: input.source,
        filedByUserId: input.filedByUserId,
        filedFromIp: input.filedFromIp,
        status: 'open',
        respondBy: computeResponseDeadline(now, responseHours),
        createdAt: now,
      })
      .returning();
    const complaint = { ...row!, incidentNumber: null };
    await emitComplaint(tx, ComplaintFiled, complaint);
    return complaint;
  });
}

export interface ComplaintFilter {
  /** Only this reseller's complaints; undefined for operators. */
  accountId?: string | undefined;
  status?: ComplaintStatus | undefined;
  domain?: string | undefined;
  /** Newest first: rows strictly before this position. */
  before?: { createdAt: Date; id: string } | undefined;
  limit: number;
}

const columns = getTableColumns(abuseComplaints);

export async function listComplaints(db: Db, f: ComplaintFilter): Promise<ComplaintWithIncident[]> {
  const c = abuseComplaints;
  const conditions: (SQL | undefined)[] = [
    f.accountId !== undefined ? eq(c.accountId, f.accountId) : undefined,
    f.status ? eq(c.status, f.status) : undefined,
    f.domain ? eq(c.domainName, f.domain) : undefined,
    f.before
      ? or(lt(c.createdAt, f.before.createdAt), and(eq(c.createdAt, f.before.createdAt), lt(c.id, f.before.id)))
      : undefined,
  ];
  return db
    .select({ ...columns, incidentNumber })
    .from(c)
    .where(and(...conditions))
    .orderBy(desc(c.createdAt), desc(c.id))
    .limit(f.limit + 1);
}

/** One complaint; with accountId, only if that reseller holds it (404 otherwise, never 403). */
export async function getComplaint(db: Tx, id: string, accountId?: string): Promise<ComplaintWithIncident> {
  const [row] = await db
    .select({ ...columns, incidentNumber })
    .from(abuseComplaints)
    .where(
      and(eq(abuseComplaints.id, id), accountId !== undefined ? eq(abuseComplaints.accountId, accountId) : undefined),
    );
  if (!row) throw new NotFound('No such abuse complaint');
  return row;
}

export interface ComplaintResponse {
  action: (typeof RESPONSE_ACTIONS)[number];
  message: string;
  userId: string;
}

/**
 * Records the reseller's response (the latest one replaces an earlier one: "investigating" is
 * usually followed by what was done). The deadline decides, not when the job last ran: an open
 * complaint answered after respond_by is escalated by this very call (`escalatedNow`).
 * A response to an escalated complaint is recorded; the complaint stays escalated.
 */
export async function respondToComplaint(
  db: Db,
  accountId: string,
  id: string,
  r: ComplaintResponse,
  now = new Date(),
): Promise<{ complaint: ComplaintWithIncident; escalatedNow: boolean }> {
  const problems = blankProblems({ message: r.message });
  if (problems.length)
    throw new ValidationFailed(`${problems.length} field(s) failed validation`, { errors: problems });
  const c = abuseComplaints;
  const at = now.toISOString();
  const late = sql`(${c.status} = 'open' and ${c.respondBy} < ${at}::timestamptz)`;
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(c)
      .set({
        responseAction: r.action,
        responseMessage: r.message.trim(),
        respondedAt: now,
        respondedByUserId: r.userId,
        // In SET, columns read the row as it was before this update.
        status: sql`case when ${late} then 'escalated' when ${c.status} = 'open' then 'responded' else ${c.status} end`,
        escalatedAt: sql`case when ${late} then ${at}::timestamptz else ${c.escalatedAt} end`,
      })
      .where(and(eq(c.id, id), eq(c.accountId, accountId), inArray(c.status, ['open', 'responded', 'escalated'])))
      .returning({ id: c.id, status: c.status, escalatedAt: c.escalatedAt });
    if (!row) {
      const existing = await getComplaint(tx, id, accountId); // 404 when it is not this reseller's
      throw new AbuseComplaintClosed(
        `Complaint ${existing.id} was closed${existing.closedAt ? ` at ${existing.closedAt.toISOString()}` : ''}; it takes no more responses`,
      );
    }
    const escalatedNow = row.status === 'escalated' && row.escalatedAt?.getTime() === now.getTime();
    const complaint = await getComplaint(tx, id, accountId);
    // A late answer escalates the complaint in the same change: escalated first, then the response.
    if (escalatedNow) await emitComplaint(tx, ComplaintEscalated, complaint);
    await emitComplaint(tx, ComplaintResponded, complaint);
    return { complaint, escalatedNow };
  });
}

/** Operators close a complaint whatever its state; a closed complaint never escalates. */
export async function closeComplaint(
  db: Db,
  id: string,
  note: string,
  now = new Date(),
): Promise<ComplaintWithIncident> {
  const problems = blankProblems({ note });
  if (problems.length)
    throw new ValidationFailed(`${problems.length} field(s) failed validation`, { errors: problems });
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(abuseComplaints)
      .set({ status: 'closed', closedAt: now, closeNote: note.trim() })
      .where(and(eq(abuseComplaints.id, id), inArray(abuseComplaints.status, ['open', 'responded', 'escalated'])))
      .returning({ id: abuseComplaints.id });
    if (!row) {
      await getComplaint(tx, id);
      throw new AbuseComplaintClosed('The complaint is already closed');
    }
    const complaint = await getComplaint(tx, id);
    await emitComplaint(tx, ComplaintClosed, complaint);
    return complaint;
  });
}

export type RecordIncident = (input: {
  accountId: string;
  type: typeof INCIDENT_TYPE;
  dedupeKey: string;
  evidence: Record<string, unknown>;
}) => Promise<unknown>;

export function incidentInput(
  c: Pick<ComplaintRow, 'id' | 'accountId' | 'domainName' | 'category' | 'createdAt' | 'respondBy'>,
) {
  return {
    accountId: c.accountId,
    type: INCIDENT_TYPE,
    dedupeKey: c.id,
    evidence: {
      complaint_id: c.id,
      domain: c.domainName,
      category: c.category,
      filed_at: c.createdAt.toISOString(),
      respond_by: c.respondBy.toISOString(),
    },
  };
}

/**
 * The escalation job. Due open complaints are claimed in batches with FOR UPDATE SKIP LOCKED (claimDueRows) and
 * marked escalated in one short transaction, so concurrent instances split the work; each one's
 * incident is recorded after the commit (the incident plugin runs its own transaction, and a second
 * one inside ours would wait forever on a single-connection PGlite). The dedupe key (the complaint
 * id) makes recording idempotent, and a process that died between the two steps is caught up by
 * the repair pass: escalated complaints of the last week with no incident.
 */
export async function escalateOverdueComplaints(
  db: Db,
  record: RecordIncident,
  now: Date,
  batchSize = ESCALATION_BATCH,
): Promise<number> {
  const c = abuseComplaints;
  const escalated = await claimDueRows({
    db,
    table: c,
    key: c.id,
    due: and(eq(c.status, 'open'), lte(c.respondBy, now)),
    orderBy: asc(c.respondBy),
    batchSize,
    handle: async (tx, due) => {
      const rows = await tx
        .update(c)
        .set({ status: 'escalated', escalatedAt: now })
        .where(
          inArray(
            c.id,
            due.map((d) => d.id),
          ),
        )
        .returning();
      // The incident is recorded after the commit: the event shows incident_id null, GET shows it.
      for (const row of rows) await emitComplaint(tx, ComplaintEscalated, { ...row, incidentNumber: null });
      return rows;
    },
    afterCommit: async (escalatedRows) => {
      for (const row of escalatedRows) await record(incidentInput(row));
    },
  });
  const orphans = await db
    .select({
      id: c.id,
      accountId: c.accountId,
      domainName: c.domainName,
      category: c.category,
      createdAt: c.createdAt,
      respondBy: c.respondBy,
    })
    .from(c)
    .where(
      and(
        eq(c.status, 'escalated'),
        gt(c.escalatedAt, new Date(now.getTime() - 7 * 86_400_000)),
        sql`${incidentNumber} is null`,
      ),
    )
    .limit(batchSize);
  for (const row of orphans) await record(incidentInput(row));
  return escalated;
}

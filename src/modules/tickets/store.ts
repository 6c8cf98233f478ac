// The tickets area's data access: rows, the compiled calendars, each period's clock, and the views.
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Db, Tx } from '../../db/client.js';
import {
  ticketAttachments,
  ticketCalendars,
  ticketLinks,
  ticketMessages,
  ticketPauses,
  ticketPeriods,
  ticketPriorityChanges,
  tickets,
} from '../../db/schema/index.js';
import { iso } from '../../schemas.js';
import { compileCalendar, type Calendar } from './calendar.js';
import { CALENDAR_HOURS, deadlineOf, elapsed, type Clock, type Priority } from './sla.js';

export type TicketRow = typeof tickets.$inferSelect;
export type PeriodRow = typeof ticketPeriods.$inferSelect;
export type PauseRow = typeof ticketPauses.$inferSelect;
export type MessageRow = typeof ticketMessages.$inferSelect;
export type CalendarRow = typeof ticketCalendars.$inferSelect;

export const reference = (n: number): string => `T-${String(n).padStart(6, '0')}`;

// ---- calendars -------------------------------------------------------------------------------

/** Compiled calendars by id and version: compiling caches each local day, so keep them. */
const compiled = new LRUCache<string, Calendar>({ max: 64 });

export async function calendarRow(db: Db | Tx, id: string): Promise<CalendarRow | undefined> {
  const [row] = await db.select().from(ticketCalendars).where(eq(ticketCalendars.id, id));
  return row;
}

export async function defaultCalendarRow(db: Db | Tx): Promise<CalendarRow> {
  const [row] = await db.select().from(ticketCalendars).where(eq(ticketCalendars.isDefault, true)).limit(1);
  if (!row) throw new Error('no default support calendar (migration 0027 seeds one)');
  return row;
}

export function compiledCalendar(row: CalendarRow): Calendar {
  const key = `${row.id}@${row.version}`;
  let cal = compiled.get(key);
  if (!cal) compiled.set(key, (cal = compileCalendar(row.spec)));
  return cal;
}

// ---- clocks ----------------------------------------------------------------------------------

export async function pausesOf(db: Db | Tx, periodIds: string[]): Promise<PauseRow[]> {
  if (!periodIds.length) return [];
  return db
    .select()
    .from(ticketPauses)
    .where(inArray(ticketPauses.periodId, periodIds))
    .orderBy(asc(ticketPauses.startedAt));
}

/** The clock of a period: its goal on its calendar (calendar hours when not business), its pauses. */
export async function clockOf(db: Db | Tx, p: PeriodRow, pauses: PauseRow[]): Promise<Clock> {
  const calendar = p.business
    ? compiledCalendar((p.calendarId && (await calendarRow(db, p.calendarId))) || (await defaultCalendarRow(db)))
    : CALENDAR_HOURS;
  return {
    startedAt: p.startedAt.getTime(),
    goalMs: p.goalSeconds * 1000,
    calendar,
    pauses: pauses
      .filter((x) => x.periodId === p.id)
      .map((x) => ({
        startedAt: x.startedAt.getTime(),
        endsAt: x.endedAt ? x.endedAt.getTime() : x.until ? x.until.getTime() : null,
      })),
  };
}

// ---- rows ------------------------------------------------------------------------------------

export async function findTicket(
  db: Db | Tx,
  accountId: string | null,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<TicketRow | undefined> {
  const where = accountId === null ? eq(tickets.id, id) : and(eq(tickets.id, id), eq(tickets.accountId, accountId));
  const q = db.select().from(tickets).where(where);
  const [row] = opts.lock ? await q.for('update') : await q;
  return row;
}

export async function runningPeriod(db: Db | Tx, ticketId: string): Promise<PeriodRow | undefined> {
  const [row] = await db
    .select()
    .from(ticketPeriods)
    .where(and(eq(ticketPeriods.ticketId, ticketId), isNull(ticketPeriods.endedAt)));
  return row;
}

export async function openPause(db: Db | Tx, periodId: string): Promise<PauseRow | undefined> {
  const [row] = await db
    .select()
    .from(ticketPauses)
    .where(and(eq(ticketPauses.periodId, periodId), isNull(ticketPauses.endedAt)));
  return row;
}

// ---- views -----------------------------------------------------------------------------------

const seconds = (ms: number) => Math.floor(ms / 1000);

async function periodView(db: Db | Tx, p: PeriodRow, pauses: PauseRow[], now: Date) {
  const own = pauses.filter((x) => x.periodId === p.id);
  const clock = await clockOf(db, p, own);
  const at = p.endedAt ?? now;
  const used = elapsed(clock, at.getTime());
  const paused = own.some((x) => x.endedAt === null);
  const running = p.endedAt === null && p.outcome === 'running';
  return {
    id: p.id,
    cause: p.cause as never,
    started_at: p.startedAt.toISOString(),
    priority: p.priority as never,
    goal_seconds: p.goalSeconds,
    business_hours: p.business,
    calendar_id: p.business ? p.calendarId : null,
    deadline_at: p.outcome === 'not_applicable' ? null : iso(p.deadlineAt),
    elapsed_seconds: seconds(used),
    time_left_seconds: running && p.deadlineAt ? p.goalSeconds - seconds(used) : null,
    paused,
    pauses: own.map((x) => ({
      reason: x.reason as never,
      note: x.note,
      started_at: x.startedAt.toISOString(),
      until: iso(x.until),
      ended_at: iso(x.endedAt),
      duration_seconds: x.endedAt ? seconds(x.endedAt.getTime() - x.startedAt.getTime()) : null,
    })),
    ended_at: iso(p.endedAt),
    ended_by: p.endedBy as never,
    outcome: p.outcome as never,
    warned_at: iso(p.warnedAt),
    breached_at: iso(p.breachedAt),
  };
}
export type PeriodView = Awaited<ReturnType<typeof periodView>>;

/** The ticket as the API shows it, at `now` (time left, breached). */
export async function ticketView(db: Db | Tx, t: TicketRow, now: Date) {
  const periods = await db
    .select()
    .from(ticketPeriods)
    .where(eq(ticketPeriods.ticketId, t.id))
    .orderBy(asc(ticketPeriods.startedAt), asc(ticketPeriods.id));
  const pauses = await pausesOf(
    db,
    periods.map((p) => p.id),
  );
  const views: PeriodView[] = [];
  for (const p of periods) views.push(await periodView(db, p, pauses, now));
  const current = views.find((v) => v.ended_at === null) ?? null;
  const priorities = await db
    .select()
    .from(ticketPriorityChanges)
    .where(eq(ticketPriorityChanges.ticketId, t.id))
    .orderBy(asc(ticketPriorityChanges.id));
  const links = await db
    .select({ otherId: ticketLinks.otherId, kind: ticketLinks.kind, at: ticketLinks.at, number: tickets.number })
    .from(ticketLinks)
    .innerJoin(tickets, eq(tickets.id, ticketLinks.otherId))
    .where(eq(ticketLinks.ticketId, t.id))
    .orderBy(asc(ticketLinks.at));
  return {
    id: t.id,
    reference: reference(t.number),
    account_id: t.accountId,
    subject: t.subject,
    channel: t.channel as never,
    concerns: { type: t.concernsType as never, ref: t.concernsRef },
    state: t.state as never,
    priority: t.priority as Priority,
    requested_priority: t.requestedPriority as Priority | null,
    product_team: t.productTeam,
    assignee_id: t.assigneeId,
    close_reason: t.closeReason as never,
    closed_at: iso(t.closedAt),
    objection_until: iso(t.objectionUntil),
    information_requested_at: iso(t.informationRequestedAt),
    information_due_at: t.informationRequestedAt
      ? new Date(t.informationRequestedAt.getTime() + INFORMATION_DUE_MS).toISOString()
      : null,
    sla: {
      applies: t.slaWaivedReason === null,
      waived_reason: t.slaWaivedReason,
      deadline_at: current?.deadline_at ?? null,
      time_left_seconds: current?.time_left_seconds ?? null,
      breached: current !== null && current.time_left_seconds !== null && current.time_left_seconds < 0,
      current,
      periods: views,
    },
    priorities: priorities.map((p) => ({
      kind: p.kind as never,
      priority: p.priority as Priority,
      justification: p.justification,
      at: p.at.toISOString(),
    })),
    links: links.map((l) => ({
      ticket_id: l.otherId,
      reference: reference(l.number),
      kind: l.kind as never,
      at: l.at.toISOString(),
    })),
    merged_into: t.mergedInto,
    created_at: t.createdAt.toISOString(),
    updated_at: t.updatedAt.toISOString(),
  };
}
export type TicketView = Awaited<ReturnType<typeof ticketView>>;

/** R-TKT-6: requested information is due within 72 hours. */
export const INFORMATION_DUE_MS = 72 * 3_600_000;
/** R-TKT-7: an objection within 5 days of the close reopens it. */
export const OBJECTION_WINDOW_MS = 5 * 86_400_000;

export async function messagesView(db: Db | Tx, ticketId: string, opts: { internal: boolean }) {
  const rows = await db
    .select()
    .from(ticketMessages)
    .where(
      opts.internal
        ? eq(ticketMessages.ticketId, ticketId)
        : and(eq(ticketMessages.ticketId, ticketId), eq(ticketMessages.internal, false)),
    )
    .orderBy(asc(ticketMessages.createdAt), asc(ticketMessages.id));
  const files = rows.length
    ? await db
        .select({
          id: ticketAttachments.id,
          messageId: ticketAttachments.messageId,
          filename: ticketAttachments.filename,
          contentType: ticketAttachments.contentType,
          size: ticketAttachments.size,
          sha256: ticketAttachments.sha256,
        })
        .from(ticketAttachments)
        .where(
          inArray(
            ticketAttachments.messageId,
            rows.map((r) => r.id),
          ),
        )
        .orderBy(asc(ticketAttachments.createdAt), asc(ticketAttachments.id))
    : [];
  return rows.map((m) => ({
    id: m.id,
    author: m.author as never,
    kind: m.kind as never,
    body: m.body,
    internal: m.internal,
    channel: m.channel as never,
    attachments: files
      .filter((f) => f.messageId === m.id)
      .map((f) => ({ id: f.id, filename: f.filename, content_type: f.contentType, size: f.size, sha256: f.sha256 })),
    created_at: m.createdAt.toISOString(),
  }));
}

/** Deadline of the running period for ordering the operators' queue: kept on the period row. */
export const queueDeadline = sql`(SELECT p.deadline_at FROM ticket_periods p WHERE p.ticket_id = ${tickets.id} AND p.ended_at IS NULL)`;

export { deadlineOf };

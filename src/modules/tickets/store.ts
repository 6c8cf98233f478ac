// The tickets area's data access: rows, the compiled calendars, each period's clock, and the views.
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import { batched, preparedStatement, queryRows, type Db, type Tx } from '../../db/client.js';
import { auditRowsInsert, jsonForPostgres, type AuditRow } from '../../plugins/audit.js';
import { eventSequenceKey, eventsCtes } from '../events/api.js';
import {
  guardChecks,
  guardProbeColumns,
  NO_GUARD_PROBE,
  type GuardCheckRow,
  type GuardProbe,
} from '../../plugins/repeated-failure-guard.js';
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
import { ServiceUnavailable } from '../../errors.js';
import { CalendarError, compileCalendar, type Calendar } from './calendar.js';
import { TicketCreated } from './events.js';
import { CALENDAR_HOURS, elapsed, type Clock, type Priority } from './sla.js';

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

/**
 * A stored calendar that cannot give a deadline. Saving validates a calendar (validateCalendar), so
 * this takes a row written otherwise (by hand, by an older version): the answer names the fault
 * instead of an internal error, and nothing the request did is written.
 */
export function unusableCalendar(err: unknown): unknown {
  if (!(err instanceof CalendarError)) return err;
  return new ServiceUnavailable(
    `The support calendar cannot give a deadline (${err.message}); an operator must correct it (PUT /v1/admin/calendars/{id})`,
  );
}

export function compiledCalendar(row: CalendarRow): Calendar {
  // The spec is part of the key: a version written in a transaction that rolled back may come again
  // with other hours.
  const key = `${row.id}@${row.version}@${JSON.stringify(row.spec)}`;
  let cal = compiled.get(key);
  if (!cal) {
    try {
      cal = compileCalendar(row.spec);
    } catch (err) {
      throw unusableCalendar(err);
    }
    compiled.set(key, cal);
  }
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

/** The calendar a period counts on: its own (business hours), or calendar hours. */
export async function calendarOf(db: Db | Tx, p: PeriodRow): Promise<Calendar> {
  if (!p.business) return CALENDAR_HOURS;
  return compiledCalendar((p.calendarId && (await calendarRow(db, p.calendarId))) || (await defaultCalendarRow(db)));
}

/** The clock of a period on `calendar`: its goal, its start, its pauses. */
export function clockWith(p: PeriodRow, pauses: PauseRow[], calendar: Calendar): Clock {
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

export async function clockOf(db: Db | Tx, p: PeriodRow, pauses: PauseRow[]): Promise<Clock> {
  return clockWith(p, pauses, await calendarOf(db, p));
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

function periodView(p: PeriodRow, pauses: PauseRow[], calendar: Calendar, now: Date) {
  const own = pauses.filter((x) => x.periodId === p.id);
  // An ended period shows the time it used as counted when it ended (stored with it): a calendar
  // edited or deleted since does not rewrite its history (the SLA report counts the same figure).
  const used =
    p.endedAt !== null && p.responseSeconds !== null
      ? p.responseSeconds * 1000
      : elapsed(clockWith(p, own, calendar), (p.endedAt ?? now).getTime());
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
export type PeriodView = ReturnType<typeof periodView>;

export interface TicketRows {
  ticket: TicketRow;
  periods: PeriodRow[];
  pauses: PauseRow[];
  /** The calendar of each period, by period id. */
  calendars: Map<string, Calendar>;
  priorities: (typeof ticketPriorityChanges.$inferSelect)[];
  links: { otherId: string; kind: string; at: Date; number: number }[];
}

/** The ticket as the API shows it, at `now` (time left, breached): its rows read, then viewOf. */
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
  const calendars = new Map<string, Calendar>();
  for (const p of periods) calendars.set(p.id, await calendarOf(db, p));
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
  return viewOf({ ticket: t, periods, pauses, calendars, priorities, links }, now);
}

/** The view of rows already in hand (a ticket just made needs no read). */
export function viewOf(rows: TicketRows, now: Date) {
  const { ticket: t, periods, pauses, calendars, priorities, links } = rows;
  const views = periods.map((p) => periodView(p, pauses, calendars.get(p.id) ?? CALENDAR_HOURS, now));
  const current = views.find((v) => v.ended_at === null) ?? null;
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
    information_due_at:
      t.informationRequestedAt && t.state === 'awaiting_user'
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
export type TicketView = ReturnType<typeof viewOf>;

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
    .orderBy(asc(ticketMessages.seq));
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
        .orderBy(asc(ticketAttachments.createdAt), asc(ticketAttachments.position))
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

// ---- ticket creation in one statement (the hot path of R-TKT-1..3) ----------------------------

/** `count` numbers from the tickets' sequence, on `db` or inside a transaction. */
async function drawTicketNumbers(db: Db | Tx, count: number): Promise<number[]> {
  const rows = await queryRows<{ n: string | number }>(
    db,
    sql`SELECT nextval(pg_get_serial_sequence('tickets', 'number')) AS n FROM generate_series(1, ${count})`,
  );
  return rows.map((r) => Number(r.n));
}

/** One ticket number drawn inside `tx` (the transactional path; PGlite has one connection). */
export async function ticketNumberIn(tx: Tx): Promise<number> {
  const [n] = await drawTicketNumbers(tx, 1);
  return n!;
}

/**
 * Ticket numbers drawn from the tickets' sequence a block at a time: one round trip per block, not
 * per ticket. Instances draw disjoint blocks, so numbers stay unique (not in creation order across
 * instances); a block left half used at shutdown leaves a gap.
 */
export function ticketNumbers(db: Db, block = 50): () => Promise<number> {
  const free: number[] = [];
  let drawing: Promise<void> | null = null;
  const draw = async () => {
    free.push(...(await drawTicketNumbers(db, block)));
  };
  return async () => {
    while (free.length === 0) {
      drawing ??= draw().finally(() => (drawing = null));
      await drawing;
    }
    return free.shift()!;
  };
}

/**
 * The default calendar, read once and kept: a ticket's statement checks the version it used is
 * still the default's, and on a change `forget()` makes the next call read it again.
 */
export function defaultCalendarCache(db: Db) {
  let held: Promise<{ row: CalendarRow; calendar: Calendar }> | null = null;
  return {
    get() {
      held ??= defaultCalendarRow(db).then((row) => ({ row, calendar: compiledCalendar(row) }));
      held.catch(() => (held = null));
      return held;
    },
    forget() {
      held = null;
    },
  };
}

/**
 * New tickets, each with its priority history, its description, its first period, its
 * ticket.created event and the request's audit row (R-SEC-7), tickets created at the same moment in
 * one statement (one commit). A ticket is written only if the calendar its period was computed on
 * is still the default at that version, and if its request is not the repeat of a remembered
 * failure (R-API-2: the statement makes the request's lookup, guardChecks); `created` says which
 * were, the guard columns what the lookup found (the caller settles it first). The input is json,
 * not jsonb: json_to_recordset takes the text apart without building jsonb's tree, and the event's
 * data goes into its json column as sent.
 */
const createStatement = preparedStatement<GuardCheckRow & { ord: number | string; created: boolean | string }>(
  'tickets_create',
  sql`WITH q AS (
        SELECT * FROM json_to_recordset(${sql.placeholder('tickets')}::json) AS q(
          ord integer, id uuid, number bigint, account uuid, subject text, channel text, concerns_type text,
          concerns_ref text, requested text, at timestamptz, next_timer timestamptz, calendar text,
          calendar_version integer, message uuid, "user" uuid, body text, email_message_id text, period uuid,
          goal integer, business boolean, deadline timestamptz, warn timestamptz, priorities json, key text,
          object_id text, data json, audit json, ${guardProbeColumns})),
      gc AS MATERIALIZED (${guardChecks('q')}),
      -- No lock on the calendar here: a calendar change takes the tickets table in SHARE mode
      -- (catalogue.ts), so this statement either committed before the change recomputes, or waits
      -- for the change before its snapshot is taken and finds the version gone.
      ok AS (
        SELECT q.* FROM q JOIN ticket_calendars c
          ON c.id = q.calendar AND c.version = q.calendar_version AND c.is_default
        JOIN gc ON gc.ord = q.ord AND gc.guard_failed_ms IS NULL),
      t AS (
        INSERT INTO tickets (id, number, account_id, subject, channel, concerns_type, concerns_ref, state, priority,
                             requested_priority, sla_origin_at, next_timer_at, created_at, updated_at)
        SELECT id, number, account, subject, channel, concerns_type, concerns_ref, 'open', 'low', requested,
               at, next_timer, at, at
        FROM ok ORDER BY ord
        RETURNING id),
      priorities AS (
        INSERT INTO ticket_priority_changes (ticket_id, kind, priority, justification, by_user_id, at)
        SELECT ok.id, r.kind, r.priority, r.justification, r.by_user_id, ok.at
        FROM ok, ROWS FROM (json_to_recordset(ok.priorities)
          AS (kind text, priority text, justification text, by_user_id uuid)) WITH ORDINALITY
          AS r(kind, priority, justification, by_user_id, n)
        ORDER BY ok.ord, r.n),
      description AS (
        INSERT INTO ticket_messages (id, ticket_id, author, author_user_id, kind, body, internal, channel,
                                     email_message_id, created_at)
        SELECT message, id, 'user', "user", 'description', body, false, channel, email_message_id, at
        FROM ok ORDER BY ord),
      period AS (
        INSERT INTO ticket_periods (id, ticket_id, cause, started_at, priority, goal_seconds, business, calendar_id,
                                    deadline_at, warn_at, outcome)
        SELECT period, id, 'registered', at, 'low', goal, business, calendar, deadline, warn, 'running' FROM ok),
      ${eventsCtes('ok', sql.raw(`'${TicketCreated.type}'`), sql.raw(`'${TicketCreated.objectType}'`))},
      audited AS (${auditRowsInsert(sql`(SELECT json_agg(audit ORDER BY ord) FROM ok WHERE audit IS NOT NULL)`, 'json')})
      SELECT gc.*, EXISTS (SELECT 1 FROM ok WHERE ok.ord = gc.ord) AS created FROM gc`,
);

export interface NewTicketRows {
  ticket: TicketRow;
  period: PeriodRow;
  priorities: { kind: string; priority: string; justification: string | null; byUserId: string | null }[];
  description: { id: string; body: string; userId: string | null; emailMessageId: string | null };
  calendarVersion: number;
  /** The ticket.created event's data (the ticket as the API shows it). */
  event: unknown;
  audit: AuditRow | null;
  /** The request's R-API-2 lookup, made by the statement (none: nothing to look up). */
  guard: GuardProbe | null;
}

export interface TicketWritten {
  /** Written; false when the default calendar changed meanwhile or the lookup found a repeat. */
  created: boolean;
  /** What the R-API-2 lookup found, for the caller to settle first. */
  guard: GuardCheckRow;
}

/** Writes new tickets (see createStatement): each call answers whether it was written, and its R-API-2 lookup. */
export function ticketWriter(db: Db): (n: NewTicketRows) => Promise<TicketWritten> {
  return batched<NewTicketRows, TicketWritten>(
    async (items) => {
      const rows = await createStatement(db, {
        tickets: jsonForPostgres(
          items.map((n, ord) => ({
            ord,
            id: n.ticket.id,
            number: n.ticket.number,
            account: n.ticket.accountId,
            subject: n.ticket.subject,
            channel: n.ticket.channel,
            concerns_type: n.ticket.concernsType,
            concerns_ref: n.ticket.concernsRef,
            requested: n.ticket.requestedPriority,
            at: n.ticket.createdAt.toISOString(),
            next_timer: n.ticket.nextTimerAt?.toISOString() ?? null,
            calendar: n.period.calendarId,
            calendar_version: n.calendarVersion,
            message: n.description.id,
            user: n.description.userId,
            body: n.description.body,
            email_message_id: n.description.emailMessageId,
            period: n.period.id,
            goal: n.period.goalSeconds,
            business: n.period.business,
            deadline: n.period.deadlineAt?.toISOString() ?? null,
            warn: n.period.warnAt?.toISOString() ?? null,
            priorities: n.priorities.map((p) => ({
              kind: p.kind,
              priority: p.priority,
              justification: p.justification,
              by_user_id: p.byUserId,
            })),
            key: eventSequenceKey(TicketCreated.objectType, n.ticket.id),
            object_id: n.ticket.id,
            data: n.event,
            audit: n.audit,
            ...(n.guard ?? NO_GUARD_PROBE),
          })),
        ),
      });
      const byOrd = new Map(rows.map((r) => [Number(r.ord), r]));
      return items.map((_, ord) => {
        const r = byOrd.get(ord)!;
        return { created: r.created === true || r.created === 't', guard: r };
      });
    },
    // A batch that fails is retried ticket by ticket, so one bad ticket fails only itself.
    { retryAlone: true, maxItems: 200, concurrency: 2 },
  );
}

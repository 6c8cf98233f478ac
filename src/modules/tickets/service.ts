// Support tickets (R-TKT): one issue each, with the response periods of R-TKT-3/4 on the job
// engine's timers. The rules, in the order a ticket meets them:
// - Registered (any channel), it is Low and on the provider's side: a full period starts (R-TKT-2/3).
// - A reply or an information request ends the period (a response). The user's next message, or the
//   information, starts a full new one. A priority change recomputes the running period from its
//   start; so does involving the product team (business hours whatever the priority, R-TKT-9). A
//   period that has breached keeps its goal and its breach: the change applies from the next one.
// - Operators pause the clock for a vendor's answer or until an agreed time (6.8), and may waive the
//   deadline (6.6): the ticket then shows that instead of a breach. A running pause outlives a split
//   (it stays with the original) and a merge (the merged ticket carries it on).
// - The user suspends (the period stops; resuming starts a full one, R-TKT-5) or revokes.
// - 72 hours in awaiting_user close it (information_not_provided, R-TKT-6). A close notifies (an
//   event); an objection within 5 days reopens it with a new period, otherwise it becomes
//   closed_without_comments (R-TKT-7).
// - Split and merge: the resulting tickets' periods run from the creation of the most recent ticket
//   involved (R-TKT-8); each keeps its history and links to the others. A merge leaves a suspended
//   ticket suspended, and one on the user's side there unless an open ticket is merged into it.
import { createHash, randomUUID } from 'node:crypto';
import { and, asc, desc, eq, inArray, isNotNull, isNull, lte, sql, type SQL } from 'drizzle-orm';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import type { Db, Tx } from '../../db/client.js';
import { claimDueRows } from '../../db/claim-due-rows.js';
import {
  ticketAttachments,
  ticketLinks,
  ticketMessages,
  ticketPauses,
  ticketPeriods,
  ticketPriorityChanges,
  tickets,
  users,
} from '../../db/schema/index.js';
import { defineError, invalidField, NotFound } from '../../errors.js';
import { emitEvent, type EventType } from '../events/api.js';
import type { AuditRow } from '../../plugins/audit.js';
import type { DeferredGuard } from '../../plugins/repeated-failure-guard.js';
import {
  TicketClosed,
  TicketCreated,
  TicketFinalized,
  TicketInformationRequested,
  TicketMerged,
  TicketPriorityChanged,
  TicketReopened,
  TicketReplied,
  TicketResumed,
  TicketRevoked,
  TicketSlaBreached,
  TicketSlaWarning,
  TicketSplit,
  TicketSuspended,
} from './events.js';
import { PRODUCTS } from './schemas.js';
import { sniffContentType } from './sniff.js';
import { deadlineOf, elapsed, instantAt, periodGoal, type Clock, type Priority } from './sla.js';
import {
  calendarOf,
  clockOf,
  clockWith,
  defaultCalendarCache,
  defaultCalendarRow,
  findTicket,
  INFORMATION_DUE_MS,
  messagesView,
  OBJECTION_WINDOW_MS,
  openPause,
  pausesOf,
  runningPeriod,
  ticketNumberIn,
  ticketNumbers,
  ticketWriter,
  ticketView,
  unusableCalendar,
  viewOf,
  type PauseRow,
  type PeriodRow,
  type TicketRow,
  type TicketView,
} from './store.js';

export const TicketStateConflict = defineError(
  'ticket_state_conflict',
  409,
  'The ticket is not in a state that allows this',
  Type.Object({ state: Type.String(), allowed_states: Type.Array(Type.String()) }),
);
export const ObjectionWindowOver = defineError(
  'objection_window_over',
  409,
  'The 5 days to object to the close have passed: the ticket is final (R-TKT-7)',
);
export const NotPaused = defineError('ticket_not_paused', 409, 'The response clock is not paused');
export const AlreadyPaused = defineError('ticket_already_paused', 409, 'The response clock is paused already');
export const NoRunningPeriod = defineError(
  'no_running_period',
  409,
  "The ticket is not on the provider's side: no response period runs",
);
export const AttachmentLimit = defineError(
  'attachment_limit',
  413,
  'Too many attachments, or one too large (the limits are in the answer)',
  Type.Object({
    max_bytes: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }),
    per_message: Type.Integer({ minimum: 0, maximum: 1000 }),
    per_ticket: Type.Integer({ minimum: 0, maximum: 100_000 }),
  }),
);

export interface Caller {
  /** The reseller account; null for an operator (every account's tickets). */
  accountId: string | null;
  userId: string | null;
}

export interface NewAttachment {
  filename: string;
  data: Buffer;
}

export interface NewTicket {
  accountId: string;
  subject: string;
  description: string;
  concerns: { type: string; ref: string };
  channel: 'api' | 'phone' | 'chat' | 'email';
  requestedPriority?: { priority: Priority; justification: string } | undefined;
  attachments: NewAttachment[];
  emailMessageId?: string | null;
}

const PRIORITY_ORDER: Priority[] = ['emergency', 'high', 'medium', 'low'];
/** Every state but the final ones (revoked, closed_without_comments, merged). */
const LIVE = ['open', 'answered', 'awaiting_user', 'suspended', 'closed'];
/** States where the user's message or information brings the ticket to the provider's side. */
const USER_SIDE = ['answered', 'awaiting_user'];
/** The furthest an agreed-time pause may reach (6.8): a year and a day. */
const MAX_AGREED_PAUSE_DAYS = 366;
/** Where the queue puts tickets without a running deadline: after every real one (the latest time a cursor holds). */
const QUEUE_NO_DEADLINE = '9999-12-31T00:00:00.000Z';
const DAY_MS = 86_400_000;

function allowed(t: TicketRow, states: string[]): void {
  if (!states.includes(t.state))
    throw new TicketStateConflict(`This needs the ticket in ${states.join(' or ')}; it is ${t.state}`, {
      extensions: { state: t.state, allowed_states: states },
    });
}

/** A period of `t`'s priority starting at `at`, not yet scheduled (deadline and warning null). */
function periodRow(t: TicketRow, cause: string, at: Date, calendarId: string | null): PeriodRow {
  const goal = periodGoal(t.priority as Priority, t.productTeam);
  return {
    id: randomUUID(),
    ticketId: t.id,
    cause,
    startedAt: at,
    priority: t.priority,
    goalSeconds: goal.goalSeconds,
    business: goal.business,
    calendarId: goal.business ? calendarId : null,
    deadlineAt: null,
    warnAt: null,
    warnedAt: null,
    breachedAt: null,
    endedAt: null,
    endedBy: null,
    outcome: t.slaWaivedReason === null ? 'running' : 'not_applicable',
    responseSeconds: null,
  };
}

/**
 * A new ticket's rows (R-TKT-2: open and Low, on the provider's side): the ticket, its first period
 * (registered, not yet scheduled) and its priority history (Low assigned, then what the user asked).
 */
function newTicketRows(n: NewTicket, userId: string | null, number: number, at: Date, calendarId: string) {
  const ticket: TicketRow = {
    id: randomUUID(),
    number,
    accountId: n.accountId,
    subject: n.subject,
    channel: n.channel,
    concernsType: n.concerns.type,
    concernsRef: n.concerns.ref,
    state: 'open',
    priority: 'low',
    requestedPriority: n.requestedPriority?.priority ?? null,
    productTeam: false,
    assigneeId: null,
    closeReason: null,
    closedAt: null,
    objectionUntil: null,
    informationRequestedAt: null,
    slaOriginAt: at,
    slaWaivedReason: null,
    nextTimerAt: null,
    mergedInto: null,
    createdAt: at,
    updatedAt: at,
  };
  const priorities: { kind: string; priority: string; justification: string | null; byUserId: string | null }[] = [
    { kind: 'assigned', priority: 'low', justification: null, byUserId: null },
  ];
  if (n.requestedPriority)
    priorities.push({
      kind: 'requested',
      priority: n.requestedPriority.priority,
      justification: n.requestedPriority.justification,
      byUserId: userId,
    });
  return { ticket, period: periodRow(ticket, 'registered', at, calendarId), priorities };
}

export type TicketService = ReturnType<typeof createTicketService>;

export function createTicketService(deps: { db: Db; now: () => Date; config: Config['tickets'] }) {
  const { db, config } = deps;
  const nextNumber = ticketNumbers(db);
  const writeTicket = ticketWriter(db);
  const defaultCalendar = defaultCalendarCache(db);

  // ---- periods --------------------------------------------------------------------------------

  /** The deadline and the warning instant of a period with its pauses (null while open-ended paused). */
  /** The deadline and the warning instant on a period's clock (null while open-ended paused). */
  function scheduleOn(clock: Clock): { deadlineAt: Date | null; warnAt: Date | null } {
    let deadline: number | null;
    let warn: number | null;
    try {
      deadline = deadlineOf(clock);
      const lead = Math.min(config.warningLeadS * 1000, clock.goalMs);
      warn = instantAt(clock, clock.goalMs - lead);
    } catch (err) {
      throw unusableCalendar(err);
    }
    return {
      deadlineAt: deadline === null ? null : new Date(deadline),
      warnAt: warn === null ? null : new Date(warn),
    };
  }

  async function schedule(tx: Tx, p: PeriodRow): Promise<{ deadlineAt: Date | null; warnAt: Date | null }> {
    if (p.outcome === 'not_applicable') return { deadlineAt: null, warnAt: null };
    return scheduleOn(await clockOf(tx, p, await pausesOf(tx, [p.id])));
  }

  /**
   * A new period of `t` from `at`. `carried` is a pause running on the work it carries on (a split's
   * original, a merge's result, 6.8): the new period starts paused with the same reason, note and
   * agreed time, from its start or the pause's, whichever is later, until unpaused.
   */
  async function startPeriod(
    tx: Tx,
    t: TicketRow,
    cause: string,
    at: Date,
    carried: PauseRow | null = null,
  ): Promise<void> {
    const business = periodGoal(t.priority as Priority, t.productTeam).business;
    const row = periodRow(t, cause, at, business ? (await defaultCalendarRow(tx)).id : null);
    const pause: PauseRow | null = carried && {
      id: randomUUID(),
      periodId: row.id,
      ticketId: t.id,
      reason: carried.reason,
      note: carried.note,
      startedAt: new Date(Math.max(at.getTime(), carried.startedAt.getTime())),
      until: carried.until,
      endedAt: null,
    };
    if (row.outcome !== 'not_applicable')
      Object.assign(row, scheduleOn(clockWith(row, pause ? [pause] : [], await calendarOf(tx, row))));
    await tx.insert(ticketPeriods).values(row);
    if (pause) await tx.insert(ticketPauses).values(pause);
  }

  /** The pause running on the ticket's running period at `at`, if any (an agreed time not yet come). */
  async function runningPause(tx: Tx, ticketId: string, at: Date): Promise<PauseRow | null> {
    const p = await runningPeriod(tx, ticketId);
    const pause = p ? await openPause(tx, p.id) : undefined;
    return pause && !(pause.until && pause.until <= at) ? pause : null;
  }

  /**
   * Recomputes the running period after a change of priority, team, pause or calendar. A period
   * that has breached (its deadline passed, ticket.sla.breached sent) keeps the goal, calendar and
   * deadline it breached on: a breach that happened stays one (R-TKT-3), and a new priority or team
   * applies from the next period.
   */
  async function reschedule(tx: Tx, p: PeriodRow, changes: Partial<PeriodRow> = {}): Promise<void> {
    if (p.breachedAt !== null) return;
    const next = { ...p, ...changes };
    const s = await schedule(tx, next);
    // A warning already sent stays sent unless the new deadline moved past it.
    const warnedAt = next.warnedAt && s.warnAt && s.warnAt <= next.warnedAt ? next.warnedAt : null;
    await tx
      .update(ticketPeriods)
      .set({ ...changes, ...s, warnedAt })
      .where(eq(ticketPeriods.id, p.id));
  }

  /**
   * Ends the running period, if any. A response (reply, information request, close) is met or
   * breached by its deadline; a stop (suspension, revocation, split, merge) is breached only if the
   * deadline had passed, else stopped.
   */
  async function endPeriod(tx: Tx, ticketId: string, by: string, at: Date): Promise<void> {
    const p = await runningPeriod(tx, ticketId);
    if (!p) return;
    await tx
      .update(ticketPauses)
      .set({ endedAt: sql`LEAST(coalesce(${ticketPauses.until}, ${at}), ${at})` })
      .where(and(eq(ticketPauses.periodId, p.id), sql`${ticketPauses.endedAt} IS NULL`));
    const clock = await clockOf(tx, p, await pausesOf(tx, [p.id]));
    const used = elapsed(clock, at.getTime());
    const response = ['reply', 'information_request', 'closed'].includes(by);
    // A period whose breach was recorded stays breached, whatever its clock shows now.
    const late = used > clock.goalMs || p.breachedAt !== null;
    const outcome =
      p.outcome === 'not_applicable' ? 'not_applicable' : late ? 'breached' : response ? 'met' : 'stopped';
    await tx
      .update(ticketPeriods)
      .set({ endedAt: at, endedBy: by, outcome, responseSeconds: Math.floor(used / 1000) })
      .where(eq(ticketPeriods.id, p.id));
  }

  /** The ticket's earliest timer: a warning, a breach, an agreed time, the 72 hours, the 5 days. */
  async function setNextTimer(tx: Tx, t: TicketRow): Promise<void> {
    const candidates: number[] = [];
    const p = await runningPeriod(tx, t.id);
    if (p && p.outcome === 'running') {
      if (p.warnAt && !p.warnedAt) candidates.push(p.warnAt.getTime());
      if (p.deadlineAt && !p.breachedAt) candidates.push(p.deadlineAt.getTime());
      const pause = await openPause(tx, p.id);
      if (pause?.until) candidates.push(pause.until.getTime());
    }
    if (t.state === 'awaiting_user' && t.informationRequestedAt)
      candidates.push(t.informationRequestedAt.getTime() + INFORMATION_DUE_MS);
    if (t.state === 'closed' && t.objectionUntil) candidates.push(t.objectionUntil.getTime());
    const next = candidates.length ? new Date(Math.min(...candidates)) : null;
    await tx.update(tickets).set({ nextTimerAt: next }).where(eq(tickets.id, t.id));
  }

  async function update(tx: Tx, t: TicketRow, set: Partial<TicketRow>, at: Date): Promise<TicketRow> {
    const [row] = await tx
      .update(tickets)
      .set({ ...set, updatedAt: at })
      .where(eq(tickets.id, t.id))
      .returning();
    return row!;
  }

  /** After a change: the next timer, the event, and the ticket as the API shows it. */
  async function done(tx: Tx, t: TicketRow, at: Date, event: EventType | null): Promise<TicketView> {
    await setNextTimer(tx, t);
    const view = await ticketView(tx, t, at);
    if (event) await emitEvent(tx, event, { accountId: t.accountId, objectId: t.id, data: view });
    return view;
  }

  // ---- messages and attachments ---------------------------------------------------------------

  async function addMessage(
    tx: Tx,
    t: TicketRow,
    m: {
      author: 'user' | 'operator' | 'system';
      userId: string | null;
      kind: string;
      body: string;
      internal?: boolean;
      channel: string;
      attachments?: NewAttachment[];
      emailMessageId?: string | null;
    },
    at: Date,
  ): Promise<string> {
    const id = randomUUID();
    const files = m.attachments ?? [];
    if (files.length) await checkAttachmentRoom(tx, t.id, files);
    await tx.insert(ticketMessages).values({
      id,
      ticketId: t.id,
      author: m.author,
      authorUserId: m.userId,
      kind: m.kind,
      body: m.body,
      internal: m.internal ?? false,
      channel: m.channel,
      emailMessageId: m.emailMessageId ?? null,
      createdAt: at,
    });
    const types = await Promise.all(files.map((f) => sniffContentType(f.data)));
    if (files.length)
      await tx.insert(ticketAttachments).values(
        files.map((f, i) => ({
          id: randomUUID(),
          ticketId: t.id,
          messageId: id,
          position: i,
          filename: f.filename,
          contentType: types[i]!,
          size: f.data.length,
          sha256: createHash('sha256').update(f.data).digest('hex'),
          data: f.data,
          createdAt: at,
        })),
      );
    return id;
  }

  async function checkAttachmentRoom(tx: Tx, ticketId: string, files: NewAttachment[]): Promise<void> {
    const extensions = {
      max_bytes: config.attachmentMaxBytes,
      per_message: config.attachmentsPerMessage,
      per_ticket: config.attachmentsPerTicket,
    };
    const [row] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(ticketAttachments)
      .where(eq(ticketAttachments.ticketId, ticketId));
    const tooBig = files.find((f) => f.data.length > config.attachmentMaxBytes);
    if (tooBig)
      throw new AttachmentLimit(`${tooBig.filename} is larger than ${config.attachmentMaxBytes} bytes`, { extensions });
    if (files.length > config.attachmentsPerMessage)
      throw new AttachmentLimit(`At most ${config.attachmentsPerMessage} attachments per message`, { extensions });
    if (Number(row?.n ?? 0) + files.length > config.attachmentsPerTicket)
      throw new AttachmentLimit(`At most ${config.attachmentsPerTicket} attachments per ticket`, { extensions });
  }

  async function locked(tx: Tx, caller: Caller, id: string): Promise<TicketRow> {
    const t = await findTicket(tx, caller.accountId, id, { lock: true });
    if (!t) throw new NotFound('No such ticket');
    return t;
  }

  /**
   * A change to one ticket in its own transaction, under its row lock. Its timers due by now fire
   * first (the 72 hours, the 5 days, a breach, an agreed time), as the job would: a change that
   * comes after a window closed sees the ticket as the window left it, not as it was before the
   * job got to it (R-TKT-6, R-TKT-7).
   */
  const change = async <R>(
    caller: Caller,
    id: string,
    fn: (tx: Tx, t: TicketRow, at: Date) => Promise<R>,
  ): Promise<R> => {
    const at = deps.now();
    const first = await db.transaction(async (tx) => {
      const t = await locked(tx, caller, id);
      if (!t.nextTimerAt || t.nextTimerAt > at) return { value: await fn(tx, t, at) };
      // Committed on their own: a change they make impossible (409) leaves them done all the same.
      await timersOf(tx, t, at);
      return null;
    });
    if (first) return first.value;
    return db.transaction(async (tx) => fn(tx, await locked(tx, caller, id), at));
  };

  async function recordPriority(
    tx: Tx,
    ticketId: string,
    kind: 'requested' | 'assigned',
    priority: Priority,
    justification: string | null,
    userId: string | null,
    at: Date,
  ) {
    await tx.insert(ticketPriorityChanges).values({ ticketId, kind, priority, justification, byUserId: userId, at });
  }

  /** The ticket comes to the provider's side with what it needs: open, and a full period (R-TKT-3/4). */
  async function toProvider(tx: Tx, t: TicketRow, cause: string, at: Date): Promise<TicketRow> {
    await endPeriod(tx, t.id, cause, at);
    const row = await update(tx, t, { state: 'open', informationRequestedAt: null }, at);
    await startPeriod(tx, row, cause, at);
    return row;
  }

  /** The transactional way to a new ticket (attachments, phone and chat, a calendar that just changed). */
  async function create(tx: Tx, n: NewTicket, userId: string | null, at: Date) {
    const { ticket, period, priorities } = newTicketRows(
      n,
      userId,
      await ticketNumberIn(tx),
      at,
      (await defaultCalendarRow(tx)).id,
    );
    Object.assign(period, await schedule(tx, period));
    await tx.insert(tickets).values(ticket);
    await tx.insert(ticketPriorityChanges).values(priorities.map((p) => ({ ticketId: ticket.id, at, ...p })));
    await addMessage(
      tx,
      ticket,
      {
        author: 'user',
        userId,
        kind: 'description',
        body: n.description,
        channel: n.channel,
        attachments: n.attachments,
        emailMessageId: n.emailMessageId ?? null,
      },
      at,
    );
    await tx.insert(ticketPeriods).values(period);
    return ticket;
  }

  return {
    // ---- the reseller's side -----------------------------------------------------------------

    /** R-TKT-1, R-TKT-2, R-TKT-10: a new ticket, Low, with its first period. */
    async open(
      n: NewTicket,
      userId: string | null,
      auditRowFor: ((ticketId: string) => AuditRow | null) | null = null,
      /** The request's R-API-2 lookup, for the ticket's statement to make (or made here first). */
      guard: DeferredGuard | null = null,
    ): Promise<{ ticket: TicketView; audited: boolean }> {
      await checkConcerns(db, n.accountId, n.concerns);
      if (n.attachments.length === 0) {
        const made = await openInOneStatement(n, userId, auditRowFor, guard);
        if (made) return { ticket: made.view, audited: made.audited };
      } else {
        await guard?.lookup();
      }
      const ticket = await db.transaction(async (tx) => {
        const at = deps.now();
        const t = await create(tx, n, userId, at);
        return done(tx, t, at, TicketCreated);
      });
      return { ticket, audited: false };
    },

    /** The account's tickets, newest first (ties by id), after a (created_at, id) position. */
    async list(
      caller: Caller,
      after: { createdAt: Date; id: string } | undefined,
      limit: number,
    ): Promise<TicketView[]> {
      const rows = await db
        .select()
        .from(tickets)
        .where(
          and(
            caller.accountId === null ? undefined : eq(tickets.accountId, caller.accountId),
            after ? sql`(${tickets.createdAt}, ${tickets.id}) < (${after.createdAt}, ${after.id}::uuid)` : undefined,
          ),
        )
        .orderBy(desc(tickets.createdAt), desc(tickets.id))
        .limit(limit + 1);
      const at = deps.now();
      const views: TicketView[] = [];
      for (const r of rows) views.push(await ticketView(db, r, at));
      return views;
    },

    async get(caller: Caller, id: string) {
      const t = await findTicket(db, caller.accountId, id);
      if (!t) throw new NotFound('No such ticket');
      const at = deps.now();
      return {
        ticket: await ticketView(db, t, at),
        messages: await messagesView(db, t.id, { internal: caller.accountId === null }),
      };
    },

    /**
     * The user's message. Answered or awaiting information, it brings the ticket back to the
     * provider's side with a full period (R-TKT-3/4); open, it adds to the running one.
     */
    message(
      caller: Caller,
      id: string,
      body: string,
      attachments: NewAttachment[],
      via: { channel: string; emailMessageId: string | null } = { channel: 'api', emailMessageId: null },
    ) {
      return change(caller, id, async (tx, t, at) => {
        allowed(t, ['open', ...USER_SIDE]);
        const kind = t.state === 'awaiting_user' ? 'information' : 'message';
        await addMessage(tx, t, { author: 'user', userId: caller.userId, kind, body, attachments, ...via }, at);
        if (t.state === 'open') return done(tx, t, at, null);
        const row = await toProvider(tx, t, t.state === 'awaiting_user' ? 'information_provided' : 'user_message', at);
        return done(tx, row, at, null);
      });
    },

    /** R-TKT-4: the requested information; the countdown starts anew. */
    provideInformation(caller: Caller, id: string, body: string, attachments: NewAttachment[]) {
      return change(caller, id, async (tx, t, at) => {
        allowed(t, ['awaiting_user']);
        await addMessage(
          tx,
          t,
          { author: 'user', userId: caller.userId, kind: 'information', body, channel: 'api', attachments },
          at,
        );
        return done(tx, await toProvider(tx, t, 'information_provided', at), at, null);
      });
    },

    /**
     * R-TKT-5: suspended by the user; the period stops. An information request still open stays
     * recorded (informationRequestedAt), with its 72 hours stopped while the ticket is suspended.
     */
    suspend(caller: Caller, id: string) {
      return change(caller, id, async (tx, t, at) => {
        allowed(t, ['open', ...USER_SIDE]);
        await endPeriod(tx, t.id, 'suspended', at);
        return done(tx, await update(tx, t, { state: 'suspended' }, at), at, TicketSuspended);
      });
    },

    /**
     * R-TKT-5: resumed, with the countdown anew: the provider's response period, or, when the
     * provider was waiting for information (R-TKT-4), the user's 72 hours to provide it, from now.
     */
    resume(caller: Caller, id: string) {
      return change(caller, id, async (tx, t, at) => {
        allowed(t, ['suspended']);
        const row = t.informationRequestedAt
          ? await update(tx, t, { state: 'awaiting_user', informationRequestedAt: at }, at)
          : await toProvider(tx, t, 'resumed', at);
        return done(tx, row, at, TicketResumed);
      });
    },

    revoke(caller: Caller, id: string) {
      return change(caller, id, async (tx, t, at) => {
        allowed(t, ['open', 'suspended', 'closed', ...USER_SIDE]);
        await endPeriod(tx, t.id, 'revoked', at);
        return done(
          tx,
          await update(tx, t, { state: 'revoked', objectionUntil: null, informationRequestedAt: null }, at),
          at,
          TicketRevoked,
        );
      });
    },

    /** R-TKT-7: an objection within 5 days of the close reopens it, with a new period. */
    object(caller: Caller, id: string, justification: string, attachments: NewAttachment[]) {
      return change(caller, id, async (tx, t, at) => {
        if (t.state === 'closed_without_comments')
          throw new ObjectionWindowOver('The ticket became final 5 days after its close');
        allowed(t, ['closed']);
        if (t.objectionUntil && at >= t.objectionUntil)
          throw new ObjectionWindowOver('The 5 days to object have passed');
        await addMessage(
          tx,
          t,
          {
            author: 'user',
            userId: caller.userId,
            kind: 'objection',
            body: justification,
            channel: 'api',
            attachments,
          },
          at,
        );
        const row = await update(tx, t, { closeReason: null, closedAt: null, objectionUntil: null }, at);
        return done(tx, await toProvider(tx, row, 'reopened', at), at, TicketReopened);
      });
    },

    /** R-TKT-2: the user asks for a higher priority, with a justification; the provider decides. */
    requestPriority(caller: Caller, id: string, priority: Priority, justification: string) {
      return change(caller, id, async (tx, t, at) => {
        allowed(t, LIVE);
        await recordPriority(tx, t.id, 'requested', priority, justification, caller.userId, at);
        await addMessage(
          tx,
          t,
          {
            author: 'user',
            userId: caller.userId,
            kind: 'priority_request',
            body: `Priority ${priority} requested: ${justification}`,
            channel: 'api',
          },
          at,
        );
        return done(tx, await update(tx, t, { requestedPriority: priority }, at), at, null);
      });
    },

    async attachment(caller: Caller, ticketId: string, attachmentId: string) {
      const t = await findTicket(db, caller.accountId, ticketId);
      if (!t) throw new NotFound('No such ticket');
      const [a] = await db
        .select({ a: ticketAttachments, internal: ticketMessages.internal })
        .from(ticketAttachments)
        .innerJoin(ticketMessages, eq(ticketMessages.id, ticketAttachments.messageId))
        .where(and(eq(ticketAttachments.id, attachmentId), eq(ticketAttachments.ticketId, t.id)));
      if (!a || (a.internal && caller.accountId !== null)) throw new NotFound('No such attachment');
      return a.a;
    },

    // ---- the operators' side ------------------------------------------------------------------

    /** A ticket taken by phone or chat (R-TKT-10), registered by an operator for the account. */
    async openOnBehalf(n: NewTicket): Promise<TicketView> {
      // The account comes from the operator's request body: nothing else checks that it exists.
      const known = await db.execute(sql`SELECT 1 FROM accounts WHERE id = ${n.accountId}::uuid`);
      if (!(known as { rows: unknown[] }).rows.length)
        invalidField('/body/account_id', 'unknown_account', 'No such reseller account');
      await checkConcerns(db, n.accountId, n.concerns);
      return db.transaction(async (tx) => {
        const at = deps.now();
        return done(tx, await create(tx, n, null, at), at, TicketCreated);
      });
    },

    /** To an active operator (or nobody), on a ticket that is not final. */
    assign(id: string, assigneeId: string | null) {
      return change({ accountId: null, userId: null }, id, async (tx, t, at) => {
        allowed(t, LIVE);
        if (assigneeId !== null) {
          const [op] = await tx
            .select({ id: users.id })
            .from(users)
            .where(and(eq(users.id, assigneeId), eq(users.role, 'operator'), eq(users.status, 'active')));
          if (!op) invalidField('/body/assignee_id', 'unknown_operator', 'No active operator has this id');
        }
        return done(tx, await update(tx, t, { assigneeId }, at), at, null);
      });
    },

    /** A reply: a response, so the period ends (met or breached); the ticket is the user's turn. */
    reply(operator: Caller, id: string, body: string, attachments: NewAttachment[]) {
      return change(operator, id, async (tx, t, at) => {
        allowed(t, ['open', ...USER_SIDE]);
        await addMessage(
          tx,
          t,
          { author: 'operator', userId: operator.userId, kind: 'reply', body, channel: 'api', attachments },
          at,
        );
        if (t.state !== 'open') return done(tx, t, at, TicketReplied);
        await endPeriod(tx, t.id, 'reply', at);
        return done(tx, await update(tx, t, { state: 'answered' }, at), at, TicketReplied);
      });
    },

    note(operator: Caller, id: string, body: string) {
      return change(operator, id, async (tx, t, at) => {
        await addMessage(
          tx,
          t,
          { author: 'operator', userId: operator.userId, kind: 'note', body, internal: true, channel: 'api' },
          at,
        );
        return done(tx, t, at, null);
      });
    },

    /** R-TKT-4: asking for information stops the countdown; 72 hours without it close the ticket. */
    requestInformation(operator: Caller, id: string, body: string) {
      return change(operator, id, async (tx, t, at) => {
        allowed(t, ['open', 'answered']);
        await addMessage(
          tx,
          t,
          { author: 'operator', userId: operator.userId, kind: 'information_request', body, channel: 'api' },
          at,
        );
        await endPeriod(tx, t.id, 'information_request', at);
        const row = await update(tx, t, { state: 'awaiting_user', informationRequestedAt: at }, at);
        return done(tx, row, at, TicketInformationRequested);
      });
    },

    /** R-TKT-6/7: closed with a reason; 5 days to object. */
    close(operator: Caller, id: string, reason: string, body: string | null) {
      return change(operator, id, async (tx, t, at) => {
        allowed(t, ['open', 'suspended', ...USER_SIDE]);
        if (body)
          await addMessage(
            tx,
            t,
            { author: 'operator', userId: operator.userId, kind: 'closing', body, channel: 'api' },
            at,
          );
        return done(tx, await closeTicket(tx, t, reason, at), at, TicketClosed);
      });
    },

    /**
     * R-TKT-2: the provider assigns the priority; the running period is recomputed from its start,
     * unless it has breached (reschedule: it keeps the goal it breached on; later periods take this one).
     */
    setPriority(operator: Caller, id: string, priority: Priority, reason: string | null) {
      return change(operator, id, async (tx, t, at) => {
        allowed(t, LIVE);
        await recordPriority(tx, t.id, 'assigned', priority, reason, operator.userId, at);
        const row = await update(tx, t, { priority }, at);
        const p = await runningPeriod(tx, t.id);
        if (p) {
          const goal = periodGoal(priority, row.productTeam);
          const calendar = goal.business ? (p.calendarId ?? (await defaultCalendarRow(tx)).id) : null;
          await reschedule(tx, p, {
            priority,
            goalSeconds: goal.goalSeconds,
            business: goal.business,
            calendarId: calendar,
          });
        }
        return done(tx, row, at, TicketPriorityChanged);
      });
    },

    /** R-TKT-9: with the product team involved, periods count business hours whatever the priority. */
    setProductTeam(operator: Caller, id: string, involved: boolean) {
      return change(operator, id, async (tx, t, at) => {
        allowed(t, LIVE);
        const row = await update(tx, t, { productTeam: involved }, at);
        const p = await runningPeriod(tx, t.id);
        if (p) {
          const goal = periodGoal(p.priority as Priority, involved);
          const calendar = goal.business ? (p.calendarId ?? (await defaultCalendarRow(tx)).id) : null;
          await reschedule(tx, p, { goalSeconds: goal.goalSeconds, business: goal.business, calendarId: calendar });
        }
        return done(tx, row, at, null);
      });
    },

    /** 6.8: the clock stops for a vendor's answer, or until a time agreed with the user. */
    pause(
      operator: Caller,
      id: string,
      reason: 'vendor_response' | 'agreed_time',
      until: Date | null,
      note: string | null,
    ) {
      return change(operator, id, async (tx, t, at) => {
        const p = await runningPeriod(tx, t.id);
        if (!p || t.state !== 'open') throw new NoRunningPeriod('Only an open ticket’s clock can be paused');
        if (await openPause(tx, p.id)) throw new AlreadyPaused('Resume the clock before pausing it again');
        if (reason === 'agreed_time' && (!until || until <= at))
          invalidField('/body/until', 'until_required', 'An agreed time is a future instant');
        // The deadline moves by the pause: an instant centuries ahead would put it past what a date holds.
        if (until && until.getTime() - at.getTime() > MAX_AGREED_PAUSE_DAYS * DAY_MS)
          invalidField(
            '/body/until',
            'until_too_far',
            `An agreed time lies at most ${MAX_AGREED_PAUSE_DAYS} days ahead`,
          );
        // A vendor's answer has no time set in advance: an `until` would be dropped without a word.
        if (reason === 'vendor_response' && until)
          invalidField(
            '/body/until',
            'until_not_allowed',
            'A vendor-wait pause lasts until the answer arrives (unpause): send no until, or pause for an agreed_time',
          );
        await tx.insert(ticketPauses).values({
          id: randomUUID(),
          periodId: p.id,
          ticketId: t.id,
          reason,
          note,
          startedAt: at,
          until: reason === 'agreed_time' ? until : null,
        });
        await reschedule(tx, p);
        return done(tx, t, at, null);
      });
    },

    /** The vendor's answer arrived (or the agreed time is brought forward): the clock runs again. */
    unpause(operator: Caller, id: string) {
      return change(operator, id, async (tx, t, at) => {
        const p = await runningPeriod(tx, t.id);
        const pause = p ? await openPause(tx, p.id) : undefined;
        if (!p || !pause) throw new NotPaused('The clock is running (or no period runs)');
        await tx.update(ticketPauses).set({ endedAt: at }).where(eq(ticketPauses.id, pause.id));
        await reschedule(tx, p);
        return done(tx, t, at, null);
      });
    },

    /** 6.6: the user changed the product without coordination: the deadline does not apply. */
    waiveDeadline(operator: Caller, id: string, reason: string) {
      return change(operator, id, async (tx, t, at) => {
        allowed(t, LIVE);
        const row = await update(tx, t, { slaWaivedReason: reason }, at);
        await tx
          .update(ticketPeriods)
          .set({ outcome: 'not_applicable', deadlineAt: null, warnAt: null })
          .where(and(eq(ticketPeriods.ticketId, t.id), sql`${ticketPeriods.endedAt} IS NULL`));
        return done(tx, row, at, null);
      });
    },

    /**
     * R-TKT-8: chosen messages move to a new ticket (same account and subject of concern, its own
     * priority); both deadlines run from the new ticket's creation (the most recent ticket involved).
     * A running pause stays with the original, whose new period starts paused (6.8).
     */
    split(operator: Caller, id: string, messageIds: string[], subject: string, priority: Priority | null) {
      return change(operator, id, async (tx, t, at) => {
        allowed(t, ['open', ...USER_SIDE]);
        const moving = await tx
          .select({ id: ticketMessages.id, internal: ticketMessages.internal })
          .from(ticketMessages)
          .where(and(eq(ticketMessages.ticketId, t.id), inArray(ticketMessages.id, messageIds)));
        if (moving.length !== new Set(messageIds).size) {
          const found = new Set(moving.map((m) => m.id));
          const unknown = messageIds.findIndex((m) => !found.has(m));
          invalidField(`/body/message_ids/${unknown}`, 'unknown_message', 'Every message must be one of this ticket’s');
        }
        // R-TKT-1: each ticket keeps a message its user sees (an internal note alone is not one).
        const [{ n } = { n: 0 }] = await tx
          .select({ n: sql<number>`count(*)::int` })
          .from(ticketMessages)
          .where(and(eq(ticketMessages.ticketId, t.id), eq(ticketMessages.internal, false)));
        const visibleMoving = moving.filter((m) => !m.internal).length;
        if (Number(n) <= visibleMoving)
          invalidField(
            '/body/message_ids',
            'nothing_left',
            'At least one message the user sees must stay on the ticket',
          );
        if (visibleMoving === 0)
          invalidField(
            '/body/message_ids',
            'nothing_visible',
            'The new ticket needs a message the user sees, not only notes',
          );
        const newId = randomUUID();
        const [created] = await tx
          .insert(tickets)
          .values({
            id: newId,
            accountId: t.accountId,
            subject,
            channel: t.channel,
            concernsType: t.concernsType,
            concernsRef: t.concernsRef,
            state: 'open',
            priority: priority ?? t.priority,
            productTeam: t.productTeam,
            slaOriginAt: at,
            createdAt: at,
            updatedAt: at,
          })
          .returning();
        await recordPriority(tx, newId, 'assigned', (priority ?? t.priority) as Priority, 'split', operator.userId, at);
        await tx.update(ticketMessages).set({ ticketId: newId }).where(inArray(ticketMessages.id, messageIds));
        await tx
          .update(ticketAttachments)
          .set({ ticketId: newId })
          .where(inArray(ticketAttachments.messageId, messageIds));
        await tx.insert(ticketLinks).values([
          { ticketId: t.id, otherId: newId, kind: 'split_into', at },
          { ticketId: newId, otherId: t.id, kind: 'split_from', at },
        ]);
        await startPeriod(tx, created!, 'split', at);
        let original = await update(tx, t, { slaOriginAt: at }, at);
        if (t.state === 'open') {
          // 6.8: a running pause stays with the original (the work it waits for); the new ticket runs.
          const pause = await runningPause(tx, t.id, at);
          await endPeriod(tx, t.id, 'split', at);
          await startPeriod(tx, original, 'split', at, pause);
        }
        original = (await findTicket(tx, null, t.id))!;
        const newView = await done(tx, created!, at, TicketSplit);
        const view = await done(tx, original, at, TicketSplit);
        return { ticket: view, split_into: newView };
      });
    },

    /**
     * R-TKT-8: the others merge into this one (same account): they become `merged`, keeping their
     * history. This one takes a period from the creation of the most recent ticket involved if it is
     * open, or if it is on the user's side (answered, awaiting_user) and a ticket merged into it is
     * open (provider-side work comes with it); otherwise it stays as it was: a suspension is the
     * user's (R-TKT-5), and information still awaited keeps its request and its 72 hours (R-TKT-4).
     * A running pause (6.8) carries on in the new period: this ticket's own, else the earliest of
     * the merged ones'. Due timers of the tickets involved fire first, committed on their own, as
     * for any change.
     */
    async merge(operator: Caller, id: string, otherIds: string[]) {
      const at = deps.now();
      const ids = [...new Set([id, ...otherIds])].sort();
      if (ids.length < 2) invalidField('/body/ticket_ids', 'nothing_to_merge', 'Name at least one other ticket');
      const attempt = (fireDueTimers: boolean) =>
        db.transaction(async (tx): Promise<{ view: TicketView } | null> => {
          // Locked in id order: two merges never deadlock.
          const rows: TicketRow[] = [];
          for (const tid of ids) {
            const r = await findTicket(tx, null, tid, { lock: true });
            if (!r) throw new NotFound(`No such ticket: ${tid}`);
            rows.push(r);
          }
          const target = rows.find((r) => r.id === id)!;
          // The pointer names the first offending entry of the body's ticket_ids, by its index there
          // (`rows` are in id order with the target among them, so not theirs).
          for (const [i, other] of otherIds.entries()) {
            if (rows.find((r) => r.id === other)!.accountId !== target.accountId)
              invalidField(`/body/ticket_ids/${i}`, 'other_account', 'Only tickets of one account merge');
          }
          const due = rows.filter((r) => r.nextTimerAt && r.nextTimerAt <= at);
          if (fireDueTimers && due.length) {
            for (const r of due) await timersOf(tx, r, at);
            return null;
          }
          for (const r of rows) allowed(r, ['open', 'suspended', ...USER_SIDE]);
          const origin = new Date(Math.max(...rows.map((r) => r.createdAt.getTime())));
          const others = rows.filter((x) => x.id !== id);
          const toProviderSide =
            target.state === 'open' || (USER_SIDE.includes(target.state) && others.some((r) => r.state === 'open'));
          let carried = await runningPause(tx, id, at);
          for (const r of others) {
            const pause = await runningPause(tx, r.id, at);
            if (pause && (!carried || (carried.ticketId !== id && pause.startedAt < carried.startedAt)))
              carried = pause;
          }
          for (const r of others) {
            await endPeriod(tx, r.id, 'merged', at);
            await tx.insert(ticketLinks).values([
              { ticketId: r.id, otherId: id, kind: 'merged_into', at },
              { ticketId: id, otherId: r.id, kind: 'merged_from', at },
            ]);
            const merged = await update(tx, r, { state: 'merged', mergedInto: id, informationRequestedAt: null }, at);
            await done(tx, merged, at, TicketMerged);
          }
          if (!toProviderSide) {
            // Suspended, or the user's turn with nothing for the provider: as it was, no period.
            const row = await update(tx, target, { slaOriginAt: origin }, at);
            return { view: await done(tx, row, at, TicketMerged) };
          }
          await endPeriod(tx, id, 'merged', at);
          const row = await update(
            tx,
            target,
            { state: 'open', informationRequestedAt: null, slaOriginAt: origin },
            at,
          );
          await startPeriod(tx, row, 'merged', origin, carried);
          return { view: await done(tx, row, at, TicketMerged) };
        });
      return ((await attempt(true)) ?? (await attempt(false)))!.view;
    },

    /**
     * A calendar's hours changed: the periods running on it get their deadlines anew, in the
     * transaction that saved the calendar (so the change and its effect commit or fail together).
     */
    async recomputeCalendar(tx: Tx, calendarId: string): Promise<number> {
      const running = await tx
        .select({ ticketId: ticketPeriods.ticketId })
        .from(ticketPeriods)
        .where(and(eq(ticketPeriods.calendarId, calendarId), isNull(ticketPeriods.endedAt)))
        .orderBy(asc(ticketPeriods.ticketId));
      for (const r of running) {
        const t = await locked(tx, { accountId: null, userId: null }, r.ticketId);
        const p = await runningPeriod(tx, t.id);
        if (p && p.outcome === 'running') await reschedule(tx, p);
        await setNextTimer(tx, t);
      }
      return running.length;
    },

    /**
     * The operators' queue: earliest deadline first (tickets without one after, as if their deadline
     * were QUEUE_NO_DEADLINE), then oldest first, filtered; `after` is the last row of the previous page.
     */
    async queue(
      filters: { state?: string; priority?: string; assigneeId?: string; breached?: boolean; accountId?: string },
      after: { deadline: Date; createdAt: Date; id: string } | undefined,
      limit: number,
    ): Promise<Array<{ view: TicketView; deadline: Date }>> {
      const at = deps.now();
      const deadline = sql`(SELECT p.deadline_at FROM ticket_periods p WHERE p.ticket_id = ${tickets.id} AND p.ended_at IS NULL AND p.outcome = 'running')`;
      // To the millisecond, as a cursor holds it.
      const sortKey = sql`date_trunc('milliseconds', coalesce(${deadline}, ${QUEUE_NO_DEADLINE}::timestamptz))`;
      const rows = await db
        .select({
          ticket: tickets,
          sortMs: sql<number>`round(extract(epoch from ${sortKey}) * 1000)::float8`.mapWith(Number),
        })
        .from(tickets)
        .where(
          and(
            filters.accountId ? eq(tickets.accountId, filters.accountId) : undefined,
            filters.state ? eq(tickets.state, filters.state) : undefined,
            filters.priority ? eq(tickets.priority, filters.priority) : undefined,
            filters.assigneeId ? eq(tickets.assigneeId, filters.assigneeId) : undefined,
            filters.breached === true ? sql`${deadline} < ${at}` : undefined,
            filters.breached === false ? sql`coalesce(${deadline} >= ${at}, true)` : undefined,
            after
              ? sql`(${sortKey}, ${tickets.createdAt}, ${tickets.id}) > (${after.deadline}, ${after.createdAt}, ${after.id}::uuid)`
              : undefined,
          ),
        )
        .orderBy(sortKey, asc(tickets.createdAt), asc(tickets.id))
        .limit(limit + 1);
      const out: Array<{ view: TicketView; deadline: Date }> = [];
      for (const r of rows) out.push({ view: await ticketView(db, r.ticket, at), deadline: new Date(r.sortMs) });
      return out;
    },

    /** Per priority, the periods that ended in [from, to) with a response: met, breached, median and 90th percentile. */
    async slaReport(from: Date, to: Date) {
      const r = await db.execute(
        sql`SELECT priority,
                   count(*) FILTER (WHERE outcome = 'met')::int AS met,
                   count(*) FILTER (WHERE outcome = 'breached')::int AS breached,
                   -- A response time only where a response ended the period: a breach that a
                   -- suspension, revocation, split or merge ended later counts, but has no response.
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY response_seconds)
                     FILTER (WHERE ended_by IN ('reply', 'information_request', 'closed')) AS median,
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY response_seconds)
                     FILTER (WHERE ended_by IN ('reply', 'information_request', 'closed')) AS p90
            FROM ticket_periods
            WHERE ended_at >= ${from} AND ended_at < ${to} AND outcome IN ('met', 'breached')
            GROUP BY priority`,
      );
      const rows = (r as { rows: Record<string, unknown>[] }).rows;
      return PRIORITY_ORDER.map((priority) => {
        const row = rows.find((x) => x.priority === priority);
        return {
          priority,
          met: Number(row?.met ?? 0),
          breached: Number(row?.breached ?? 0),
          median_response_seconds: row?.median === null || row?.median === undefined ? null : Number(row.median),
          p90_response_seconds: row?.p90 === null || row?.p90 === undefined ? null : Number(row.p90),
        };
      });
    },

    // ---- timers (R-TKT-3, R-TKT-6, R-TKT-7, 6.8) ----------------------------------------------

    /** Every ticket whose timer is due at `now`: agreed times, warnings, breaches, the 72 hours, the 5 days. */
    runTimers(now: Date): Promise<number> {
      return claimDueRows({
        db,
        table: tickets,
        key: tickets.id,
        due: and(isNotNull(tickets.nextTimerAt), lte(tickets.nextTimerAt, now)),
        orderBy: asc(tickets.nextTimerAt),
        batchSize: 20,
        handle: async (tx, rows) => {
          for (const t of rows) await timersOf(tx, t, now);
          return rows.length;
        },
      });
    },
  };

  /**
   * A ticket without attachments, written in one statement: its first period is computed here on the
   * default calendar held in memory, and the view (the answer and the event's data) is built from
   * the rows written. Null when the default calendar changed meanwhile (the caller takes the
   * transactional path, which reads it).
   */
  async function openInOneStatement(
    n: NewTicket,
    userId: string | null,
    auditRowFor: ((ticketId: string) => AuditRow | null) | null,
    guard: DeferredGuard | null,
  ): Promise<{ view: TicketView; audited: boolean } | null> {
    const { row: calendarRow, calendar } = await defaultCalendar.get();
    const at = deps.now();
    const { ticket, period, priorities } = newTicketRows(n, userId, await nextNumber(), at, calendarRow.id);
    Object.assign(period, scheduleOn(clockWith(period, [], calendar)));
    const timers = [period.warnAt, period.deadlineAt].filter((d): d is Date => d !== null).map((d) => d.getTime());
    ticket.nextTimerAt = timers.length ? new Date(Math.min(...timers)) : null;
    const view = viewOf(
      {
        ticket,
        periods: [period],
        pauses: [],
        calendars: new Map([[period.id, calendar]]),
        priorities: priorities.map((p, i) => ({ id: i, ticketId: ticket.id, at, ...p })),
        links: [],
      },
      at,
    );
    const audit = auditRowFor ? auditRowFor(ticket.id) : null;
    const written = await writeTicket({
      ticket,
      period,
      priorities,
      description: { id: randomUUID(), body: n.description, userId, emailMessageId: n.emailMessageId ?? null },
      calendarVersion: calendarRow.version,
      event: view,
      audit,
      guard: guard?.probe ?? null,
    });
    // R-API-2: a repeat of a remembered failure is refused here (the statement wrote nothing for it).
    await guard?.settle(written.guard);
    if (!written.created) defaultCalendar.forget();
    return written.created ? { view, audited: audit !== null } : null;
  }

  async function closeTicket(tx: Tx, t: TicketRow, reason: string, at: Date): Promise<TicketRow> {
    await endPeriod(tx, t.id, 'closed', at);
    return update(
      tx,
      t,
      {
        state: 'closed',
        closeReason: reason,
        closedAt: at,
        objectionUntil: new Date(at.getTime() + OBJECTION_WINDOW_MS),
        informationRequestedAt: null,
      },
      at,
    );
  }

  async function timersOf(tx: Tx, t: TicketRow, now: Date): Promise<void> {
    let p = await runningPeriod(tx, t.id);
    if (p && p.outcome === 'running') {
      const pause = await openPause(tx, p.id);
      if (pause?.until && pause.until <= now) {
        await tx.update(ticketPauses).set({ endedAt: pause.until }).where(eq(ticketPauses.id, pause.id));
        await reschedule(tx, p);
        p = (await runningPeriod(tx, t.id))!;
      }
      if (p.warnAt && !p.warnedAt && p.warnAt <= now) {
        await tx.update(ticketPeriods).set({ warnedAt: p.warnAt }).where(eq(ticketPeriods.id, p.id));
        await emitEvent(tx, TicketSlaWarning, {
          accountId: t.accountId,
          objectId: t.id,
          data: await ticketView(tx, t, now),
        });
      }
      if (p.deadlineAt && !p.breachedAt && p.deadlineAt <= now) {
        await tx.update(ticketPeriods).set({ breachedAt: p.deadlineAt }).where(eq(ticketPeriods.id, p.id));
        await emitEvent(tx, TicketSlaBreached, {
          accountId: t.accountId,
          objectId: t.id,
          data: await ticketView(tx, t, now),
        });
      }
    }
    let row = t;
    if (t.state === 'awaiting_user' && t.informationRequestedAt) {
      const due = new Date(t.informationRequestedAt.getTime() + INFORMATION_DUE_MS);
      if (due <= now) {
        row = await closeTicket(tx, t, 'information_not_provided', due);
        await emitEvent(tx, TicketClosed, {
          accountId: t.accountId,
          objectId: t.id,
          data: await ticketView(tx, row, now),
        });
      }
    }
    if (row.state === 'closed' && row.objectionUntil && row.objectionUntil <= now) {
      row = await update(tx, row, { state: 'closed_without_comments' }, row.objectionUntil);
      await emitEvent(tx, TicketFinalized, {
        accountId: t.accountId,
        objectId: t.id,
        data: await ticketView(tx, row, now),
      });
    }
    await setNextTimer(tx, row);
  }
}

/** R-TKT-1: the product, or a service of the account's, that a ticket concerns. */
async function checkConcerns(db: Db, accountId: string, c: { type: string; ref: string }): Promise<void> {
  const bad = () =>
    invalidField('/body/concerns/ref', 'unknown_service', `No ${c.type.replace(/_/g, ' ')} ${c.ref} in your account`);
  if (c.type === 'product') {
    if (!(PRODUCTS as readonly string[]).includes(c.ref))
      invalidField('/body/concerns/ref', 'unknown_product', `A product is one of ${PRODUCTS.join(', ')}`);
    return;
  }
  const uuidLike = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const query: Record<string, SQL> = {
    domain: sql`SELECT 1 FROM domains WHERE name = lower(${c.ref}) AND account_id = ${accountId}::uuid`,
    spam_filter_domain: sql`SELECT 1 FROM spam_filter_domains WHERE name = lower(${c.ref}) AND account_id = ${accountId}::uuid`,
    plesk_license: sql`SELECT 1 FROM plesk_licenses WHERE id = ${c.ref}::uuid AND account_id = ${accountId}::uuid`,
    hosting_subscription: sql`SELECT 1 FROM hosting_subscriptions WHERE id = ${c.ref}::uuid AND account_id = ${accountId}::uuid`,
  };
  if ((c.type === 'plesk_license' || c.type === 'hosting_subscription') && !uuidLike.test(c.ref)) bad();
  const q = query[c.type];
  if (!q) return bad();
  const r = await db.execute(q);
  if (!(r as { rows: unknown[] }).rows.length) bad();
}

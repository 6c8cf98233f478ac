// Support tickets (R-TKT): operator-edited business-hour calendars and priority criteria, tickets
// with their messages, attachments (kept here, never served inline) and priority history, the
// response periods each with its pauses (the SLA clock), the links split and merge leave, and the
// inbound e-mails received (accepted or refused).
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { CalendarSpec } from '../../modules/tickets/calendar.js';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });
const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v)),
});

/** A business-hour calendar (weekly hours in an IANA zone, whole- and part-day holidays). */
export const ticketCalendars = pgTable(
  'ticket_calendars',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    spec: jsonb('spec').$type<CalendarSpec>().notNull(),
    /** The calendar business-hour periods run on (exactly one). */
    isDefault: boolean('is_default').notNull().default(false),
    version: integer('version').notNull().default(1),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('ticket_calendars_one_default')
      .on(t.isDefault)
      .where(sql`${t.isDefault}`),
  ],
);

/** What makes a ticket about a product one priority or another (R-TKT-2), operator-edited. */
export const ticketPriorityCriteria = pgTable(
  'ticket_priority_criteria',
  {
    product: text('product').notNull(),
    priority: text('priority').notNull(),
    criteria: jsonb('criteria').$type<string[]>().notNull(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.product, t.priority] })],
);

export const tickets = pgTable(
  'tickets',
  {
    id: uuid('id').primaryKey(),
    /** The reference people quote (T-<number>), in e-mail subjects too. */
    number: bigserial('number', { mode: 'number' }).notNull().unique(),
    accountId: uuid('account_id').notNull(),
    subject: text('subject').notNull(),
    /** 'api' | 'phone' | 'chat' | 'email' (R-TKT-10) */
    channel: text('channel').notNull(),
    /** 'product' | 'domain' | 'plesk_license' | 'spam_filter_domain' | 'hosting_subscription' */
    concernsType: text('concerns_type').notNull(),
    /** The product's name, or the service's id (a domain's name). */
    concernsRef: text('concerns_ref').notNull(),
    /** open | answered | awaiting_user | suspended | revoked | closed | closed_without_comments | merged */
    state: text('state').notNull(),
    /** Assigned by the provider (R-TKT-2): low at first. */
    priority: text('priority').notNull().default('low'),
    requestedPriority: text('requested_priority'),
    /** R-TKT-9: the product team is involved, so periods run on business hours whatever the priority. */
    productTeam: boolean('product_team').notNull().default(false),
    assigneeId: uuid('assignee_id'),
    closeReason: text('close_reason'),
    closedAt: ts('closed_at'),
    /** R-TKT-7: an objection until then reopens a closed ticket. */
    objectionUntil: ts('objection_until'),
    /** R-TKT-6: when the information was requested (72 hours to provide it). */
    informationRequestedAt: ts('information_requested_at'),
    /** R-TKT-8: the creation time deadlines run from after a split or merge (the most recent ticket's). */
    slaOriginAt: ts('sla_origin_at').notNull(),
    /** 6.6: the deadline does not apply (the user changed the product without coordination). */
    slaWaivedReason: text('sla_waived_reason'),
    /** The earliest timer due (warning, breach, 72 hours, 5 days, an agreed time); null: none. */
    nextTimerAt: ts('next_timer_at'),
    mergedInto: uuid('merged_into'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('tickets_account_idx').on(t.accountId, t.createdAt),
    index('tickets_timer_idx')
      .on(t.nextTimerAt)
      .where(sql`${t.nextTimerAt} IS NOT NULL`),
  ],
);

export const ticketMessages = pgTable(
  'ticket_messages',
  {
    id: uuid('id').primaryKey(),
    /** The order messages were written in (two may share a millisecond). */
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    ticketId: uuid('ticket_id').notNull(),
    /** 'user' | 'operator' | 'system' */
    author: text('author').notNull(),
    authorUserId: uuid('author_user_id'),
    /** 'message' | 'description' | 'information' | 'reply' | 'information_request' | 'note' | 'objection' */
    kind: text('kind').notNull(),
    body: text('body').notNull(),
    /** An operators' note: never shown to the reseller. */
    internal: boolean('internal').notNull().default(false),
    channel: text('channel').notNull(),
    /** An e-mail's Message-ID (inbound), or the one notifications of this message carry. */
    emailMessageId: text('email_message_id'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('ticket_messages_ticket_idx').on(t.ticketId, t.seq),
    index('ticket_messages_email_idx')
      .on(t.emailMessageId)
      .where(sql`${t.emailMessageId} IS NOT NULL`),
  ],
);

export const ticketAttachments = pgTable(
  'ticket_attachments',
  {
    id: uuid('id').primaryKey(),
    ticketId: uuid('ticket_id').notNull(),
    messageId: uuid('message_id').notNull(),
    /** Its place among the message's attachments, as sent. */
    position: integer('position').notNull().default(0),
    filename: text('filename').notNull(),
    /** Sniffed from the content, never taken from the sender. */
    contentType: text('content_type').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    data: bytea('data').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('ticket_attachments_message_idx').on(t.messageId)],
);

/** Every priority requested (with its justification) and assigned, in order (R-TKT-2). */
export const ticketPriorityChanges = pgTable(
  'ticket_priority_changes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    ticketId: uuid('ticket_id').notNull(),
    /** 'requested' | 'assigned' */
    kind: text('kind').notNull(),
    priority: text('priority').notNull(),
    justification: text('justification'),
    byUserId: uuid('by_user_id'),
    at: ts('at').notNull(),
  },
  (t) => [index('ticket_priority_changes_ticket_idx').on(t.ticketId, t.id)],
);

/**
 * One response period (R-TKT-3/4): started when the ticket came to the provider's side with what it
 * needs, ended by a reply or an information request (or a suspension, a revocation, a close).
 */
export const ticketPeriods = pgTable(
  'ticket_periods',
  {
    id: uuid('id').primaryKey(),
    ticketId: uuid('ticket_id').notNull(),
    /** What started it: registered | information_provided | user_message | resumed | reopened | split | merged */
    cause: text('cause').notNull(),
    startedAt: ts('started_at').notNull(),
    priority: text('priority').notNull(),
    /** The goal in seconds and whether it counts business time (and on which calendar). */
    goalSeconds: integer('goal_seconds').notNull(),
    business: boolean('business').notNull(),
    calendarId: text('calendar_id'),
    /** Now, with its pauses; null while paused. */
    deadlineAt: ts('deadline_at'),
    warnAt: ts('warn_at'),
    warnedAt: ts('warned_at'),
    breachedAt: ts('breached_at'),
    endedAt: ts('ended_at'),
    /** reply | information_request | closed | suspended | revoked | split | merged */
    endedBy: text('ended_by'),
    /** running | met | breached | stopped | not_applicable */
    outcome: text('outcome').notNull().default('running'),
    /** Business (or calendar) seconds on the clock when it ended. */
    responseSeconds: integer('response_seconds'),
  },
  (t) => [
    index('ticket_periods_ticket_idx').on(t.ticketId, t.startedAt),
    index('ticket_periods_ended_idx')
      .on(t.endedAt)
      .where(sql`${t.endedAt} IS NOT NULL`),
    uniqueIndex('ticket_periods_running_idx')
      .on(t.ticketId)
      .where(sql`${t.endedAt} IS NULL`),
  ],
);

/** A stop of the clock (regulations 6.8): waiting for a vendor's answer, or until a time agreed with the user. */
export const ticketPauses = pgTable(
  'ticket_pauses',
  {
    id: uuid('id').primaryKey(),
    periodId: uuid('period_id').notNull(),
    ticketId: uuid('ticket_id').notNull(),
    /** 'vendor_response' | 'agreed_time' */
    reason: text('reason').notNull(),
    note: text('note'),
    startedAt: ts('started_at').notNull(),
    /** For an agreed time: when the clock resumes by itself. */
    until: ts('until'),
    endedAt: ts('ended_at'),
  },
  (t) => [index('ticket_pauses_period_idx').on(t.periodId, t.startedAt)],
);

/** What split and merge leave: each ticket links to the others (R-TKT-8). */
export const ticketLinks = pgTable(
  'ticket_links',
  {
    ticketId: uuid('ticket_id').notNull(),
    otherId: uuid('other_id').notNull(),
    /** 'split_from' | 'split_into' | 'merged_from' | 'merged_into' */
    kind: text('kind').notNull(),
    at: ts('at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.ticketId, t.otherId, t.kind] })],
);

/** Every inbound e-mail (R-TKT-10): what it became, or why it was refused. */
export const ticketInboundEmails = pgTable(
  'ticket_inbound_emails',
  {
    id: uuid('id').primaryKey(),
    receivedAt: ts('received_at').notNull(),
    fromAddress: text('from_address'),
    subject: text('subject'),
    messageId: text('message_id'),
    size: bigint('size', { mode: 'number' }).notNull(),
    /** 'opened' | 'added' | 'refused' */
    outcome: text('outcome').notNull(),
    /** Why it was refused: unknown_sender | ambiguous_sender | unparseable | duplicate | an error code of the ticket service */
    refusal: text('refusal'),
    accountId: uuid('account_id'),
    ticketId: uuid('ticket_id'),
  },
  (t) => [index('ticket_inbound_emails_received_idx').on(t.receivedAt)],
);

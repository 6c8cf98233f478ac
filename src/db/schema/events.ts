// Events (the transactional outbox), webhook endpoints and their deliveries, and e-mail notification
// recipients. An event is written in the transaction of the change it reports; the dispatcher fans
// it out to deliveries after commit (modules/events, modules/webhooks).
import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, json, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { accounts } from './accounts.js';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });

export const events = pgTable(
  'events',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    /** Insertion order (internal). Readers order by (txId, position): see modules/events/store.ts. */
    position: bigint('position', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
    /** The writing transaction's id (pg_current_xact_id): the feed shows an event only once every older transaction has ended. */
    txId: bigint('tx_id', { mode: 'number' })
      .notNull()
      .default(sql`(pg_current_xact_id()::text)::bigint`),
    type: text('type').notNull(),
    /**
     * No foreign key: events are a log written with every change, accounts are never deleted, and
     * every writer takes the account from the row it changed. The key's check was a query per event
     * (16% of a new ticket's statement, measured: bench/RESULTS.md).
     */
    accountId: uuid('account_id').notNull(),
    objectType: text('object_type').notNull(),
    objectId: text('object_id').notNull(),
    /** 1, 2, 3... per object: a receiver orders the events about one object and drops stale ones. */
    objectSequence: bigint('object_sequence', { mode: 'number' }).notNull(),
    /**
     * json, not jsonb: the text is kept as written (what the feed and the deliveries send) and
     * nothing queries inside it, so the write skips jsonb's conversion (measured: bench/RESULTS.md).
     */
    data: json('data').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('events_account_feed_idx').on(t.accountId, t.txId, t.position),
    index('events_account_object_idx').on(t.accountId, t.objectId, t.txId, t.position),
    // For the hourly purge only: a BRIN index costs next to nothing per insert (rows arrive in
    // created_at order), where a B-tree would be one more index entry on every change's write path.
    index('events_created_at_brin').using('brin', t.createdAt),
  ],
);

/**
 * Events not yet fanned out (the outbox proper): one narrow row per event, written with it and
 * deleted by the fan-out in the transaction that creates its deliveries. Keeping this out of the
 * events table leaves events insert-only: marking a wide row read would rewrite it and every index.
 */
export const eventOutbox = pgTable('event_outbox', {
  position: bigint('position', { mode: 'number' }).primaryKey(),
  eventId: uuid('event_id').notNull(),
});

/** The last sequence number given per object; it outlives the events (kept 30 days). */
export const eventSequences = pgTable('event_sequences', {
  objectId: text('object_id').primaryKey(),
  sequence: bigint('sequence', { mode: 'number' }).notNull(),
});

export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    /** Event types delivered; ['*'] is every type. */
    eventTypes: text('event_types')
      .array()
      .notNull()
      .default(sql`'{*}'::text[]`),
    enabled: boolean('enabled').notNull().default(true),
    /** Why it is disabled: 'account', 'operator', 'gone' (410), 'failing' (5 days of failures). */
    disabledReason: text('disabled_reason'),
    disabledAt: ts('disabled_at'),
    /** The signing secret (whsec_...), sealed with MASTER_KEY. */
    secretSealed: text('secret_sealed').notNull(),
    /** The secret before the last rotation, still signing until previousSecretExpiresAt. */
    previousSecretSealed: text('previous_secret_sealed'),
    previousSecretExpiresAt: ts('previous_secret_expires_at'),
    /** Deliveries to this endpoint in flight at once. */
    maxConcurrency: integer('max_concurrency').notNull().default(10),
    /** Start of the current run of failed deliveries (null after a success). */
    failingSince: ts('failing_since'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [index('webhook_endpoints_account_idx').on(t.accountId, t.createdAt)],
);

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    /** The `webhook-id` header: stable across this delivery's attempts. */
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    accountId: uuid('account_id').notNull(),
    eventId: uuid('event_id').notNull(),
    /** 'pending' | 'succeeded' | 'failed' (schedule spent, or the endpoint disabled) */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    /** A worker holds the delivery until then; past it, another worker may retry it. */
    leasedUntil: ts('leased_until'),
    lastAttemptAt: ts('last_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    /** The latest attempt's duration and the first 4 KiB of its answer (cleared after 30 days); earlier attempts are in webhook_attempts. */
    lastDurationMs: integer('last_duration_ms'),
    lastResponseBody: text('last_response_body'),
    /** Created by a replay or a manual retry rather than by the event's fan-out. */
    trigger: text('trigger').notNull().default('event'),
    createdAt: ts('created_at').notNull().defaultNow(),
    completedAt: ts('completed_at'),
  },
  (t) => [
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.createdAt),
    // The claim: an endpoint's due deliveries in order, and its live leases (deliveries in flight).
    index('webhook_deliveries_endpoint_due_idx')
      .on(t.endpointId, t.nextAttemptAt)
      .where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_endpoint_leased_idx')
      .on(t.endpointId, t.leasedUntil)
      .where(sql`${t.status} = 'pending' AND ${t.leasedUntil} IS NOT NULL`),
    // No index on event_id alone, and no unique (endpoint_id, event_id): nothing looks deliveries up
    // by event, and each index is one more entry per delivery. The fan-out queues each event once
    // per endpoint (it deletes the event's outbox row in the same transaction: event_outbox).
  ],
);

/**
 * The fan-out's output: first attempts waiting to be sent, as chains of one endpoint's events in
 * order. A worker leases a chain (one of the endpoint's max_concurrency slots), sends its events one
 * after another, then writes the deliveries (succeeded, or pending with a retry time) and deletes the
 * chain, or puts back the part it did not send. The delivery ids (webhook-id) are fixed here, so a
 * chain sent again after a lease expired carries the same ids. Until sent, the delivery log shows
 * them as pending deliveries.
 */
export const webhookQueue = pgTable(
  'webhook_queue',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    accountId: uuid('account_id').notNull(),
    deliveryIds: uuid('delivery_ids').array().notNull(),
    eventIds: uuid('event_ids').array().notNull(),
    /** 'event': the fan-out's; 'replay': a replay's (new deliveries of kept events). */
    trigger: text('trigger').notNull().default('event'),
    leasedUntil: ts('leased_until'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('webhook_queue_endpoint_idx').on(t.endpointId, t.id)],
);

/**
 * A delivery's attempts before its latest one (the latest is on the delivery row: last_*), so a
 * delivery that succeeds at once is one row. Response bodies are cleared after 30 days; the request
 * body is the event itself, shown while the event is kept.
 */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    deliveryId: uuid('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    endpointId: uuid('endpoint_id').notNull(),
    attemptedAt: ts('attempted_at').notNull().defaultNow(),
    statusCode: integer('status_code'),
    durationMs: integer('duration_ms').notNull(),
    error: text('error'),
    responseBody: text('response_body'),
  },
  (t) => [
    index('webhook_attempts_delivery_idx').on(t.deliveryId, t.id),
    index('webhook_attempts_endpoint_idx').on(t.endpointId, t.id),
  ],
);

/** E-mail notification recipients per group of event types: user ids or addresses. */
export const notificationRecipients = pgTable(
  'notification_recipients',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    group: text('group').notNull(),
    /** User ids (their e-mail at send time). */
    userIds: uuid('user_ids')
      .array()
      .notNull()
      .default(sql`'{}'::uuid[]`),
    addresses: text('addresses')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.group] })],
);

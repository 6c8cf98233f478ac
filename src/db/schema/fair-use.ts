// Fair use (R-API): rate-limit policies and operation costs that operators edit at run time.
import { sql } from 'drizzle-orm';
import {
  bigint,
  date,
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

/** One row per bucket scope: 'credential', 'account', 'address' (unauthenticated callers). */
export const rateLimitPolicies = pgTable('rate_limit_policies', {
  scope: text('scope').primaryKey(),
  capacity: integer('capacity').notNull(),
  /** Tokens added per minute (integers only: 30/min is 0.5/s). */
  refillPerMinute: integer('refill_per_minute').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

/** Tokens a call to an operation costs; operations not listed cost 1. */
export const operationCosts = pgTable('operation_costs', {
  operationId: text('operation_id').primaryKey(),
  cost: integer('cost').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

/** Idempotency-Key records (Stripe's design): the first response to a key is replayed for 24 h. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    /** Whose key (R-SEC-8): `api_key:<id>` for an API key, `user:<id>` for a login session. */
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    operation: text('operation').notNull(),
    state: text('state').notNull(), // 'in_flight' | 'done'
    responseStatus: integer('response_status'),
    responseBody: text('response_body'),
    responseType: text('response_type'),
    requestId: text('request_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index('idempotency_keys_expires_idx').on(t.expiresAt)],
);

/**
 * R-API-2: commands that failed with a client error, refused when the same credential repeats them
 * unaltered. `subjects` are the objects the command named ('domains:example.com', 'balance'): a
 * successful command on one of them in the account forgets the failure.
 */
export const failedCommands = pgTable(
  'failed_commands',
  {
    /** Whose failure: `key:<api key id>`, or `user:<user id>` for a login session. */
    credential: text('credential').notNull(),
    accountId: uuid('account_id').notNull(),
    fingerprint: text('fingerprint').notNull(),
    subjects: text('subjects')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    operation: text('operation').notNull(),
    statusCode: integer('status_code').notNull(),
    errorCode: text('error_code'),
    requestId: text('request_id').notNull(),
    failedAt: timestamp('failed_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.credential, t.fingerprint] }),
    index('failed_commands_expires_idx').on(t.expiresAt),
    index('failed_commands_account_idx').on(t.accountId),
  ],
);

/** Operations the repeated-failure guard leaves alone (availability checks have their own rule). */
export const guardExemptions = pgTable('guard_exemptions', {
  operationId: text('operation_id').primaryKey(),
  reason: text('reason').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

/** R-API-4: breaches of fair use, with evidence. One per (account, type, dedupe key). */
export const fairUseIncidents = pgTable(
  'fair_use_incidents',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    accountId: uuid('account_id').notNull(),
    type: text('type').notNull(),
    dedupeKey: text('dedupe_key').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    evidence: jsonb('evidence').notNull(),
    status: text('status').notNull().default('open'), // 'open' | 'cleared'
    annotation: text('annotation'),
    actions: text('actions')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    clearedAt: timestamp('cleared_at', { withTimezone: true, precision: 3 }),
    clearedBy: uuid('cleared_by'),
  },
  (t) => [
    uniqueIndex('fair_use_incidents_dedupe_key').on(t.accountId, t.type, t.dedupeKey),
    index('fair_use_incidents_account_idx').on(t.accountId, t.occurredAt),
  ],
);

/**
 * R-API-4: the escalation ladder. Open incidents within the period are counted once per cause
 * (type) per UTC day; a step's `action` is taken when that count reaches `threshold` and the
 * incidents fall on at least `minDays` distinct UTC days.
 */
export const ladderSteps = pgTable('ladder_steps', {
  threshold: integer('threshold').primaryKey(),
  /** Distinct UTC days with incidents that the step also needs: a person learning in one day is warned, not suspended. */
  minDays: integer('min_days').notNull().default(1),
  action: text('action').notNull(), // 'warning' | 'suspend_api' | 'fee' | 'termination_review'
  suspensionHours: integer('suspension_hours'),
  /** Fee per currency in minor units, e.g. {"EUR": 2500, "RUB": 250000}. */
  fee: jsonb('fee'),
});

/** R-API-3: state-changing calls per account per UTC day. */
export const dailyCounters = pgTable(
  'daily_counters',
  {
    accountId: uuid('account_id').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    commands: integer('commands').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.day] })],
);

/** R-API-3: notices of bulk work filed in advance. */
export const bulkNotices = pgTable(
  'bulk_notices',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    accountId: uuid('account_id').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    expectedCount: integer('expected_count').notNull(),
    description: text('description').notNull(),
    createdBy: uuid('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index('bulk_notices_account_day_idx').on(t.accountId, t.day)],
);

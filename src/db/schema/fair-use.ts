// Fair use (R-API): rate-limit policies and operation costs that operators edit at run time.
import { index, integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

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
    /** Whose key: `account:<id>` or `user:<id>` for operators. */
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

/** R-API-2: commands that failed with a client error, refused when repeated unaltered. */
export const failedCommands = pgTable(
  'failed_commands',
  {
    accountId: uuid('account_id').notNull(),
    fingerprint: text('fingerprint').notNull(),
    operation: text('operation').notNull(),
    statusCode: integer('status_code').notNull(),
    errorCode: text('error_code'),
    requestId: text('request_id').notNull(),
    failedAt: timestamp('failed_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.fingerprint] }), index('failed_commands_expires_idx').on(t.expiresAt)],
);

/** Operations the repeated-failure guard leaves alone (availability checks have their own rule). */
export const guardExemptions = pgTable('guard_exemptions', {
  operationId: text('operation_id').primaryKey(),
  reason: text('reason').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

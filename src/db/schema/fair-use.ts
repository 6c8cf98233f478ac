// Fair use (R-API): rate-limit policies and operation costs that operators edit at run time.
import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

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

// The account ledger: every movement of money, with the balance it left.
import { sql } from 'drizzle-orm';
import { bigint, check, index, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { accounts } from './accounts.js';

export const ledgerType = pgEnum('ledger_type', ['credit', 'charge', 'refund', 'fee']);

export const ledgerTransactions = pgTable(
  'ledger_transactions',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    type: ledgerType('type').notNull(),
    /** Minor units, always positive; `type` says which way it moved the balance. */
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    balanceAfter: bigint('balance_after', { mode: 'number' }).notNull(),
    reason: text('reason').notNull(),
    reference: text('reference'),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('ledger_account_id_idx').on(t.accountId, t.id), check('ledger_amount_positive', sql`${t.amount} > 0`)],
);

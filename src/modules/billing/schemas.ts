import { Type, type Static } from 'typebox';
import { BigIntId, DateTime, describedRef, Money, named, Page } from '../../schemas.js';
import type { LedgerEntry } from './ledger.js';

export const Transaction = named(
  'Transaction',
  Type.Object(
    {
      id: BigIntId(),
      type: Type.Enum(['credit', 'charge', 'refund', 'fee']),
      amount: Money,
      balance_after: Money,
      reason: Type.String(),
      reference: Type.Union([Type.String(), Type.Null()]),
      created_at: DateTime,
    },
    {
      additionalProperties: false,
      description: 'One entry of the ledger',
      examples: [
        {
          id: 311,
          type: 'charge',
          amount: { amount: 1299, currency: 'EUR' },
          balance_after: { amount: 248701, currency: 'EUR' },
          reason: 'register example.com (1 year)',
          reference: 'domain:example.com',
          created_at: '2026-03-01T08:05:00.000Z',
        },
      ],
    },
  ),
);
export const TransactionList = Page(Transaction);

export const transactionView = (t: LedgerEntry): Static<typeof Transaction> => ({
  id: t.id,
  type: t.type,
  amount: { amount: t.amount, currency: t.currency },
  balance_after: { amount: t.balanceAfter, currency: t.currency },
  reason: t.reason,
  reference: t.reference,
  created_at: t.createdAt.toISOString(),
});

export const Balance = named(
  'Balance',
  Type.Object(
    {
      balance: Money,
      credit_limit: Money,
      available: describedRef(Money, 'balance + credit_limit: the most a charge may take'),
      low_balance_threshold: Type.Union([Money, Type.Null()], {
        description:
          'A balance falling below it emits billing.balance_low, once until it is back at or above it (null: off). Set with PATCH /v1/account.',
      }),
    },
    {
      additionalProperties: false,
      description: "The account's money: balance, credit limit, what is available and the low-balance threshold",
      examples: [
        {
          balance: { amount: 248701, currency: 'EUR' },
          credit_limit: { amount: 0, currency: 'EUR' },
          available: { amount: 248701, currency: 'EUR' },
          low_balance_threshold: { amount: 50000, currency: 'EUR' },
        },
      ],
    },
  ),
);

/** The account's money as the API shows it (GET /v1/billing/balance, billing.balance_low). */
export interface BalanceFacts {
  balance: number;
  creditLimit: number;
  currency: string;
  lowBalanceThreshold: number | null;
}

export const balanceView = (b: BalanceFacts): Static<typeof Balance> => ({
  balance: { amount: b.balance, currency: b.currency },
  credit_limit: { amount: b.creditLimit, currency: b.currency },
  available: { amount: b.balance + b.creditLimit, currency: b.currency },
  low_balance_threshold:
    b.lowBalanceThreshold === null ? null : { amount: b.lowBalanceThreshold, currency: b.currency },
});

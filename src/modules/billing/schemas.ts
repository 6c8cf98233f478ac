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

export const Balance = Type.Object(
  {
    balance: Money,
    credit_limit: Money,
    available: describedRef(Money, 'balance + credit_limit: the most a charge may take'),
  },
  { additionalProperties: false },
);

import { Type, type Static } from 'typebox';
import { BigIntId, DateTime, Money } from '../../schemas.js';
import type { LedgerEntry } from './ledger.js';

export const Transaction = Type.Object(
  {
    id: BigIntId(),
    type: Type.Enum(['credit', 'charge', 'refund', 'fee']),
    amount: Money,
    balance_after: Money,
    reason: Type.String(),
    reference: Type.Union([Type.String(), Type.Null()]),
    created_at: DateTime,
  },
  { additionalProperties: false },
);

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
    available: Type.Object(
      { ...Money.properties },
      { additionalProperties: false, description: 'balance + credit_limit: the most a charge may take' },
    ),
  },
  { additionalProperties: false },
);

// Billing's event types (group `billing`). Both are written by the ledger in the transaction (or
// the single statement) that moves the money, so a movement that rolls back leaves no event.
import { defineEventType } from '../events/api.js';
import { Balance, Transaction } from './schemas.js';

/** An operator added funds (POST /v1/admin/accounts/{id}/credit): the ledger entry, as the API shows it. */
export const CreditAdded = defineEventType({
  type: 'billing.credit_added',
  group: 'billing',
  objectType: 'transaction',
  summary: 'Funds were added to the account (an operator credit); data is the ledger entry',
  data: Transaction,
});

/**
 * A movement (charge, fee, refund or credit) took the balance below the account's
 * low_balance_threshold: once per fall. Another fall is reported after the balance has been back
 * at or above the threshold. Setting a threshold above the current balance reports it at once.
 */
export const BalanceLow = defineEventType({
  type: 'billing.balance_low',
  group: 'billing',
  objectType: 'account',
  summary:
    "The balance fell below the account's low-balance threshold (once per fall; data is GET /v1/billing/balance)",
  data: Balance,
});

export const BILLING_EVENT_TYPES = [CreditAdded, BalanceLow] as const;

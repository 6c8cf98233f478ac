// The account ledger. Every area charges through here (api.ts), inside its own transaction, so an
// order and its payment commit or roll back together, and so does any row written beside them (an
// outbox event). The account row is locked by the movement's UPDATE, so concurrent orders queue on
// it and can never overspend. The balance rule itself is SQL, in ledger-store.ts.
import { sql, type SQL } from 'drizzle-orm';
import { preparedStatement, raisedProblem, statementParams, type Db, type Tx } from '../../db/client.js';
import { defineError, NotFound } from '../../errors.js';
import {
  abortUnlessMoved,
  CHARGE_REFUSED,
  movementCtes,
  movementParams,
  postMovement,
  ruleVerdict,
  selectBalance,
  selectEntriesSince,
  selectForThreshold,
  selectTransactions,
  updateThreshold,
  type LedgerEntry,
  type LedgerType,
  type Money,
  type Movement,
  type RuleVerdict,
} from './ledger-store.js';
import { Type } from 'typebox';
import { Money as MoneySchema } from '../../schemas.js';
import { forgetFundsFailures } from '../../plugins/repeated-failure-guard.js';
import { emitEvent } from '../events/api.js';
import { BalanceLow, CreditAdded } from './events.js';
import { balanceView, transactionView } from './schemas.js';

export type { LedgerEntry, LedgerType, Money, Tx };

export const CurrencyMismatch = defineError(
  'currency_mismatch',
  422,
  "The amount's currency is not the account's currency",
);
export const InsufficientFunds = defineError(
  'insufficient_funds',
  402,
  'The balance and credit limit do not cover this charge',
  Type.Object({
    available: Type.Optional({ ...MoneySchema, description: 'Balance plus credit limit at the time of the charge' }),
    required: Type.Optional({ ...MoneySchema, description: 'What the charge needed' }),
  }),
);

/** What a caller says about a movement; the ledger decides which way it moves the balance. */
export interface Posting {
  accountId: string;
  money: Money;
  reason: string;
  /** What the money is for, e.g. `domain:example.com`; refunds and reports find entries by it. */
  reference?: string | null;
  /** The user who made the movement (an operator's credit). */
  createdBy?: string | null;
}

function assertAmount(m: Money, zeroAllowed: boolean): void {
  if (!Number.isSafeInteger(m.amount) || m.amount < 0 || (m.amount === 0 && !zeroAllowed))
    throw new Error('ledger amounts are positive integers in minor units');
}

/**
 * Why the balance rule refused `m`, from its verdict on the account as read after the refusal. A
 * verdict that now allows the movement (the balance moved meanwhile) gives null, unless `stands`:
 * a refusal already made stands, with the figures read now.
 */
function refusal(verdict: RuleVerdict | null, m: Movement, stands: boolean): Error | null {
  if (!verdict) return new NotFound('No such account');
  if (!verdict.currencyMatches)
    return new CurrencyMismatch(`The account is billed in ${verdict.currency}, not ${m.money.currency}`);
  if (verdict.debitCovered && !stands) return null;
  const available = verdict.balance + verdict.creditLimit;
  return new InsufficientFunds(
    verdict.debitCovered
      ? `The balance did not cover ${m.money.amount} ${m.money.currency} when the charge was made`
      : `Charging ${m.money.amount} ${m.money.currency} (minor units) needs ${m.money.amount - available} more than the ${available} available: the provider credits the account or raises its credit limit (GET /v1/billing/balance shows both)`,
    { extensions: { available: { amount: available, currency: verdict.currency }, required: m.money } },
  );
}

/** Moves money on the account within `tx`, under the balance rule. */
async function post(tx: Tx, m: Movement): Promise<LedgerEntry> {
  // The usual case in one round trip.
  const moved = await postMovement(tx, m);
  if (moved) return moved;
  // Refused, or no such account: the verdict, read under the row lock, says why. If the balance
  // moved in between and now covers it, the lock holds it so for the second attempt.
  const verdict = await ruleVerdict(tx, m);
  const refused = refusal(verdict, m, false);
  if (refused) throw refused;
  const retried = await postMovement(tx, m);
  if (retried) return retried;
  // Standing (`true`), the verdict always gives a refusal.
  throw refusal(verdict, m, true)!;
}

/**
 * Charges the account (a debit) in the caller's transaction: insufficient_funds (402, with
 * `available` and `required`) past the credit limit, currency_mismatch for another currency. An
 * amount of 0 (an operator may price an operation at 0) writes no entry and answers null.
 * `kind: 'fee'` books it as a fee (a fair-use handling fee) rather than a charge for an order.
 */
export async function charge(tx: Tx, c: Posting & { kind?: 'charge' | 'fee' }): Promise<LedgerEntry | null> {
  assertAmount(c.money, true);
  if (c.money.amount === 0) return null;
  const { kind, ...posting } = c;
  return post(tx, { ...posting, type: kind ?? 'charge' });
}

/** Gives money back (a credit for a charge undone) in the caller's transaction. An amount of 0 writes nothing. */
export async function refund(tx: Tx, r: Posting): Promise<LedgerEntry | null> {
  assertAmount(r.money, true);
  if (r.money.amount === 0) return null;
  const entry = await post(tx, { ...r, type: 'refund' });
  // R-API-2: money came back, as with a credit: a command refused for want of funds is new again.
  await forgetFundsFailures(tx, r.accountId);
  return entry;
}

/**
 * Adds funds (an operator's credit) in the caller's transaction, and writes billing.credit_added
 * there (the entry as the API shows it). The amount is positive.
 */
export async function credit(tx: Tx, c: Posting): Promise<LedgerEntry> {
  assertAmount(c.money, false);
  // Its own transaction when given the database, a savepoint in the caller's: the entry and its event are one.
  return tx.transaction(async (sp) => {
    const entry = await post(sp, { ...c, type: 'credit' });
    await emitEvent(sp, CreditAdded, {
      accountId: entry.accountId,
      objectId: String(entry.id),
      data: transactionView(entry),
    });
    return entry;
  });
}

/**
 * Sets (or with null, switches off) the account's low-balance threshold in the caller's
 * transaction: money in the account's currency (currency_mismatch otherwise). The ledger keeps
 * low_balance_notified equal to "the balance is below the threshold" (ledger-store.ts
 * movementCtes), so a threshold set above the current balance is a fall in itself: it writes
 * billing.balance_low now, unless one was already written for the balance as it is.
 */
export async function setLowBalanceThreshold(
  tx: Tx,
  accountId: string,
  threshold: Money | null,
  at: Date = new Date(),
): Promise<void> {
  const row = await selectForThreshold(tx, accountId);
  if (!row) throw new NotFound('No such account');
  if (threshold) {
    assertAmount(threshold, true);
    if (threshold.currency !== row.currency)
      throw new CurrencyMismatch(`The account is billed in ${row.currency}, not ${threshold.currency}`);
  }
  const lowBalanceThreshold = threshold?.amount ?? null;
  const below = lowBalanceThreshold !== null && row.balance < lowBalanceThreshold;
  await updateThreshold(tx, accountId, { lowBalanceThreshold, lowBalanceNotified: below, at });
  if (below && !row.lowBalanceNotified)
    await emitEvent(tx, BalanceLow, {
      accountId,
      objectId: accountId,
      data: balanceView({ ...row, lowBalanceThreshold }),
    });
}

export interface Balance {
  balance: number;
  creditLimit: number;
  /** What a charge may take: balance plus credit limit. */
  available: number;
  currency: string;
  /** Minor units of the currency; null: no low-balance notice. */
  lowBalanceThreshold: number | null;
}

export async function getBalance(tx: Tx, accountId: string): Promise<Balance> {
  const row = await selectBalance(tx, accountId);
  if (!row) throw new NotFound('No such account');
  return { ...row, available: row.balance + row.creditLimit };
}

export function listTransactions(
  tx: Tx,
  accountId: string,
  opts: { limit: number; before?: number; type?: LedgerType },
): Promise<LedgerEntry[]> {
  return selectTransactions(tx, accountId, opts);
}

/** What was charged with `reference` since `since` (e.g. a domain's registration and renewals); undefined for nothing. */
export async function chargedSince(
  tx: Tx,
  q: { accountId: string; reference: string; since: Date },
): Promise<Money | undefined> {
  const rows = await selectEntriesSince(tx, { ...q, type: 'charge' });
  if (rows.length === 0) return undefined;
  return { amount: rows.reduce((sum, r) => sum + r.amount, 0), currency: rows[0]!.currency };
}

/**
 * A prepared statement that makes the caller's writes and a charge at once: atomic with no BEGIN
 * and COMMIT, one round trip (the registration's fast path). The caller gives its own CTEs
 * (`with`), the condition on them under which the charge is made (`when`), and its result
 * (`select` ... `from`). The charge follows the same balance rule as charge(): when `when` holds but
 * the rule refuses, the whole statement is undone and the refusal thrown (insufficient_funds with
 * its extras, currency_mismatch). The caller's placeholder names must not start with `ledger_`.
 */
export interface StatementWithCharge<R> {
  /** Alone, outside any transaction: one statement. */
  alone(db: Db, params: Record<string, unknown>, charge: Posting & { at?: Date }): Promise<R[]>;
  /** Inside the caller's transaction, in a savepoint, so that a refusal leaves the transaction usable to explain it. */
  within(tx: Tx, params: Record<string, unknown>, charge: Posting & { at?: Date }): Promise<R[]>;
}

export function statementWithCharge<R extends Record<string, unknown>>(
  name: string,
  parts: { with: SQL; when: SQL; select: SQL; from: SQL },
): StatementWithCharge<R> {
  const statement = preparedStatement<R>(
    name,
    sql`with ${parts.with}, ${movementCtes(parts.when)}
      select ${parts.select}, ${abortUnlessMoved} as ledger_refused from ${parts.from}`,
  );
  const attempt = (db: Tx, params: Record<string, unknown>, m: Movement) =>
    statement(db, statementParams(params, movementParams(m)));
  const movement = (c: Posting & { at?: Date }): Movement => {
    assertAmount(c.money, true);
    return { ...c, type: 'charge' };
  };
  // A refused charge aborted the statement; the verdict, read after it, says why.
  const explained = async (err: unknown, readWith: Tx, m: Movement): Promise<unknown> =>
    raisedProblem(err) === CHARGE_REFUSED ? refusal(await ruleVerdict(readWith, m), m, true) : err;
  return {
    alone: async (db, params, c) => {
      const m = movement(c);
      try {
        return await attempt(db, params, m);
      } catch (err) {
        throw await explained(err, db, m);
      }
    },
    within: async (tx, params, c) => {
      const m = movement(c);
      try {
        return await tx.transaction((sp) => attempt(sp, params, m));
      } catch (err) {
        throw await explained(err, tx, m);
      }
    },
  };
}

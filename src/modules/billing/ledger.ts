// The account ledger. Every later module charges through here, inside its own transaction, so an
// order and its payment commit or roll back together. The account row is locked (FOR UPDATE) for
// the charge, so concurrent orders queue on it and can never overspend.
import { and, desc, eq, lt, sql, type SQL } from 'drizzle-orm';
import { preparedStatement, raisedProblem, type Db, type Tx } from '../../db/client.js';
import { accounts, ledgerTransactions } from '../../db/schema/index.js';
import { Type } from 'typebox';
import { defineError, NotFound } from '../../errors.js';
import { Money as MoneySchema } from '../../schemas.js';
import { CurrencyMismatch } from '../accounts/errors.js';

export const InsufficientFunds = defineError(
  'insufficient_funds',
  402,
  'The balance and credit limit do not cover this charge',
  Type.Object({
    available: Type.Optional({ ...MoneySchema, description: 'Balance plus credit limit at the time of the charge' }),
    required: Type.Optional({ ...MoneySchema, description: 'What the charge needed' }),
  }),
);

export type LedgerType = 'credit' | 'charge' | 'refund' | 'fee';
export type { Tx };

export interface Money {
  amount: number;
  currency: string;
}

export interface LedgerEntry {
  id: number;
  accountId: string;
  type: LedgerType;
  amount: number;
  currency: string;
  balanceAfter: number;
  reason: string;
  reference: string | null;
  createdAt: Date;
}

export interface Movement {
  accountId: string;
  type: LedgerType;
  money: Money;
  reason: string;
  reference?: string | null;
  createdBy?: string | null;
}

/** postLedgerEntry, or no entry at all for an amount of 0 (an operator may price a TLD operation at 0). */
export async function postUnlessFree(tx: Tx, m: Movement): Promise<LedgerEntry | null> {
  return m.money.amount === 0 ? null : postLedgerEntry(tx, m);
}

const p = sql.placeholder;

/**
 * A movement as two CTEs over placeholders (fill them with ledgerParams): `ledger_moved` moves the
 * balance only if the currency matches and, for a debit, the credit limit holds (the UPDATE locks
 * the row and re-checks the condition on its latest version, as SELECT ... FOR UPDATE would), and
 * `ledger_entry` writes the entry from the balance it left. `when` gates the movement on the rest
 * of the statement, so an order and its payment can be one statement. An amount of 0 moves
 * nothing and writes no entry (as postUnlessFree).
 */
export function ledgerCtes(when: SQL = sql`true`): SQL {
  return sql`ledger_moved as (
      update accounts set balance = balance + ${p('ledger_delta')}::bigint, updated_at = ${p('ledger_at')}::timestamptz
      where ${p('ledger_amount')}::bigint > 0 and id = ${p('ledger_account')}::uuid and currency = ${p('ledger_currency')}::text
        and (not ${p('ledger_debit')}::boolean or balance + ${p('ledger_delta')}::bigint >= -credit_limit) and ${when}
      returning balance),
    ledger_entry as (
      insert into ledger_transactions (account_id, type, amount, currency, balance_after, reason, reference, created_by)
      select ${p('ledger_account')}::uuid, ${p('ledger_type')}::ledger_type, ${p('ledger_amount')}::bigint, ${p('ledger_currency')}::text, balance,
        ${p('ledger_reason')}::text, ${p('ledger_reference')}::text, ${p('ledger_created_by')}::uuid
      from ledger_moved
      returning id, balance_after, extract(epoch from created_at)::float8 * 1000 as created_ms)`;
}

const CHARGE_REFUSED = 'charge_refused';

/**
 * For the select of a statement built with ledgerCtes: aborts the whole statement (so nothing it
 * wrote stays) when a non-zero movement did not happen. chargeRefusal() turns the error into the
 * reason.
 */
export const abortUnlessMoved = sql`case when ${p('ledger_amount')}::bigint > 0 and not exists (select 1 from ledger_entry) then raise_problem(${CHARGE_REFUSED}) end`;

/**
 * When `err` is abortUnlessMoved's, the reason the movement was refused, read now (insufficient_funds,
 * currency_mismatch, no such account); otherwise null.
 */
export async function chargeRefusal(db: Tx, err: unknown, m: Movement): Promise<Error | null> {
  if (raisedProblem(err) !== CHARGE_REFUSED) return null;
  const [account] = await db
    .select({ balance: accounts.balance, creditLimit: accounts.creditLimit, currency: accounts.currency })
    .from(accounts)
    .where(eq(accounts.id, m.accountId));
  // The balance may have moved since; the refusal stands.
  return (
    refusalOf(account, m) ??
    new InsufficientFunds(`The balance did not cover ${m.money.amount} ${m.money.currency} when the charge was made`)
  );
}

const isDebit = (type: LedgerType) => type === 'charge' || type === 'fee';

/** The placeholder values of ledgerCtes for one movement. */
export function ledgerParams(m: Movement, now = new Date()): Record<string, unknown> {
  return {
    ledger_delta: isDebit(m.type) ? -m.money.amount : m.money.amount,
    ledger_at: now.toISOString(),
    ledger_account: m.accountId,
    ledger_currency: m.money.currency,
    ledger_debit: isDebit(m.type),
    ledger_type: m.type,
    ledger_amount: m.money.amount,
    ledger_reason: m.reason,
    ledger_reference: m.reference ?? null,
    ledger_created_by: m.createdBy ?? null,
  };
}

/** Why `m` cannot be posted against `account` (as read now), or null if it can. */
export function refusalOf(
  account: { balance: number; creditLimit: number; currency: string } | undefined,
  m: Movement,
): Error | null {
  if (!account) return new NotFound('No such account');
  if (account.currency !== m.money.currency)
    return new CurrencyMismatch(`The account is billed in ${account.currency}, not ${m.money.currency}`);
  if (isDebit(m.type) && account.balance - m.money.amount < -account.creditLimit) {
    return new InsufficientFunds(
      `Charging ${m.money.amount} ${m.money.currency} needs ${m.money.amount - account.balance - account.creditLimit} more than is available`,
      {
        extensions: {
          available: { amount: account.balance + account.creditLimit, currency: account.currency },
          required: m.money,
        },
      },
    );
  }
  return null;
}

const postEntry = preparedStatement<{
  id: string | number;
  balance_after: string | number;
  created_ms: string | number;
}>('ledger_post', sql`with ${ledgerCtes()} select id, balance_after, created_ms from ledger_entry`);

/** Moves money on the account within `tx`. Charges and fees fail with insufficient_funds past the credit limit. */
export async function postLedgerEntry(tx: Tx, m: Movement): Promise<LedgerEntry> {
  if (!Number.isSafeInteger(m.money.amount) || m.money.amount <= 0)
    throw new Error('ledger amounts are positive integers in minor units');
  // The usual case in one round trip.
  const [moved] = await postEntry(tx, ledgerParams(m));
  if (moved) {
    return {
      id: Number(moved.id),
      accountId: m.accountId,
      type: m.type,
      amount: m.money.amount,
      currency: m.money.currency,
      balanceAfter: Number(moved.balance_after),
      reason: m.reason,
      reference: m.reference ?? null,
      createdAt: new Date(Math.round(Number(moved.created_ms))),
    };
  }
  // Refused, or no such account: the original steps, under the row lock, say exactly why.
  const [account] = await tx
    .select({ balance: accounts.balance, creditLimit: accounts.creditLimit, currency: accounts.currency })
    .from(accounts)
    .where(eq(accounts.id, m.accountId))
    .for('update');
  const refused = refusalOf(account, m);
  if (refused) throw refused;
  const balanceAfter = isDebit(m.type) ? account!.balance - m.money.amount : account!.balance + m.money.amount;
  await tx.update(accounts).set({ balance: balanceAfter, updatedAt: new Date() }).where(eq(accounts.id, m.accountId));
  const [row] = await tx
    .insert(ledgerTransactions)
    .values({
      accountId: m.accountId,
      type: m.type,
      amount: m.money.amount,
      currency: m.money.currency,
      balanceAfter,
      reason: m.reason,
      reference: m.reference ?? null,
      createdBy: m.createdBy ?? null,
    })
    .returning();
  return row as LedgerEntry;
}

/** A charge in its own transaction, for callers with nothing else to commit alongside. */
export function chargeAccount(db: Db, m: Omit<Movement, 'type'> & { type?: 'charge' | 'fee' }): Promise<LedgerEntry> {
  return db.transaction((tx) => postLedgerEntry(tx, { ...m, type: m.type ?? 'charge' }));
}

export async function getBalance(db: Db, accountId: string) {
  const [row] = await db
    .select({ balance: accounts.balance, creditLimit: accounts.creditLimit, currency: accounts.currency })
    .from(accounts)
    .where(eq(accounts.id, accountId));
  if (!row) throw new NotFound('No such account');
  return row;
}

export async function listTransactions(
  db: Db,
  accountId: string,
  opts: { limit: number; before?: number; type?: LedgerType },
): Promise<LedgerEntry[]> {
  return (await db
    .select()
    .from(ledgerTransactions)
    .where(
      and(
        eq(ledgerTransactions.accountId, accountId),
        opts.before !== undefined ? lt(ledgerTransactions.id, opts.before) : undefined,
        opts.type ? eq(ledgerTransactions.type, opts.type) : undefined,
      ),
    )
    .orderBy(desc(ledgerTransactions.id))
    .limit(opts.limit)) as LedgerEntry[];
}

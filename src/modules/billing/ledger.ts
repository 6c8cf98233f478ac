// The account ledger. Every later module charges through here, inside its own transaction, so an
// order and its payment commit or roll back together. The account row is locked (FOR UPDATE) for
// the charge, so concurrent orders queue on it and can never overspend.
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { accounts, ledgerTransactions } from '../../db/schema/index.js';
import { defineError, NotFound } from '../../errors.js';
import { CurrencyMismatch } from '../accounts/errors.js';

export const InsufficientFunds = defineError('insufficient_funds', 402, 'The balance and credit limit do not cover this charge');

export type LedgerType = 'credit' | 'charge' | 'refund' | 'fee';
/** Any Drizzle handle: the app's db or a transaction's tx. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0] | Db;

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

interface Movement {
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

/** Moves money on the account within `tx`. Charges and fees fail with insufficient_funds past the credit limit. */
export async function postLedgerEntry(tx: Tx, m: Movement): Promise<LedgerEntry> {
  if (!Number.isSafeInteger(m.money.amount) || m.money.amount <= 0) throw new Error('ledger amounts are positive integers in minor units');
  // The usual case in one round trip: the balance moves only if the currency matches and the credit
  // limit holds (the UPDATE locks the row and re-checks the condition on its latest version, as the
  // SELECT ... FOR UPDATE below does), and the entry is written from the balance it left.
  const debit = m.type === 'charge' || m.type === 'fee';
  const delta = debit ? -m.money.amount : m.money.amount;
  const now = new Date();
  const { rows } = (await tx.execute(sql`
    with moved as (
      update accounts set balance = balance + ${delta}, updated_at = ${now.toISOString()}::timestamptz
      where id = ${m.accountId}::uuid and currency = ${m.money.currency}::text and (${!debit}::boolean or balance + ${delta} >= -credit_limit)
      returning balance
    )
    insert into ledger_transactions (account_id, type, amount, currency, balance_after, reason, reference, created_by)
    select ${m.accountId}::uuid, ${m.type}::ledger_type, ${m.money.amount}::bigint, ${m.money.currency}::text, balance, ${m.reason}::text, ${m.reference ?? null}::text, ${m.createdBy ?? null}::uuid from moved
    returning id, balance_after, extract(epoch from created_at)::float8 * 1000 as created_ms`)) as unknown as { rows: { id: string | number; balance_after: string | number; created_ms: string | number }[] };
  const moved = rows[0];
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
  if (!account) throw new NotFound('No such account');
  if (account.currency !== m.money.currency) {
    throw new CurrencyMismatch(`The account is billed in ${account.currency}, not ${m.money.currency}`);
  }
  const balanceAfter = debit ? account.balance - m.money.amount : account.balance + m.money.amount;
  if (debit && balanceAfter < -account.creditLimit) {
    throw new InsufficientFunds(
      `Charging ${m.money.amount} ${m.money.currency} needs ${m.money.amount - account.balance - account.creditLimit} more than is available`,
      { extensions: { available: { amount: account.balance + account.creditLimit, currency: account.currency }, required: m.money } },
    );
  }
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

export async function listTransactions(db: Db, accountId: string, opts: { limit: number; before?: number; type?: LedgerType }): Promise<LedgerEntry[]> {
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


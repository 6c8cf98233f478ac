// The ledger's SQL: the balance rule as one SQL condition, the movement that applies it (an UPDATE of
// the account and the entry it leaves, as CTEs), what explains a refusal, and the reads. Only
// billing sees the placeholders below; other areas go through api.ts.
import { and, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import { preparedStatement, type Tx } from '../../db/client.js';
import { accounts, ledgerTransactions } from '../../db/schema/index.js';
import { BalanceLow } from './events.js';

export type LedgerType = 'credit' | 'charge' | 'refund' | 'fee';

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

/** One movement of money on one account: what every charge, refund, fee and credit is. */
export interface Movement {
  accountId: string;
  type: LedgerType;
  money: Money;
  reason: string;
  reference?: string | null;
  createdBy?: string | null;
  /** The account's updated_at; now when absent. */
  at?: Date;
}

export const isDebit = (type: LedgerType): boolean => type === 'charge' || type === 'fee';

const p = sql.placeholder;

// The balance rule, in one place: a movement needs the account's currency, and a debit needs the
// balance plus the credit limit to cover it. The movement's UPDATE and the explanation of a refusal
// both use these two conditions, so what is refused and why can never disagree.
const currencyMatches = sql`accounts.currency = ${p('ledger_currency')}::text`;
const debitCovered = sql`(not ${p('ledger_debit')}::boolean or accounts.balance - ${p('ledger_amount')}::bigint >= -accounts.credit_limit)`;

/**
 * A movement as CTEs: `ledger_moved` moves the balance only under the balance rule (the UPDATE
 * locks the row and re-checks the condition on its latest version, as SELECT ... FOR UPDATE would),
 * and `ledger_entry` writes the entry from the balance it left. `when` gates the movement on the
 * rest of the statement, so an order and its payment can be one statement. An amount of 0 moves
 * nothing and writes no entry.
 *
 * The low-balance threshold rides on the same UPDATE: `low_balance_notified` is kept equal to
 * "the balance is below the threshold" (setLowBalanceThreshold keeps it so when the threshold
 * changes), so a movement that takes the balance from at-or-above the threshold to below it is the
 * one whose notified flag goes from false to true, and it alone writes billing.balance_low
 * (`ledger_low_*`, two inserts that find no row in the usual case: no threshold, or no crossing).
 * Everything is computed from the row version the UPDATE locked, so concurrent movements queue on
 * the row and exactly one of them reports a fall.
 */
export function movementCtes(when: SQL = sql`true`): SQL {
  return sql`ledger_moved as (
      update accounts set balance = balance + ${p('ledger_delta')}::bigint, updated_at = ${p('ledger_at')}::timestamptz,
        low_balance_notified = coalesce(balance + ${p('ledger_delta')}::bigint < low_balance_threshold, false)
      where ${p('ledger_amount')}::bigint > 0 and id = ${p('ledger_account')}::uuid and ${currencyMatches} and ${debitCovered} and ${when}
      returning balance, credit_limit, currency, low_balance_threshold,
        coalesce(balance < low_balance_threshold and balance - ${p('ledger_delta')}::bigint >= low_balance_threshold, false) as ledger_fell),
    ledger_entry as (
      insert into ledger_transactions (account_id, type, amount, currency, balance_after, reason, reference, created_by)
      select ${p('ledger_account')}::uuid, ${p('ledger_type')}::ledger_type, ${p('ledger_amount')}::bigint, ${p('ledger_currency')}::text, balance,
        ${p('ledger_reason')}::text, ${p('ledger_reference')}::text, ${p('ledger_created_by')}::uuid
      from ledger_moved
      returning id, balance_after, extract(epoch from created_at)::float8 * 1000 as created_ms),
    ${balanceLowEventCtes}`;
}

// billing.balance_low as CTEs on `ledger_moved` (the shape of events/store.ts insertEventSql):
// the account's next event sequence number, then the event (queued for the fan-out), whose data is
// balanceView (schemas.ts) written in SQL. test/modules/billing/billing-events.test.ts holds it equal to GET /v1/billing/balance.
const money = (amount: SQL) => sql`json_build_object('amount', ${amount}, 'currency', m.currency)`;
const balanceLowEventCtes = sql`ledger_low_sequence as (
      insert into event_sequences (object_id, sequence)
      select ${sql.raw(`'${BalanceLow.objectType}:'`)} || ${p('ledger_account')}::text, 1 from ledger_moved where ledger_fell
      on conflict (object_id) do update set sequence = event_sequences.sequence + 1
      returning sequence),
    ledger_low_event as (
      insert into events (type, account_id, object_type, object_id, object_sequence, data)
      select ${sql.raw(`'${BalanceLow.type}'`)}, ${p('ledger_account')}::uuid, ${sql.raw(`'${BalanceLow.objectType}'`)}, ${p('ledger_account')}::text, s.sequence,
        json_build_object(
          'balance', ${money(sql`m.balance`)},
          'credit_limit', ${money(sql`m.credit_limit`)},
          'available', ${money(sql`m.balance + m.credit_limit`)},
          'low_balance_threshold', ${money(sql`m.low_balance_threshold`)})
      from ledger_low_sequence s, ledger_moved m
      returning id, position),
    ledger_low_outbox as (
      insert into event_outbox (position, event_id) select position, id from ledger_low_event)`;

export const CHARGE_REFUSED = 'charge_refused';

/**
 * For the select of a statement built with movementCtes: aborts the whole statement (so nothing it
 * wrote stays) when a non-zero movement did not happen.
 */
export const abortUnlessMoved = sql`case when ${p('ledger_amount')}::bigint > 0 and not exists (select 1 from ledger_entry) then raise_problem(${CHARGE_REFUSED}) end`;

/** The placeholder values of movementCtes (and of the explanation) for one movement. */
export function movementParams(m: Movement): Record<string, unknown> {
  const debit = isDebit(m.type);
  return {
    ledger_delta: debit ? -m.money.amount : m.money.amount,
    ledger_at: (m.at ?? new Date()).toISOString(),
    ledger_account: m.accountId,
    ledger_currency: m.money.currency,
    ledger_debit: debit,
    ledger_type: m.type,
    ledger_amount: m.money.amount,
    ledger_reason: m.reason,
    ledger_reference: m.reference ?? null,
    ledger_created_by: m.createdBy ?? null,
  };
}

const postStatement = preparedStatement<{
  id: string | number;
  balance_after: string | number;
  created_ms: string | number;
}>('ledger_post', sql`with ${movementCtes()} select id, balance_after, created_ms from ledger_entry`);

/** Posts the movement in one statement; null when the balance rule (or a missing account) refused it. */
export async function postMovement(tx: Tx, m: Movement): Promise<LedgerEntry | null> {
  const [moved] = await postStatement(tx, movementParams(m));
  if (!moved) return null;
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

/** The account as the balance rule sees it for one movement, read under the row lock. */
export interface RuleVerdict {
  balance: number;
  creditLimit: number;
  currency: string;
  currencyMatches: boolean;
  debitCovered: boolean;
}

const verdictStatement = preparedStatement<{
  balance: string | number;
  credit_limit: string | number;
  currency: string;
  currency_matches: boolean;
  debit_covered: boolean;
}>(
  'ledger_verdict',
  sql`select balance, credit_limit, currency, ${currencyMatches} as currency_matches, ${debitCovered} as debit_covered
    from accounts where id = ${p('ledger_account')}::uuid for update`,
);

/** The balance rule's verdict on `m` against the account as it is now (null: no such account). */
export async function ruleVerdict(tx: Tx, m: Movement): Promise<RuleVerdict | null> {
  const [row] = await verdictStatement(tx, movementParams(m));
  if (!row) return null;
  return {
    balance: Number(row.balance),
    creditLimit: Number(row.credit_limit),
    currency: row.currency,
    currencyMatches: row.currency_matches,
    debitCovered: row.debit_covered,
  };
}

export async function selectBalance(
  db: Tx,
  accountId: string,
): Promise<{ balance: number; creditLimit: number; currency: string; lowBalanceThreshold: number | null } | undefined> {
  const [row] = await db
    .select({
      balance: accounts.balance,
      creditLimit: accounts.creditLimit,
      currency: accounts.currency,
      lowBalanceThreshold: accounts.lowBalanceThreshold,
    })
    .from(accounts)
    .where(eq(accounts.id, accountId));
  return row;
}

export async function selectTransactions(
  db: Tx,
  accountId: string,
  opts: { limit: number; before?: number; type?: LedgerType },
): Promise<LedgerEntry[]> {
  return await db
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
    .limit(opts.limit);
}

/** The entries of `type` with `reference` on the account since `since` (a domain's charges since its registration). */
export async function selectEntriesSince(
  db: Tx,
  q: { accountId: string; reference: string; type: LedgerType; since: Date },
): Promise<Money[]> {
  return db
    .select({ amount: ledgerTransactions.amount, currency: ledgerTransactions.currency })
    .from(ledgerTransactions)
    .where(
      and(
        eq(ledgerTransactions.accountId, q.accountId),
        eq(ledgerTransactions.reference, q.reference),
        eq(ledgerTransactions.type, q.type),
        gte(ledgerTransactions.createdAt, q.since),
      ),
    );
}

/** The account's money and its threshold state, locked for a change of the threshold. */
export async function selectForThreshold(tx: Tx, accountId: string) {
  const [row] = await tx
    .select({
      balance: accounts.balance,
      creditLimit: accounts.creditLimit,
      currency: accounts.currency,
      lowBalanceThreshold: accounts.lowBalanceThreshold,
      lowBalanceNotified: accounts.lowBalanceNotified,
    })
    .from(accounts)
    .where(eq(accounts.id, accountId))
    .for('update');
  return row;
}

export async function updateThreshold(
  tx: Tx,
  accountId: string,
  s: { lowBalanceThreshold: number | null; lowBalanceNotified: boolean; at: Date },
): Promise<void> {
  await tx
    .update(accounts)
    .set({ lowBalanceThreshold: s.lowBalanceThreshold, lowBalanceNotified: s.lowBalanceNotified, updatedAt: s.at })
    .where(eq(accounts.id, accountId));
}

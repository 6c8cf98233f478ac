// What billing offers the other areas: the ledger. charge, refund and credit run in the caller's
// transaction (pass your `tx`), so whatever else the caller writes there (the order, an outbox
// event) commits or rolls back with the money. The balance rule (the account's currency; a debit
// needs balance + credit limit to cover it, else insufficient_funds 402 with `available` and
// `required`) is the ledger's alone. statementWithCharge is for a hot path that must be a single
// statement (registrations): the caller's CTEs and a charge under the same rule; anything else
// uses charge().
export {
  charge,
  chargedSince,
  credit,
  CurrencyMismatch,
  getBalance,
  InsufficientFunds,
  refund,
  setLowBalanceThreshold,
  statementWithCharge,
  type Balance,
  type LedgerEntry,
  type Money,
  type Posting,
  type StatementWithCharge,
  type Tx,
} from './ledger.js';
export { AlreadyRenewed, assertMaxPrice, honourQuote, PriceChanged, QuoteExpired } from './price-ceilings.js';
// The ledger entry as the API shows it, for routes of other areas that answer one (an operator's credit).
export { Transaction, transactionView } from './schemas.js';

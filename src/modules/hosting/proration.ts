// R-ADD-2: an add-on bought mid-term is charged pro rata for the rest of the package's term.
//
//   amount = round_half_up( monthly_price × months × seconds_remaining ÷ term_seconds )
//
// where term_seconds is the length of the package's term in whole seconds (term_end − term_start,
// floored) and seconds_remaining is term_end − at in whole seconds, a partial second rounded up
// (a purchase 0.4 s before the end still pays for 1 second), clamped to [0, term_seconds]: a
// purchase at or after the end pays nothing, one before the start pays the whole term.
//
// - Per second, as Stripe prorates, not per day as WHMCS does: the term is months long and months
//   differ (28 to 31 days, a 12-month term has 365 or 366), so the share is time left over term
//   length in one unit, with no "days in a month" convention and no jump at midnight.
// - Prices are integers in minor units (kopecks), so the result is rounded once, half up, to an
//   integer minor unit. The product is computed exactly with BigInt (no floating point, no rounding
//   of intermediate shares), so the same inputs give the same amount everywhere.
// - The inputs are returned with the amount (term bounds, both second counts, months, price), so a
//   client can recompute and check it: floor((2 × price × months × remaining + term) ÷ (2 × term)).
import { addMonths } from '../../lib/months.js';

export interface Proration {
  /** ISO 8601, UTC (Z). */
  term_start: string;
  /** ISO 8601, UTC (Z). */
  term_end: string;
  term_seconds: number;
  seconds_remaining: number;
  months: number;
  /** Minor units. */
  monthly_price: number;
  /** Minor units: monthly_price × months × seconds_remaining ÷ term_seconds, rounded half up. */
  amount: number;
}

function assertDate(d: Date, name: string): bigint {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new Error(`${name} is not a valid date`);
  return BigInt(ms);
}

function assertMonths(months: number): void {
  if (!Number.isSafeInteger(months) || months <= 0) throw new Error(`months must be a positive integer, got ${months}`);
}

/** The end of a term of `months` months from `start`, the day clamped to the month (31 Jan + 1 = end of Feb). */
export function termEnd(start: Date, months: number): Date {
  assertDate(start, 'start');
  assertMonths(months);
  return addMonths(start, months);
}

export function prorate(input: {
  monthlyPrice: number;
  months: number;
  termStart: Date;
  termEnd: Date;
  at: Date;
}): Proration {
  const { monthlyPrice, months } = input;
  if (!Number.isSafeInteger(monthlyPrice) || monthlyPrice < 0)
    throw new Error(`monthlyPrice must be a non-negative safe integer (minor units), got ${monthlyPrice}`);
  assertMonths(months);
  const startMs = assertDate(input.termStart, 'termStart');
  const endMs = assertDate(input.termEnd, 'termEnd');
  const atMs = assertDate(input.at, 'at');
  if (endMs <= startMs) throw new Error('termEnd must be after termStart');

  const full = BigInt(monthlyPrice) * BigInt(months);
  // The amount never exceeds the full price; keep it a safe integer so it survives as a number.
  if (full > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('monthlyPrice × months exceeds a safe integer');

  const termSeconds = (endMs - startMs) / 1000n; // BigInt division truncates: floor for positives
  if (termSeconds === 0n) throw new Error('the term must be at least one second long');

  const from = atMs < startMs ? startMs : atMs;
  const leftMs = endMs - from;
  let remaining = leftMs <= 0n ? 0n : (leftMs + 999n) / 1000n; // a partial second counts in full
  if (remaining > termSeconds) remaining = termSeconds;

  // Half up, once: floor((2n + d) / 2d) for n = full × remaining, d = termSeconds (n, d ≥ 0).
  const numerator = full * remaining;
  const amount = (2n * numerator + termSeconds) / (2n * termSeconds);

  return {
    term_start: input.termStart.toISOString(),
    term_end: input.termEnd.toISOString(),
    term_seconds: Number(termSeconds),
    seconds_remaining: Number(remaining),
    months,
    monthly_price: monthlyPrice,
    amount: Number(amount),
  };
}

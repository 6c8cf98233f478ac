// Billing periods of a license: from its anchor in steps of its term (1 or 12 months), each boundary
// counted from the anchor itself (so 31 January + 1 month is the last day of February, and + 2
// months is 31 March again), in UTC.
import { addMonths } from '../../lib/months.js';
export const DAY = 86_400_000;
export { addMonths };

export interface Period {
  /** 0 for the first period. */
  index: number;
  start: Date;
  end: Date;
}

/** The billing period that holds `at` (the first one for a time before the anchor). */
export function periodAt(anchor: Date, termMonths: number, at: Date): Period {
  if (at <= anchor) return { index: 0, start: anchor, end: addMonths(anchor, termMonths) };
  const months = (at.getUTCFullYear() - anchor.getUTCFullYear()) * 12 + (at.getUTCMonth() - anchor.getUTCMonth());
  let index = Math.max(0, Math.floor(months / termMonths) - 1);
  while (addMonths(anchor, (index + 1) * termMonths) <= at) index++;
  return { index, start: addMonths(anchor, index * termMonths), end: addMonths(anchor, (index + 1) * termMonths) };
}

// A subscription's terms: term k runs [anchor + k×months, anchor + (k+1)×months), each boundary
// counted from the anchor (31 January + 1 month is 28 or 29 February, + 2 months is 31 March again).
// A renewal before the running term ends pays the next term ahead; that term begins when the running
// one ends, whether or not the renewal job has rolled the stored term forward yet.
import { addMonths } from '../../lib/months.js';

export interface TermFields {
  termAnchor: Date;
  termIndex: number;
  termMonths: number;
  paidTermsAhead: number;
}

export interface Term {
  index: number;
  start: Date;
  end: Date;
  /** Terms paid beyond this one. */
  ahead: number;
}

export const termBounds = (anchor: Date, index: number, months: number) => ({
  start: addMonths(anchor, index * months),
  end: addMonths(anchor, (index + 1) * months),
});

/** The term running at `at`: the stored one, or a term paid ahead that has begun. */
export function runningTerm(s: TermFields, at: Date): Term {
  let index = s.termIndex;
  let ahead = s.paidTermsAhead;
  let b = termBounds(s.termAnchor, index, s.termMonths);
  while (ahead > 0 && b.end <= at) {
    index++;
    ahead--;
    b = termBounds(s.termAnchor, index, s.termMonths);
  }
  return { index, start: b.start, end: b.end, ahead };
}

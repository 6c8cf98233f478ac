// The ceilings a caller puts on what an order may charge, shared by every area that sells: max_price
// (409 price_changed above it), a quote (a quoted price holds while the quote does; a lower
// current price wins), and one term paid ahead at most (409 already_renewed).
import { Type } from 'typebox';
import { defineError } from '../../errors.js';
import { Money as MoneySchema } from '../../schemas.js';
import type { Money } from './ledger.js';

export const PriceChanged = defineError(
  'price_changed',
  409,
  'The price is above max_price',
  Type.Object({ price: MoneySchema, max_price: MoneySchema }),
);

export const QuoteExpired = defineError('quote_expired', 409, 'The quote expired or is for another order');

/**
 * A renewal is paid one term ahead at most: a second renewal (a retry sent without an
 * Idempotency-Key, a double click) would charge a term nobody meant to buy.
 */
export const AlreadyRenewed = defineError(
  'already_renewed',
  409,
  'The next term is paid already: renew again once it has begun',
);

/** A quoted price is a ceiling: if the price fell since the quote, the lower one is charged. */
export const honourQuote = (current: number | undefined, quoted: number): number =>
  current === undefined ? quoted : Math.min(current, quoted);

/** price_changed (409, with `price` and `max_price`) when `total` is above the caller's max_price. */
export function assertMaxPrice(total: Money, maxPrice: Money | undefined, what = 'This'): void {
  if (maxPrice && (maxPrice.currency !== total.currency || total.amount > maxPrice.amount)) {
    throw new PriceChanged(`${what} costs ${total.amount} ${total.currency}, above max_price`, {
      extensions: { price: total, max_price: maxPrice },
    });
  }
}

// Hosting quotes are stateless, as license and domain quotes are: the id is the quote itself, signed
// under a key of its own (it cannot be forged or altered), naming what it prices, for whom, the
// amount and its expiry. The order it prices charges exactly its amount, or refuses it once expired.
import { QuoteExpired } from '../billing/api.js';

export interface HostingQuote {
  /** What is priced: 'subscription', 'addon', 'renewal' or 'plan_change'. */
  kind: string;
  accountId: string;
  /** The subscription it is for (add-ons, renewals, plan changes); '' for a new subscription. */
  subscriptionId: string;
  /** The plan or add-on product. */
  product: string;
  months: number;
  currency: string;
  amount: number;
  expiresAt: Date;
  /** When it was given: a purchase shows the proration the amount was computed from (add-ons). */
  quotedAt?: Date | undefined;
}

const PREFIX = 'hq_';

export interface Signer {
  sign: (payload: string) => string;
  verify: (token: string) => string | null;
}

export function signQuote(signer: Signer, q: HostingQuote): string {
  return (
    PREFIX +
    signer.sign(
      JSON.stringify([
        q.kind,
        q.accountId,
        q.subscriptionId,
        q.product,
        q.months,
        q.currency,
        q.amount,
        q.expiresAt.getTime(),
        ...(q.quotedAt ? [q.quotedAt.getTime()] : []),
      ]),
    )
  );
}

/**
 * The quote behind `id` if it was issued for exactly this order (kind, account, subscription,
 * product, months, currency) and has not expired; otherwise 409 quote_expired saying why.
 */
export function redeemQuote(
  signer: Signer,
  id: string,
  expect: Omit<HostingQuote, 'amount' | 'expiresAt'>,
  now: Date,
): HostingQuote {
  const payload = id.startsWith(PREFIX) ? signer.verify(id.slice(PREFIX.length)) : null;
  let q: HostingQuote | null = null;
  if (payload !== null) {
    try {
      const [kind, accountId, subscriptionId, product, months, currency, amount, expiresMs, quotedMs] = JSON.parse(
        payload,
      ) as [string, string, string, string, number, string, number, number, number | undefined];
      q = {
        kind,
        accountId,
        subscriptionId,
        product,
        months,
        currency,
        amount,
        expiresAt: new Date(expiresMs),
        quotedAt: typeof quotedMs === 'number' ? new Date(quotedMs) : undefined,
      };
    } catch {
      q = null;
    }
  }
  if (!q || q.accountId !== expect.accountId || q.currency !== expect.currency)
    throw new QuoteExpired('No such quote for this account');
  if (
    q.kind !== expect.kind ||
    q.subscriptionId !== expect.subscriptionId ||
    q.product !== expect.product ||
    q.months !== expect.months
  )
    throw new QuoteExpired(`The quote is for another order (it prices ${q.kind} ${q.product})`);
  if (q.expiresAt <= now) throw new QuoteExpired(`The quote expired at ${q.expiresAt.toISOString()}`);
  return q;
}

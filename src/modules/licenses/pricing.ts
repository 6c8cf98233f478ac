// License prices and quotes. A quote is stateless, as a domain quote is: its id is the quote itself,
// signed under a key of its own (it cannot be forged or altered); the order honours its price (or
// a lower current one) until it expires.
export { assertMaxPrice, honourQuote } from '../billing/api.js';

export interface LicenseQuote {
  accountId: string;
  product: string;
  extras: string[];
  periodMonths: number;
  currency: string;
  /** One term, in minor units. */
  amount: number;
  expiresAt: Date;
}

const PREFIX = 'lq_';

export function signLicenseQuote(sign: (payload: string) => string, q: LicenseQuote): string {
  return (
    PREFIX +
    sign(
      JSON.stringify([q.accountId, q.product, q.extras, q.periodMonths, q.currency, q.amount, q.expiresAt.getTime()]),
    )
  );
}

/** The quote behind an id, or null for an id this server did not issue. */
export function openLicenseQuote(verify: (token: string) => string | null, id: string): LicenseQuote | null {
  if (!id.startsWith(PREFIX)) return null;
  const payload = verify(id.slice(PREFIX.length));
  if (payload === null) return null;
  try {
    const [accountId, product, extras, periodMonths, currency, amount, expiresMs] = JSON.parse(payload) as [
      string,
      string,
      string[],
      number,
      string,
      number,
      number,
    ];
    return { accountId, product, extras, periodMonths, currency, amount, expiresAt: new Date(expiresMs) };
  } catch {
    return null;
  }
}

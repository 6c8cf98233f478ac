// Price quotes from a check, honoured by a registration until they expire. A quote is stateless:
// its id is the quote itself, signed (HMAC-SHA256 under a key derived from the master key, so it
// cannot be forged or altered), which spares the database a row per checked name and a lookup per
// registration. Not encrypted: it says only what the check answered the same account.
export interface Quote {
  accountId: string;
  name: string;
  premium: boolean;
  currency: string;
  /** Per year, in minor units. */
  amount: number;
  expiresAt: Date;
}

const PREFIX = 'rq_';

export function signQuote(sign: (payload: string) => string, q: Quote): string {
  return (
    PREFIX + sign(JSON.stringify([q.accountId, q.name, q.premium ? 1 : 0, q.currency, q.amount, q.expiresAt.getTime()]))
  );
}

/** The quote behind an id, or null for an id this server did not issue. */
export function openQuote(verify: (token: string) => string | null, id: string): Quote | null {
  if (!id.startsWith(PREFIX)) return null;
  const payload = verify(id.slice(PREFIX.length));
  if (payload === null) return null;
  try {
    const [accountId, name, premium, currency, amount, expiresMs] = JSON.parse(payload) as [
      string,
      string,
      number,
      string,
      number,
      number,
    ];
    return { accountId, name, premium: premium === 1, currency, amount, expiresAt: new Date(expiresMs) };
  } catch {
    return null;
  }
}

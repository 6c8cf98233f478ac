// HMAC-SHA256 request signing (R-SEC-5): the canonical string a client signs and we verify.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_SCHEME = 'HMAC-SHA256';

export interface SignedParts {
  method: string;
  path: string;
  /** The raw query string without "?", as sent. */
  query: string;
  body: Buffer | string;
  timestamp: string;
  nonce: string;
}

export const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Query parameters percent-encoded (RFC 3986), sorted by name then value, joined with "&". */
export function canonicalQuery(query: string): string {
  if (!query) return '';
  const pairs = new URLSearchParams(query);
  const enc = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return [...pairs]
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

export function canonicalString(p: SignedParts): string {
  return [
    SIGNATURE_SCHEME,
    p.method.toUpperCase(),
    p.path,
    canonicalQuery(p.query),
    sha256Hex(p.body),
    p.timestamp,
    p.nonce,
  ].join('\n');
}

export function signRequest(secret: string, p: SignedParts): string {
  return createHmac('sha256', secret).update(canonicalString(p)).digest('hex');
}

export function signatureMatches(secret: string, p: SignedParts, signature: string): boolean {
  const expected = Buffer.from(signRequest(secret, p), 'hex');
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface HmacAuthorization {
  credential: string;
  timestamp: string;
  nonce: string;
  signature: string;
}

/** Parses `HMAC-SHA256 Credential=..., Timestamp=..., Nonce=..., Signature=...`; null if malformed. */
export function parseHmacAuthorization(header: string): HmacAuthorization | null {
  // The scheme's name is case-insensitive (RFC 9110 11.1); the parameters' names are ours, as sent.
  if (header.slice(0, SIGNATURE_SCHEME.length + 1).toUpperCase() !== `${SIGNATURE_SCHEME} `) return null;
  const fields = new Map<string, string>();
  for (const part of header.slice(SIGNATURE_SCHEME.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return null;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const timestamp = fields.get('Timestamp');
  const nonce = fields.get('Nonce');
  const signature = fields.get('Signature');
  if (!credential || !timestamp || !nonce || !signature) return null;
  if (!/^[0-9]{1,12}$/.test(timestamp) || !/^[A-Za-z0-9_-]{16,128}$/.test(nonce) || !/^[0-9a-f]{64}$/.test(signature))
    return null;
  return { credential, timestamp, nonce, signature };
}

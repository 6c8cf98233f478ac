// Opaque credentials: 256-bit random, with a prefix that says what they are (and helps secret scanners).
import { randomBytes } from 'node:crypto';

export const SESSION_TOKEN_PREFIX = 'rst_';
export const API_KEY_PREFIX = 'rak_';

export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

export const newSessionToken = (): string => `${SESSION_TOKEN_PREFIX}${randomToken()}`;

/** `rak_<key_id>_<secret>`: the key id is public (HMAC Credential), the secret is shown once. */
export function newApiKey(): { keyId: string; secret: string; key: string } {
  const keyId = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
  const secret = randomToken();
  return { keyId, secret, key: `${API_KEY_PREFIX}${keyId}_${secret}` };
}

export function splitApiKey(key: string): { keyId: string; secret: string } | null {
  if (!key.startsWith(API_KEY_PREFIX)) return null;
  const rest = key.slice(API_KEY_PREFIX.length);
  const sep = rest.indexOf('_');
  if (sep !== 12) return null;
  return { keyId: rest.slice(0, sep), secret: rest.slice(sep + 1) };
}

/** Recovery codes: 10 groups like `k7m2-x9qp-4hcd`, easy to read out, 60 bits each. */
export function newRecoveryCode(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(12);
  let out = '';
  for (let i = 0; i < 12; i++) {
    out += alphabet[bytes[i]! % alphabet.length];
    if (i === 3 || i === 7) out += '-';
  }
  return out;
}

// Masks secrets in values that are about to be logged: any key that names a password, secret,
// token, key, auth code or one-time code, at any depth.
export const REDACTED = '[Redacted]';

const SECRET_KEY = /pass(word|phrase)?|secret|token|api[_-]?key|auth[_-]?code|totp|otp|recovery|signature|authorization|cookie|private[_-]?key|master[_-]?key/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[Truncated]';
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) ? REDACTED : redactSecrets(v, depth + 1);
    }
    return out;
  }
  return value;
}

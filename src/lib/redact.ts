// Masks secrets in values that are about to be logged: any key that names a password, secret,
// token, key, auth code or one-time code, at any depth.
export const REDACTED = '[Redacted]';

// A bare `code` in a request body is a one-time (TOTP) code: two-factor confirmation and removal.
const SECRET_KEY =
  /pass(word|phrase)?|secret|token|api[_-]?key|auth[_-]?code|totp|otp|recovery|signature|authorization|cookie|private[_-]?key|master[_-]?key|^code$/i;

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

/**
 * A request URL as it may be logged: the value of every query parameter whose name names a secret
 * is masked (a client that sends `?password=...` by mistake must not leave it in the log).
 */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const params = new URLSearchParams(url.slice(at + 1));
  let masked = false;
  for (const key of new Set(params.keys())) {
    if (!isSecretKey(key)) continue;
    const n = params.getAll(key).length;
    params.delete(key);
    for (let i = 0; i < n; i++) params.append(key, REDACTED);
    masked = true;
  }
  return masked ? `${url.slice(0, at)}?${params.toString()}` : url;
}

/** What stands in for a request body that is not JSON: it is never stored or logged as sent. */
export const UNPARSED_BODY = '[unparsed body not recorded]';

/**
 * A request body as it may be logged or audited, whatever its content type: objects are redacted
 * as above; a text that holds JSON (a client sending JSON as text/plain) is parsed and redacted the
 * same way; any other text or bytes are not recorded at all, since nothing says where a secret
 * would sit in them.
 */
export function redactBody(body: unknown): unknown {
  if (body === undefined || body === null) return body;
  if (typeof body === 'string') {
    try {
      return redactSecrets(JSON.parse(body));
    } catch {
      return UNPARSED_BODY;
    }
  }
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) return UNPARSED_BODY;
  return redactSecrets(body);
}

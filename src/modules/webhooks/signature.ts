// Standard Webhooks signing (https://github.com/standard-webhooks/standard-webhooks): the signed
// content is "{webhook-id}.{webhook-timestamp}.{body}", the signature is the base64 HMAC-SHA256 of
// it keyed with the secret's bytes (the base64 after `whsec_`), sent as `v1,<signature>`; with two
// secrets active (a rotation's grace period) both signatures, space-separated.
import { createHmac } from 'node:crypto';

const PREFIX = 'whsec_';

/** The key bytes of a `whsec_...` secret. */
export function secretKey(secret: string): Buffer {
  const b64 = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  const key = Buffer.from(b64, 'base64');
  if (key.length === 0) throw new Error('empty webhook secret');
  return key;
}

/** `v1,<base64 HMAC-SHA256>` of one message under one key. */
export function signWith(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The `webhook-signature` header: one signature per key, space-separated. */
export function signatureHeader(keys: readonly Buffer[], id: string, timestamp: number, body: string): string {
  return keys.map((k) => signWith(k, id, timestamp, body)).join(' ');
}

/** The three Standard Webhooks headers of one attempt. */
export function webhookHeaders(
  keys: readonly Buffer[],
  id: string,
  timestamp: number,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(keys, id, timestamp, body),
  };
}

// A complete client for signed requests, with node:crypto only. Copy it into your integration.
import { createHash, createHmac, randomBytes } from 'node:crypto';

const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Headers for a request signed with an API key's key_id and secret. `url` is absolute. */
export function signedHeaders({ keyId, secret }, method, url, body = '') {
  const u = new URL(url);
  const query = [...u.searchParams]
    .map(([k, v]) => [enc(k), enc(v)])
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('base64url');
  const canonical = [
    'HMAC-SHA256',
    method.toUpperCase(),
    u.pathname,
    query,
    createHash('sha256').update(body).digest('hex'),
    timestamp,
    nonce,
  ].join('\n');
  const signature = createHmac('sha256', secret).update(canonical).digest('hex');
  return {
    authorization: `HMAC-SHA256 Credential=${keyId}, Timestamp=${timestamp}, Nonce=${nonce}, Signature=${signature}`,
    ...(body ? { 'content-type': 'application/json' } : {}),
  };
}

// Example: node examples/sign-request.mjs http://127.0.0.1:3000/v1/account <key_id> <secret>
if (import.meta.url === `file://${process.argv[1]}`) {
  const [url, keyId, secret] = process.argv.slice(2);
  const res = await fetch(url, { headers: signedHeaders({ keyId, secret }, 'GET', url) });
  console.log(res.status, await res.text());
}

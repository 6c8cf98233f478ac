// The published signing test vectors (R-SEC-5): the verifier computes exactly their canonical
// strings and signatures, the document publishes them, and the server accepts requests signed per them.
import t from 'tap';
import { eq } from 'drizzle-orm';
import { apiKeys } from '../../src/db/schema/index.js';
import {
  canonicalString,
  parseHmacAuthorization,
  signatureMatches,
  signRequest,
} from '../../src/lib/request-signature.js';
import { SIGNATURE_TEST_VECTORS } from '../../src/lib/request-signature-vectors.js';
import { buildTestApp } from '../helpers/app.js';
import { apiKey, operator, reseller } from '../helpers/fixtures.js';

const { key, vectors } = SIGNATURE_TEST_VECTORS;

t.test('R-SEC-5: each vector gives its canonical string and signature, and verifies', async (t) => {
  t.ok(vectors.length >= 3);
  for (const v of vectors) {
    t.equal(canonicalString(v), v.canonical_string, `${v.name}: canonical string`);
    t.equal(signRequest(key.secret, v), v.signature, `${v.name}: signature`);
    t.ok(signatureMatches(key.secret, v, v.signature), `${v.name}: the verifier accepts it`);
    t.notOk(
      signatureMatches(Buffer.from(key.secret, 'base64url').toString('latin1'), v, v.signature),
      `${v.name}: the secret is used as its text, not base64url-decoded`,
    );
    t.same(
      parseHmacAuthorization(v.authorization),
      { credential: key.key_id, timestamp: v.timestamp, nonce: v.nonce, signature: v.signature },
      `${v.name}: the Authorization header parses`,
    );
  }
  const query = vectors.find((v) => v.query.includes('+'))!;
  t.match(query.canonical_string, /%C3%A9%20b~ar/, 'upper-case hex, %20 for "+", "~" left unencoded');
});

t.test('R-SEC-5: the document publishes the vectors and the signing details', async (t) => {
  const { app } = await buildTestApp(t);
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const scheme = doc.components.securitySchemes.hmacSignature;
  t.same(scheme['x-signature-test-vectors'], SIGNATURE_TEST_VECTORS);
  for (const detail of [
    'as its text',
    'seconds',
    'A-Za-z0-9_-',
    'upper case',
    'sorts the pairs on the encoded form',
    'normalises',
  ])
    t.match(scheme.description, detail, `the description says: ${detail}`);
});

t.test('R-SEC-5: the server accepts a request signed per each vector (timestamp: now)', async (t) => {
  const { app } = await buildTestApp(t, { env: { AUTH_CACHE_TTL_MS: '0' } });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const made = await apiKey(app, r.token, ['account:read', 'account:write', 'audit:read']);
  // The vectors' key: its id and secret, sealed at rest as any key's secret is.
  await app.db
    .update(apiKeys)
    .set({ keyId: key.key_id, secretSealed: app.secretBox.seal(key.secret) })
    .where(eq(apiKeys.id, made.id));

  for (const v of vectors) {
    // A vector's timestamp is in the past, beyond the allowed skew: the same request, signed now.
    const timestamp = String(Math.floor(Date.now() / 1000));
    const canonical = v.canonical_string.split('\n');
    canonical[5] = timestamp;
    t.equal(canonicalString({ ...v, timestamp }), canonical.join('\n'), `${v.name}: only the timestamp line differs`);
    const signature = signRequest(key.secret, { ...v, timestamp });
    const res = await app.inject({
      method: v.method as 'GET' | 'PATCH',
      url: v.query ? `${v.path}?${v.query}` : v.path,
      headers: {
        authorization: `HMAC-SHA256 Credential=${key.key_id}, Timestamp=${timestamp}, Nonce=${v.nonce}, Signature=${signature}`,
        ...(v.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(v.body ? { payload: v.body } : {}),
    });
    t.equal(res.statusCode, 200, `${v.name}: accepted (${res.body.slice(0, 120)})`);
  }
});

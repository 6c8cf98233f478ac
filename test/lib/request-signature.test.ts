import t from 'tap';
import { createHash, createHmac } from 'node:crypto';
import {
  canonicalQuery,
  canonicalString,
  parseHmacAuthorization,
  signatureMatches,
  signRequest,
} from '../../src/lib/request-signature.js';

t.test('R-SEC-5: the canonical query sorts and percent-encodes', async (t) => {
  const cases: [string, string][] = [
    ['', ''],
    ['b=2&a=1', 'a=1&b=2'],
    ['a=2&a=1', 'a=1&a=2'],
    ['name=b%C3%BCcher.de&x=a+b', 'name=b%C3%BCcher.de&x=a%20b'],
    ["q=it's(1)*", 'q=it%27s%281%29%2A'],
    ['empty=&z', 'empty=&z='],
  ];
  for (const [input, expected] of cases) t.equal(canonicalQuery(input), expected, input || '(none)');
});

t.test(
  'R-SEC-5: the canonical string is the documented seven lines, and any change breaks the signature',
  async (t) => {
    const parts = {
      method: 'post',
      path: '/v1/domains',
      query: 'b=2&a=1',
      body: '{"name":"x.com"}',
      timestamp: '1795300000',
      nonce: 'abcdefghijklmnop',
    };
    const canonical = canonicalString(parts);
    const bodyDigest = createHash('sha256').update(parts.body).digest('hex');
    t.equal(canonical, `HMAC-SHA256\nPOST\n/v1/domains\na=1&b=2\n${bodyDigest}\n1795300000\nabcdefghijklmnop`);
    t.equal(
      canonicalString({ ...parts, body: '' }).split('\n')[4],
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'no body: SHA-256 of the empty string',
    );
    // An independent HMAC over the same string matches: a client needs nothing but this document.
    const secret = 's3cret';
    t.equal(signRequest(secret, parts), createHmac('sha256', secret).update(canonical).digest('hex'));
    const sig = signRequest(secret, parts);
    t.ok(signatureMatches(secret, parts, sig));
    for (const [field, value] of [
      ['method', 'PUT'],
      ['path', '/v1/domainz'],
      ['query', 'a=1'],
      ['body', '{"name":"y.com"}'],
      ['timestamp', '1795300001'],
      ['nonce', 'abcdefghijklmnoq'],
    ] as const) {
      t.notOk(signatureMatches(secret, { ...parts, [field]: value }, sig), `changing ${field} breaks it`);
    }
    t.notOk(signatureMatches('other', parts, sig), 'another secret breaks it');
    t.notOk(signatureMatches(secret, parts, sig.slice(0, 63)), 'a truncated signature does not match');
  },
);

t.test('R-SEC-5: the Authorization header parser accepts the documented form only', async (t) => {
  const sig = 'a'.repeat(64);
  t.same(
    parseHmacAuthorization(
      `HMAC-SHA256 Credential=abc123, Timestamp=1795300000, Nonce=abcdefghijklmnop, Signature=${sig}`,
    ),
    {
      credential: 'abc123',
      timestamp: '1795300000',
      nonce: 'abcdefghijklmnop',
      signature: sig,
    },
  );
  for (const bad of [
    'HMAC-SHA256 Credential=abc',
    `HMAC-SHA1 Credential=a, Timestamp=1, Nonce=abcdefghijklmnop, Signature=${sig}`,
    `HMAC-SHA256 Credential=a, Timestamp=soon, Nonce=abcdefghijklmnop, Signature=${sig}`,
    `HMAC-SHA256 Credential=a, Timestamp=1, Nonce=short, Signature=${sig}`,
    `HMAC-SHA256 Credential=a, Timestamp=1, Nonce=abcdefghijklmnop, Signature=XYZ`,
  ]) {
    t.equal(parseHmacAuthorization(bad), null, bad);
  }
});

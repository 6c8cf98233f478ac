import t from 'tap';
import { randomBytes } from 'node:crypto';
import { checkPasswordStrength } from '../../src/lib/password-strength.js';
import { openSecret, sealSecret, signToken, subkey, verifyToken } from '../../src/lib/secret-box.js';
import { newApiKey, newRecoveryCode, splitApiKey } from '../../src/lib/tokens.js';

t.test('sealed secrets open with the same key only, and tampering is detected', async (t) => {
  const key = randomBytes(32);
  const sealed = sealSecret(key, 'the secret');
  t.not(sealSecret(key, 'the secret'), sealed, 'a fresh IV each time');
  t.equal(openSecret(key, sealed), 'the secret');
  t.throws(() => openSecret(randomBytes(32), sealed), 'another key cannot open it');
  const parts = sealed.split('.');
  const ct = Buffer.from(parts[3]!, 'base64url');
  ct[0] = ct[0]! ^ 1;
  t.throws(
    () => openSecret(key, [parts[0], parts[1], parts[2], ct.toString('base64url')].join('.')),
    'a flipped bit fails authentication',
  );
});

t.test('no two seals share an IV, across refills of the pooled random bytes', async (t) => {
  const key = randomBytes(32);
  const ivs = Array.from({ length: 2000 }, () => sealSecret(key, 'x').split('.')[1]!);
  t.equal(new Set(ivs).size, ivs.length, '2,000 seals (several pool refills), 2,000 distinct IVs');
  t.ok(
    ivs.every((iv) => Buffer.from(iv, 'base64url').length === 12),
    '96-bit IVs',
  );
});

t.test('signed tokens verify under their own key only, and any change is detected', async (t) => {
  const master = randomBytes(32);
  const quotes = subkey(master, 'domain-quotes');
  const other = subkey(master, 'something-else');
  t.not(quotes.toString('hex'), other.toString('hex'), 'one key per purpose');
  const token = signToken(quotes, '["acct","a.com",0,"EUR",1099,1]');
  t.equal(verifyToken(quotes, token), '["acct","a.com",0,"EUR",1099,1]');
  t.equal(verifyToken(other, token), null, 'not valid for another purpose');
  t.equal(verifyToken(subkey(randomBytes(32), 'domain-quotes'), token), null, 'not valid under another master key');
  const [body, tag] = token.split('.');
  const altered = Buffer.from('["acct","a.com",0,"EUR",1,1]').toString('base64url');
  t.equal(verifyToken(quotes, `${altered}.${tag}`), null, 'payload changed');
  t.equal(verifyToken(quotes, `${body}.${tag![0] === 'A' ? 'B' : 'A'}${tag!.slice(1)}`), null, 'tag changed');
  t.equal(verifyToken(quotes, `${body}.${tag!.slice(0, 10)}`), null, 'tag shortened');
  t.equal(verifyToken(quotes, body!), null, 'no tag');
});

t.test('R-SEC-2: password strength: length and guessability', async (t) => {
  const cases: [string, boolean][] = [
    ['violet-Harbour-lantern-58!quay', true],
    ['iloveyou123456', false],
    ['Welcome12345!', false],
    ['aaaaaaaaaaaaaaaa', false],
    ['password123456', false],
    ['qwertyuiop1234', false],
    ['short-Pw1!', false],
    ['mK9#vQ2$zL7@wP4', true],
  ];
  for (const [pw, ok] of cases) t.equal(checkPasswordStrength(pw).ok, ok, pw);
  t.equal(
    checkPasswordStrength('alexandra.kowalski-2024', ['alexandra.kowalski']).ok,
    false,
    'leaning on the username is weak',
  );
});

t.test('R-SEC-2: a long password is judged on its first 64 characters', async (t) => {
  const strong = 'violet-Harbour-lantern-58!quay';
  const guessableStart = `${'password'.repeat(8)}${strong}`;
  const refused = checkPasswordStrength(guessableStart);
  t.equal(refused.ok, false, 'a guessable beginning is refused whatever follows');
  t.ok(
    refused.problems.some((p) => p.includes('first 64 characters')),
    `the answer says what was judged: ${refused.problems.join('; ')}`,
  );
  t.equal(checkPasswordStrength(`${strong}${'7'.repeat(200)}`).ok, true, 'a strong beginning with any tail');
  t.equal(checkPasswordStrength(`${strong}${'x'.repeat(227)}`).ok, false, 'and never more than 256 characters');
  // l33t spellings of common passwords are still found with the substitutions capped.
  for (const pw of ['P@55w0rd!P@55w0rd!', 'P@$$w0rd2023', 'W3lc0me12345', 'M0nk3yB4n4n4'])
    t.equal(checkPasswordStrength(pw).ok, false, pw);
});

t.test('API keys and recovery codes have the documented shapes', async (t) => {
  const k = newApiKey();
  t.same(splitApiKey(k.key), { keyId: k.keyId, secret: k.secret });
  t.equal(splitApiKey('rst_abc'), null);
  t.equal(splitApiKey('rak_short_x'), null);
  const codes = new Set(Array.from({ length: 200 }, newRecoveryCode));
  t.equal(codes.size, 200);
  for (const c of [...codes].slice(0, 20)) t.match(c, /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
});

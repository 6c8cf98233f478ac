import t from 'tap';
import { hashPassword, verifyPassword } from '../../../src/modules/accounts/passwords.js';

// Made by @node-rs/argon2 2.0 (the library this server used before `argon2`) with the same
// parameters; password hashes stored then must keep verifying.
const EARLIER_LIBRARY_HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$Idco+Y5eIm85JaBEbJuZ4Q$zhPtb/PndTxK3ntj/rFdR0VNLV1YRA3fyg+n8sHIqq4';
const EARLIER_LIBRARY_PASSWORD = 'amber-Falcon-orchard-94%ridge';

t.test(
  'hardening-28 / R-SEC-2: a hash stored by @node-rs/argon2 still verifies, and only with its password',
  async (t) => {
    t.equal(await verifyPassword(EARLIER_LIBRARY_HASH, EARLIER_LIBRARY_PASSWORD), true);
    t.equal(await verifyPassword(EARLIER_LIBRARY_HASH, `${EARLIER_LIBRARY_PASSWORD}x`), false);
  },
);

t.test('hardening-28 / R-SEC-2: new hashes are argon2id with 19 MiB, 2 passes, 1 lane', async (t) => {
  const hash = await hashPassword(EARLIER_LIBRARY_PASSWORD);
  const [, algorithm, version, params] = hash.split('$');
  t.equal(algorithm, 'argon2id');
  t.equal(version, 'v=19');
  t.same(Object.fromEntries(params!.split(',').map((p) => p.split('='))), { m: '19456', t: '2', p: '1' });
  t.equal(await verifyPassword(hash, EARLIER_LIBRARY_PASSWORD), true);
  t.equal(await verifyPassword(hash, 'another-Password-entirely-12!'), false);
});

t.test('a malformed stored hash fails verification instead of throwing', async (t) => {
  t.equal(await verifyPassword('not a PHC string', EARLIER_LIBRARY_PASSWORD), false);
});

t.test('hardening-28: passwords are hashed with the argon2 package, and @node-rs/argon2 is gone', async (t) => {
  const { default: pkg } = await import('../../../package.json', { with: { type: 'json' } });
  const deps: Record<string, string> = pkg.dependencies;
  t.ok(deps['argon2'], 'argon2 is a dependency');
  t.notOk(deps['@node-rs/argon2'], '@node-rs/argon2 is not');
});

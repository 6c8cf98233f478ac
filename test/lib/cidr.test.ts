import t from 'tap';
import { addressAllowed, normaliseAllowlist, parseAllowlist } from '../../src/lib/cidr.js';

t.test('R-SEC-4: CIDR matching over IPv4 and IPv6', async (t) => {
  const list = parseAllowlist(normaliseAllowlist(['192.0.2.0/24', '10.1.2.3', '2001:db8::/32', '::1']).valid);
  const cases: [string, boolean][] = [
    ['192.0.2.0', true],
    ['192.0.2.255', true],
    ['192.0.3.0', false],
    ['10.1.2.3', true],
    ['10.1.2.4', false],
    ['::ffff:192.0.2.10', true],
    ['2001:db8:1234::1', true],
    ['2001:db9::1', false],
    ['::1', true],
    ['::2', false],
    ['not an address', false],
  ];
  for (const [addr, allowed] of cases) t.equal(addressAllowed(addr, list), allowed, addr);
  t.equal(addressAllowed('198.51.100.1', []), true, 'an empty list allows everything');
});

t.test('allowlist entries are normalised, deduplicated and invalid ones reported', async (t) => {
  const { valid, invalid } = normaliseAllowlist([' 192.0.2.1 ', '192.0.2.1/32', '2001:DB8::/32', '10.0.0.0/33', 'host.example', '::/0']);
  t.same(valid, ['192.0.2.1/32', '2001:db8::/32', '::/0']);
  t.same(invalid, ['10.0.0.0/33', 'host.example']);
});

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
  const { valid, invalid } = normaliseAllowlist([
    ' 192.0.2.1 ',
    '192.0.2.1/32',
    '2001:DB8::/32',
    '10.0.0.0/33',
    'host.example',
    '::/0',
  ]);
  t.same(valid, ['192.0.2.1/32', '2001:db8::/32', '::/0']);
  t.same(
    invalid.map((i) => [i.index, i.entry]),
    [
      [3, '10.0.0.0/33'],
      [4, 'host.example'],
    ],
  );
});

t.test('hardening-9 / R-SEC-4: IPv4-mapped IPv6 entries are stored as IPv4 and match IPv4 callers', async (t) => {
  const { valid, invalid } = normaliseAllowlist([
    '::ffff:127.0.0.1',
    '::FFFF:203.0.113.0/120',
    '::ffff:c000:0201/128',
    '::ffff:0:0/96',
    '::ffff:0:0/95',
  ]);
  t.same(invalid, []);
  t.same(
    valid,
    ['127.0.0.1/32', '203.0.113.0/24', '192.0.2.1/32', '0.0.0.0/0', '::ffff:0:0/95'],
    'a mapped range of /96 or more is the IPv4 range; a wider one stays IPv6',
  );
  const list = parseAllowlist(valid.slice(0, 3));
  for (const caller of ['127.0.0.1', '::ffff:127.0.0.1', '203.0.113.200', '::ffff:203.0.113.1', '192.0.2.1'])
    t.equal(addressAllowed(caller, list), true, caller);
  for (const caller of ['127.0.0.2', '203.0.114.1', '::1']) t.equal(addressAllowed(caller, list), false, caller);
});

t.test(
  'hardening-9 / R-SEC-4: a list stored before normalisation, with a mapped IPv6 entry, still matches',
  async (t) => {
    const list = parseAllowlist(['::ffff:7f00:1/128', '::ffff:cb00:7100/120']);
    t.equal(addressAllowed('127.0.0.1', list), true);
    t.equal(addressAllowed('203.0.113.9', list), true);
    t.equal(addressAllowed('10.0.0.1', list), false);
  },
);

t.test(
  "hardening-9 / R-SEC-4: zone ids and non-canonical IPv4 forms are refused, with the entry's index",
  async (t) => {
    const { valid, invalid } = normaliseAllowlist([
      '192.0.2.0/24',
      'fe80::1%eth0',
      'fe80::%25eth0/64',
      '127.1',
      '0x7f000001',
      '10.0.0.0/08x',
    ]);
    t.same(valid, ['192.0.2.0/24']);
    t.same(
      invalid.map((i) => i.index),
      [1, 2, 3, 4, 5],
    );
    t.match(invalid[0]!.reason, /zone id/);
    t.match(invalid[1]!.reason, /zone id/);
  },
);

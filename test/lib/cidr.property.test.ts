// R-SEC-4: address allowlists, as properties over random ranges (fast-check): every address inside a
// range matches it, the first addresses outside it on either side do not, and an IPv4-mapped IPv6
// address (::ffff:a.b.c.d) is the IPv4 address, in the list and in the caller's address alike.
import fc from 'fast-check';
import t from 'tap';
import { addressAllowed, normaliseAllowlist, parseAllowlist } from '../../src/lib/cidr.js';

const V4 = 2n ** 32n;
const V6 = 2n ** 128n;

const v4Text = (n: bigint) => [24n, 16n, 8n, 0n].map((s) => ((n >> s) & 255n).toString()).join('.');
const v6Text = (n: bigint) =>
  Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');

/** A range as the reference sees it: its first address and its size, from an address and a prefix. */
const rangeOf = (address: bigint, bits: number, width: number) => {
  const size = 2n ** BigInt(width - bits);
  const first = (address / size) * size;
  return { first, last: first + size - 1n };
};

const v4 = fc.bigInt({ min: 0n, max: V4 - 1n });
const v6 = fc.bigInt({ min: 0n, max: V6 - 1n });

function check(address: string, entry: string): boolean {
  const { valid, invalid } = normaliseAllowlist([entry]);
  if (invalid.length) throw new Error(`${entry} refused: ${invalid[0]!.reason}`);
  return addressAllowed(address, parseAllowlist(valid));
}

t.test('R-SEC-4: IPv4: inside the range matches, the first address outside does not', async (t) => {
  fc.assert(
    fc.property(v4, fc.integer({ min: 0, max: 32 }), v4, (base, bits, probe) => {
      const entry = `${v4Text(base)}/${bits}`;
      const { first, last } = rangeOf(base, bits, 32);
      const inside = first + (probe % (last - first + 1n));
      if (!check(v4Text(inside), entry)) throw new Error(`${v4Text(inside)} not in ${entry}`);
      if (!check(v4Text(probe), entry) === (probe >= first && probe <= last))
        throw new Error(`${v4Text(probe)} against ${entry} disagrees with the reference`);
      if (first > 0n && check(v4Text(first - 1n), entry)) throw new Error(`${v4Text(first - 1n)} in ${entry}`);
      if (last < V4 - 1n && check(v4Text(last + 1n), entry)) throw new Error(`${v4Text(last + 1n)} in ${entry}`);
    }),
  );
  t.pass('holds for every generated case');
});

t.test('R-SEC-4: IPv6: inside the range matches, the first address outside does not', async (t) => {
  fc.assert(
    fc.property(v6, fc.integer({ min: 0, max: 128 }), v6, (base, bits, probe) => {
      const entry = `${v6Text(base)}/${bits}`;
      const { first, last } = rangeOf(base, bits, 128);
      const inside = first + (probe % (last - first + 1n));
      // An IPv4-mapped range is compared as IPv4 (next test); here stay outside ::ffff:0:0/96.
      fc.pre(!(first >> 32n === 0xffffn) && !(inside >> 32n === 0xffffn));
      if (!check(v6Text(inside), entry)) throw new Error(`${v6Text(inside)} not in ${entry}`);
      const before = first - 1n;
      if (first > 0n && before >> 32n !== 0xffffn && check(v6Text(before), entry))
        throw new Error(`${v6Text(before)} in ${entry}`);
      const after = last + 1n;
      if (last < V6 - 1n && after >> 32n !== 0xffffn && check(v6Text(after), entry))
        throw new Error(`${v6Text(after)} in ${entry}`);
    }),
  );
  t.pass('holds for every generated case');
});

t.test('R-SEC-4: an IPv4-mapped IPv6 address is its IPv4 address, in the entry and in the caller', async (t) => {
  fc.assert(
    fc.property(v4, fc.integer({ min: 0, max: 32 }), v4, (base, bits, probe) => {
      const { first, last } = rangeOf(base, bits, 32);
      const expected = probe >= first && probe <= last;
      const entries = [`${v4Text(base)}/${bits}`, `::ffff:${v4Text(base)}/${96 + bits}`];
      const callers = [v4Text(probe), `::ffff:${v4Text(probe)}`];
      for (const entry of entries)
        for (const caller of callers)
          if (check(caller, entry) !== expected)
            throw new Error(`${caller} against ${entry}: ${!expected}, expected ${expected}`);
      // Written either way, an entry is stored the same way.
      const [a, b] = entries.map((e) => normaliseAllowlist([e]).valid[0]);
      if (a !== b) throw new Error(`${entries[0]} stored as ${a}, ${entries[1]} as ${b}`);
    }),
  );
  t.pass('holds for every generated case');
});

t.test('R-SEC-4: an IPv4 range never matches an IPv6 caller outside ::ffff:0:0/96, and the reverse', async (t) => {
  fc.assert(
    fc.property(v4, fc.integer({ min: 0, max: 32 }), v6, (base, bits, probe) => {
      fc.pre(probe >> 32n !== 0xffffn);
      if (check(v6Text(probe), `${v4Text(base)}/${bits}`)) throw new Error(`${v6Text(probe)} matched an IPv4 range`);
      if (check(v4Text(base), `${v6Text(probe)}/${bits}`)) throw new Error(`${v4Text(base)} matched an IPv6 range`);
    }),
  );
  t.pass('holds for every generated case');
});

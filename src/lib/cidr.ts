// IP allowlists: IPv4 and IPv6 CIDR (or single addresses). An empty list allows every address.
// An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is the IPv4 address, wherever it appears: in an
// entry, in a stored list and in the caller's address, so a list written either way matches.
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
export type ParsedAllowlist = readonly [Address, number][];

export interface RefusedEntry {
  index: number;
  entry: string;
  reason: string;
}

/** An IPv4-mapped IPv6 range of at least /96 as the IPv4 range it is; anything else unchanged. */
function unmapped([addr, bits]: [Address, number]): [Address, number] {
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [addr, bits];
}

/** Dotted-quad IPv4 or IPv6 only: ipaddr.js would also take "127.1" or "0x7f000001". */
function parseAddress(text: string): Address {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  return ipaddr.IPv6.parse(text);
}

function parseEntry(entry: string): [Address, number] {
  const slash = entry.indexOf('/');
  if (slash < 0) {
    const addr = parseAddress(entry);
    return unmapped([addr, addr.kind() === 'ipv4' ? 32 : 128]);
  }
  const addr = parseAddress(entry.slice(0, slash));
  const bitsText = entry.slice(slash + 1);
  const bits = Number(bitsText);
  if (!/^[0-9]{1,3}$/.test(bitsText) || bits > (addr.kind() === 'ipv4' ? 32 : 128))
    throw new Error('bad prefix length');
  return unmapped([addr, bits]);
}

/** Normalises entries ("10.0.0.1" -> "10.0.0.1/32", "::ffff:10.0.0.1" -> "10.0.0.1/32"); returns refused ones with why. */
export function normaliseAllowlist(entries: readonly string[]): { valid: string[]; invalid: RefusedEntry[] } {
  const valid: string[] = [];
  const invalid: RefusedEntry[] = [];
  entries.forEach((raw, index) => {
    const entry = raw.trim();
    // A zone (fe80::1%eth0) names an interface of the machine that wrote it: it means nothing here.
    if (entry.includes('%')) {
      invalid.push({ index, entry: raw, reason: `${raw} has a zone id (%...); write the address without it` });
      return;
    }
    try {
      const [addr, bits] = parseEntry(entry);
      valid.push(`${addr.toString()}/${bits}`);
    } catch {
      invalid.push({ index, entry: raw, reason: `${raw} is not an IP address or CIDR` });
    }
  });
  return { valid: [...new Set(valid)], invalid };
}

/** Stored entries, parsed; lists stored before mapped addresses were normalised match all the same. */
export function parseAllowlist(entries: readonly string[]): ParsedAllowlist {
  return entries.map((e) => unmapped(ipaddr.parseCIDR(e)));
}

/** True when the list is empty or the address falls in one of its ranges (IPv4-mapped IPv6 counts as IPv4). */
export function addressAllowed(address: string, list: ParsedAllowlist): boolean {
  if (list.length === 0) return true;
  let addr: Address;
  try {
    addr = ipaddr.process(address);
  } catch {
    return false;
  }
  return list.some(([range, bits]) => addr.kind() === range.kind() && addr.match(range, bits));
}

/**
 * True when every address `entry` (a normalised allowlist entry) covers also lies in `outer` (an
 * empty outer list covers everything): a range lies inside one of outer's ranges of the same family
 * with a prefix no longer than its own.
 */
export function allowlistCovers(outer: readonly string[], entry: string): boolean {
  if (outer.length === 0) return true;
  const [addr, bits] = unmapped(ipaddr.parseCIDR(entry));
  return parseAllowlist(outer).some(
    ([range, outerBits]) => addr.kind() === range.kind() && bits >= outerBits && addr.match(range, outerBits),
  );
}

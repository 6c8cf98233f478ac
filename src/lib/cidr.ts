// IP allowlists: IPv4 and IPv6 CIDR (or single addresses). An empty list allows every address.
import ipaddr from 'ipaddr.js';

export type ParsedAllowlist = readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];

/** Normalises entries ("10.0.0.1" -> "10.0.0.1/32"); returns the invalid ones separately. */
export function normaliseAllowlist(entries: readonly string[]): { valid: string[]; invalid: string[] } {
  const valid: string[] = [];
  const invalid: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    try {
      if (entry.includes('/')) {
        const [addr, bits] = ipaddr.parseCIDR(entry);
        valid.push(`${addr.toString()}/${bits}`);
      } else {
        const addr = ipaddr.parse(entry);
        valid.push(`${addr.toString()}/${addr.kind() === 'ipv4' ? 32 : 128}`);
      }
    } catch {
      invalid.push(raw);
    }
  }
  return { valid: [...new Set(valid)], invalid };
}

export function parseAllowlist(entries: readonly string[]): ParsedAllowlist {
  return entries.map((e) => ipaddr.parseCIDR(e));
}

/** True when the list is empty or the address falls in one of its ranges (IPv4-mapped IPv6 counts as IPv4). */
export function addressAllowed(address: string, list: ParsedAllowlist): boolean {
  if (list.length === 0) return true;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(address);
  } catch {
    return false;
  }
  return list.some(([range, bits]) => addr.kind() === range.kind() && addr.match(range, bits));
}

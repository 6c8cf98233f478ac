// Addresses as licenses and servers keep them: one canonical text form per address (IPv6
// compressed, IPv4-mapped IPv6 as IPv4), so a report and a binding compare equal.
import ipaddr from 'ipaddr.js';
import { reachRange } from '../../lib/ssrf-guard.js';

/** The canonical form of an IPv4 or IPv6 address, or null when `text` is not one. */
export function normaliseAddress(text: string): string | null {
  const t = text.trim();
  if (!ipaddr.isValid(t)) return null;
  // ipaddr.js also takes shorthand IPv4 ("10.1"): only the four-part dotted form is an address here.
  if (!t.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(t)) return null;
  const a = ipaddr.parse(t);
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress())
    return (a as ipaddr.IPv6).toIPv4Address().toString();
  return a.toString();
}

/** True for an address the Internet can reach (not private, loopback, link-local, reserved...). */
export function isPublicAddress(canonical: string): boolean {
  return reachRange(ipaddr.parse(canonical)) === 'unicast';
}

// The SSRF guard for outbound webhook requests. A destination is allowed when every address it
// resolves to is public unicast (ipaddr.js's 'unicast' range: not private, loopback, link-local,
// carrier-grade NAT, multicast, reserved, unique-local, documentation...), or falls in a range the
// operator allows (WEBHOOK_ALLOWED_RANGES; plain http is accepted only towards such ranges).
//
// Checked twice: when an endpoint is created or changed (`checkDestination`: the URL and what its
// name resolves to now), and at every delivery by the connector (`guardedConnector`), which resolves
// the name itself, refuses a non-allowed answer before connecting, and checks the socket's actual
// remote address once connected. A name that re-resolves to a private address between the two
// checks (DNS rebinding) is therefore refused at delivery.
import dns from 'node:dns';
import type { LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { buildConnector } from 'undici';
import { parseAllowlist, type ParsedAllowlist } from './cidr.js';

export class UnsafeDestination extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeDestination';
  }
}

/** How names are resolved: every address of the name (tests inject one that changes its answer). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

export interface GuardOptions {
  /** CIDR ranges allowed besides public unicast addresses (and over http). */
  allowedRanges: readonly string[];
  resolver?: Resolver;
  /** How long a name may take to resolve (default 5 s; the connector: its connect timeout). */
  resolveTimeoutMs?: number;
}

interface Policy {
  allowed: ParsedAllowlist;
  resolver: Resolver;
  resolveTimeoutMs: number;
}

const DEFAULT_RESOLVE_TIMEOUT_MS = 5_000;

const policyOf = (o: GuardOptions): Policy => ({
  allowed: parseAllowlist(o.allowedRanges),
  resolver: o.resolver ?? systemResolver,
  resolveTimeoutMs: o.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS,
});

/** The resolver's answer, or a rejection once `ms` have passed: a hanging lookup holds no request or delivery. */
function lookupWithin(p: Policy, hostname: string): Promise<LookupAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${p.resolveTimeoutMs} ms`)), p.resolveTimeoutMs);
  });
  return Promise.race([p.resolver(hostname), timeout]).finally(() => clearTimeout(timer));
}

function parse(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    return ipaddr.process(address.replace(/^\[|\]$/g, ''));
  } catch {
    return null;
  }
}

const inAllowedRange = (addr: ipaddr.IPv4 | ipaddr.IPv6, allowed: ParsedAllowlist): boolean =>
  allowed.some(([range, bits]) => addr.kind() === range.kind() && addr.match(range, bits));

const IPV4_COMPATIBLE: [ipaddr.IPv6, number] = [ipaddr.IPv6.parse('::'), 96];

/**
 * The range of an address as reachability goes: ipaddr.js's, except that an IPv4-compatible IPv6
 * address (::/96, deprecated by RFC 4291) is not 'unicast' whatever it embeds: ipaddr.js calls
 * ::7f00:1 (::127.0.0.1) unicast when written in hex.
 */
export function reachRange(addr: ipaddr.IPv4 | ipaddr.IPv6): string {
  const range = addr.range();
  if (range === 'unicast' && addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).match(IPV4_COMPATIBLE))
    return 'ipv4Compatible';
  return range;
}

/** Why the address may not be reached (null: it may). */
export function refusal(address: string, allowed: ParsedAllowlist): string | null {
  const addr = parse(address);
  if (!addr) return `${address} is not an IP address`;
  if (inAllowedRange(addr, allowed)) return null;
  const range = reachRange(addr);
  return range === 'unicast' ? null : `${addr.toString()} is a ${range} address, not a public one`;
}

/** Resolves `hostname` (or takes it as a literal address) and refuses it unless every address is allowed. */
async function resolveAllowed(hostname: string, p: Policy): Promise<string[]> {
  const literal = parse(hostname);
  const addresses = literal
    ? [literal.toString()]
    : (
        await lookupWithin(p, hostname).catch((err: unknown) => {
          throw new UnsafeDestination(`${hostname} does not resolve (${(err as Error).message})`);
        })
      ).map((a) => a.address);
  if (addresses.length === 0) throw new UnsafeDestination(`${hostname} does not resolve`);
  for (const a of addresses) {
    const why = refusal(a, p.allowed);
    if (why) throw new UnsafeDestination(literal ? why : `${hostname} resolves to ${why}`);
  }
  return addresses;
}

/**
 * The check at creation: an absolute https URL (http only towards an allowed range) without user
 * info, whose host resolves only to allowed addresses. Returns the parsed URL.
 */
export async function checkDestination(url: string, o: GuardOptions): Promise<URL> {
  const p = policyOf(o);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UnsafeDestination('not an absolute URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UnsafeDestination('the URL must be https');
  if (u.username || u.password) throw new UnsafeDestination('the URL may not carry a user name or password');
  const addresses = await resolveAllowed(u.hostname, p);
  if (u.protocol === 'http:') {
    const allInRange = addresses.every((a) => {
      const addr = parse(a);
      return addr !== null && inAllowedRange(addr, p.allowed);
    });
    if (!allInRange) throw new UnsafeDestination('the URL must be https');
  }
  return u;
}

/**
 * An undici connector that only ever connects to allowed addresses: it resolves the host itself,
 * refuses before connecting when an answer is not allowed, and checks the connected socket's remote
 * address. Plain http is refused unless that address is in an allowed range. A lookup that does not
 * answer within the connect timeout fails the connection.
 */
export function guardedConnector(o: GuardOptions & { timeoutMs: number }): buildConnector.connector {
  // Resolving is part of connecting: the connect timeout bounds it too (undici's starts after it).
  const p = policyOf({ resolveTimeoutMs: o.timeoutMs, ...o });
  const connect = buildConnector({ timeout: o.timeoutMs });
  return (opts, callback) => {
    resolveAllowed(opts.hostname, p).then(
      (addresses) => {
        const target = addresses[0]!;
        // Connect to the checked address; TLS still verifies (and SNI names) the original host.
        // undici hands connectors a bare IPv6 address (no brackets) and passes `hostname` on to
        // net.connect / tls.connect as `host`, which takes it bare too: "[::1]" would be looked up
        // as a name and fail.
        connect(
          {
            ...opts,
            hostname: target,
            servername: opts.servername ?? (parse(opts.hostname) ? undefined : opts.hostname),
          },
          (err, socket) => {
            if (err || !socket) return callback(err ?? new Error('no socket'), null);
            const remote = socket.remoteAddress ?? '';
            const why = refusal(remote, p.allowed);
            const remoteAddr = parse(remote);
            const plainOk =
              opts.protocol === 'https:' || (remoteAddr !== null && inAllowedRange(remoteAddr, p.allowed));
            if (why || !plainOk) {
              socket.destroy();
              return callback(
                new UnsafeDestination(why ? `connected to ${why}` : 'plain http to a public address'),
                null,
              );
            }
            callback(null, socket);
          },
        );
      },
      (err: unknown) => callback(err as Error, null),
    );
  };
}

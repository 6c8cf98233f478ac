// Issue 13 item 6: the SSRF guard. At creation (checkDestination): https only, no user info, and
// every address the host resolves to public unicast, unless the operator allows a range. At delivery
// (guardedConnector): the name is resolved again and refused before connecting when an answer is not
// allowed, so a name that re-resolves to a private address (DNS rebinding) never reaches it.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { Agent, request } from 'undici';
import { checkDestination, guardedConnector, UnsafeDestination, type Resolver } from '../../src/lib/ssrf-guard.js';

const PUBLIC_V4 = '93.184.215.14';
const PUBLIC_V6 = '2606:4700:4700::1111';

/** A resolver that answers `addresses` for every name (and counts its calls). */
function answering(...addresses: string[]): Resolver & { calls: number } {
  const r = async () => {
    r.calls++;
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  r.calls = 0;
  return r;
}

const refused = async (
  t: Test,
  url: string,
  opts: { allowedRanges?: string[]; resolver?: Resolver; resolveTimeoutMs?: number },
  why: RegExp,
) => {
  const err = await checkDestination(url, { ...opts, allowedRanges: opts.allowedRanges ?? [] }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof UnsafeDestination, `${url}: refused`);
  t.match((err as Error | null)?.message, why, `${url}: ${(err as Error | null)?.message}`);
};

// Literal addresses of every range that is not public unicast, each refused with its range named.
const NOT_PUBLIC: [string, string, RegExp][] = [
  ['private 10/8', '10.0.0.1', /private/],
  ['private 10/8 (top)', '10.255.255.254', /private/],
  ['private 172.16/12', '172.16.0.1', /private/],
  ['private 172.16/12 (top)', '172.31.255.254', /private/],
  ['private 192.168/16', '192.168.1.1', /private/],
  ['loopback 127/8', '127.0.0.1', /loopback/],
  ['loopback 127/8 (not .1)', '127.1.2.3', /loopback/],
  ['loopback ::1', '[::1]', /loopback/],
  ['link-local 169.254/16', '169.254.1.1', /linkLocal/],
  ['cloud metadata 169.254.169.254', '169.254.169.254', /linkLocal/],
  ['link-local fe80::/10', '[fe80::1]', /linkLocal/],
  ['carrier-grade NAT 100.64/10', '100.64.0.1', /carrierGradeNat/],
  ['unique-local fc00::/7', '[fd12:3456::1]', /uniqueLocal/],
  ['IPv4-mapped IPv6 loopback', '[::ffff:127.0.0.1]', /127\.0\.0\.1 is a loopback/],
  ['IPv4-mapped IPv6 private', '[::ffff:10.0.0.1]', /10\.0\.0\.1 is a private/],
  ['IPv4-mapped metadata (hex form)', '[::ffff:a9fe:a9fe]', /169\.254\.169\.254 is a linkLocal/],
  ['NAT64 of loopback', '[64:ff9b::7f00:1]', /rfc6052/],
  ['6to4 of loopback', '[2002:7f00:1::]', /6to4/],
  ['unspecified 0.0.0.0', '0.0.0.0', /unspecified/],
  ['unspecified ::', '[::]', /unspecified/],
  ['multicast', '224.0.0.1', /multicast/],
  ['broadcast', '255.255.255.255', /broadcast/],
  ['documentation / reserved', '192.0.2.1', /reserved/],
  ['decimal loopback (URL-normalised)', '2130706433', /127\.0\.0\.1 is a loopback/],
  ['hex loopback (URL-normalised)', '0x7f.1', /127\.0\.0\.1 is a loopback/],
];

t.test('issue 13 item 6: checkDestination refuses every address that is not public unicast', async (t) => {
  for (const [label, host, why] of NOT_PUBLIC) {
    await t.test(label, (t) => refused(t, `https://${host}/hook`, { resolver: answering() }, why));
  }
});

t.test('issue 13 item 6: a name resolving to a private address is refused, any answer of several', async (t) => {
  for (const [label, host, why] of NOT_PUBLIC) {
    const address = host.replace(/^\[|\]$/g, '');
    if (!/^[0-9a-f.:]+$/i.test(address) || /^[0-9]+$/.test(address) || address.startsWith('0x')) continue;
    await refused(t, 'https://hooks.example.com/x', { resolver: answering(address) }, why);
    // One bad answer among public ones is enough: the connection could go to any of them.
    await refused(t, 'https://hooks.example.com/x', { resolver: answering(PUBLIC_V4, address) }, why);
    t.comment(label);
  }
  await refused(
    t,
    'https://nowhere.example/x',
    {
      resolver: async () => {
        throw new Error('ENOTFOUND');
      },
    },
    /does not resolve/,
  );
  await refused(t, 'https://empty.example/x', { resolver: answering() }, /does not resolve/);
});

t.test('issue 13 item 6: https to public addresses passes; the URL comes back parsed', async (t) => {
  const r = answering(PUBLIC_V4, PUBLIC_V6);
  const u = await checkDestination('https://Hooks.Example.com/a?b=1', { allowedRanges: [], resolver: r });
  t.equal(u.href, 'https://hooks.example.com/a?b=1');
  t.equal(r.calls, 1, 'the name was resolved');
  await checkDestination(`https://${PUBLIC_V4}:8443/x`, { allowedRanges: [], resolver: r });
  await checkDestination(`https://[${PUBLIC_V6}]/x`, { allowedRanges: [], resolver: r });
  t.equal(r.calls, 1, 'literal addresses are not resolved');
});

t.test('issue 13 item 6: http to a public address, user info, other schemes and non-URLs are refused', async (t) => {
  const r = answering(PUBLIC_V4);
  await refused(t, 'http://hooks.example.com/x', { resolver: r }, /must be https/);
  await refused(t, `http://${PUBLIC_V4}/x`, { resolver: r }, /must be https/);
  // Allowing a range allows http only towards it, not towards public addresses.
  await refused(t, `http://${PUBLIC_V4}/x`, { resolver: r, allowedRanges: ['127.0.0.0/8'] }, /must be https/);
  await refused(t, 'https://user:pw@hooks.example.com/x', { resolver: r }, /user name or password/);
  await refused(t, 'https://user@hooks.example.com/x', { resolver: r }, /user name or password/);
  await refused(t, 'ftp://hooks.example.com/x', { resolver: r }, /must be https/);
  await refused(t, 'file:///etc/passwd', { resolver: r }, /must be https/);
  await refused(t, 'hooks.example.com/x', { resolver: r }, /not an absolute URL/);
});

t.test('issue 13 item 6: WEBHOOK_ALLOWED_RANGES opens a range, over http too (the tests receiver)', async (t) => {
  const allowedRanges = ['127.0.0.0/8', '::1/128', '10.1.0.0/16'];
  await checkDestination('http://127.0.0.1:8080/x', { allowedRanges });
  await checkDestination('http://[::1]:8080/x', { allowedRanges });
  await checkDestination('http://[::ffff:127.0.0.1]:8080/x', { allowedRanges }); // mapped = IPv4
  await checkDestination('http://receiver.internal/x', { allowedRanges, resolver: answering('10.1.2.3') });
  await refused(t, 'https://10.2.0.1/x', { allowedRanges }, /private/);
  await refused(
    t,
    'http://mixed.internal/x',
    { allowedRanges, resolver: answering('10.1.2.3', PUBLIC_V4) },
    /must be https/,
  );
});

// ---- at delivery: the connector --------------------------------------------------------------

async function receiver(t: Test, host: string) {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    req.resume();
    res.end('ok');
  });
  server.listen(0, host);
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, hits: () => hits };
}

function agentFor(t: Test, allowedRanges: string[], resolver: Resolver) {
  const agent = new Agent({ connect: guardedConnector({ allowedRanges, resolver, timeoutMs: 5_000 }) });
  t.teardown(() => agent.close());
  return agent;
}

const post = (agent: Agent, url: string) =>
  request(url, { method: 'POST', body: '{}', dispatcher: agent }).then(async (r) => {
    await r.body.text();
    return r.statusCode;
  });

t.test('issue 13 item 6: the connector refuses a name that now resolves to loopback; nothing is sent', async (t) => {
  const rx = await receiver(t, '127.0.0.1');
  const agent = agentFor(t, [], answering('127.0.0.1'));
  await t.rejects(post(agent, `http://hooks.example.com:${rx.port}/x`), { name: 'UnsafeDestination' });
  // Over https the refusal comes first too (before any TLS).
  await t.rejects(post(agent, `https://hooks.example.com:${rx.port}/x`), { message: /loopback/ });
  t.equal(rx.hits(), 0, 'the receiver saw no request');
});

t.test('issue 13 item 6: DNS rebinding: public at creation, loopback at delivery, refused at delivery', async (t) => {
  const rx = await receiver(t, '127.0.0.1');
  let answer = PUBLIC_V4;
  const rebinding: Resolver = async () => [{ address: answer, family: 4 }];
  const url = `https://rebind.example.com:${rx.port}/x`;
  await checkDestination(url, { allowedRanges: [], resolver: rebinding });
  answer = '127.0.0.1';
  await t.rejects(post(agentFor(t, [], rebinding), url), {
    name: 'UnsafeDestination',
    message: /rebind\.example\.com resolves to 127\.0\.0\.1 is a loopback/,
  });
  t.equal(rx.hits(), 0);
});

t.test('issue 13 item 6: the connector passes with WEBHOOK_ALLOWED_RANGES covering loopback', async (t) => {
  const rx = await receiver(t, '127.0.0.1');
  const resolver = answering('127.0.0.1');
  const agent = agentFor(t, ['127.0.0.0/8'], resolver);
  t.equal(await post(agent, `http://hooks.example.com:${rx.port}/x`), 200, 'by name');
  t.equal(await post(agent, `http://127.0.0.1:${rx.port}/y`), 200, 'by literal address');
  t.equal(rx.hits(), 2);
  t.ok(resolver.calls >= 1, 'the connector resolved the name itself');
  // Another range allowed, but not loopback: refused.
  await t.rejects(post(agentFor(t, ['10.0.0.0/8'], resolver), `http://127.0.0.1:${rx.port}/z`), {
    name: 'UnsafeDestination',
  });
  t.equal(rx.hits(), 2);
});

t.test('issue 13 item 6: the connector reaches an allowed IPv6 address (bare, not bracketed)', async (t) => {
  const rx = await receiver(t, '::1');
  const resolver = answering('::1');
  const agent = agentFor(t, ['::1/128'], resolver);
  t.equal(await post(agent, `http://[::1]:${rx.port}/x`), 200, 'literal');
  t.equal(await post(agent, `http://v6.example.com:${rx.port}/x`), 200, 'a name resolving to ::1');
  await t.rejects(post(agentFor(t, [], resolver), `http://[::1]:${rx.port}/x`), { message: /loopback/ });
  t.equal(rx.hits(), 2);
});

t.test('issue 13 item 6: a lookup that never answers fails the check and the connection', async (t) => {
  const silent: Resolver = () => new Promise(() => {});
  await refused(
    t,
    'https://slow.example.com/x',
    { resolver: silent, resolveTimeoutMs: 20 },
    /does not resolve \(no answer/,
  );
  const rx = await receiver(t, '127.0.0.1');
  const agent = new Agent({
    connect: guardedConnector({ allowedRanges: ['127.0.0.0/8'], resolver: silent, timeoutMs: 50 }),
  });
  t.teardown(() => agent.close());
  await t.rejects(post(agent, `http://slow.example.com:${rx.port}/x`), { message: /no answer within 50 ms/ });
  t.equal(rx.hits(), 0);
});

// Issue 11, items 10-14: bad input is refused by the shared mechanisms (signed cursors, the JSON body
// parser, the validator, the framework and client error handlers) with a problem, never a 500.
import net from 'node:net';
import t from 'tap';
import { canonicalJson } from '../src/lib/canonical-json.js';
import { MAX_JSON_DEPTH } from '../src/plugins/json-body.js';
import { buildTestApp } from './helpers/app.js';
import { addUser, bearer, operator, reseller } from './helpers/fixtures.js';

const PROBLEM = /^application\/problem\+json/;
const b64 = (s: string) => Buffer.from(s).toString('base64url');

/** Every paginated list in the app's own OpenAPI document: operations with a `cursor` query parameter. */
async function paginatedLists(app: Awaited<ReturnType<typeof buildTestApp>>['app']) {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{
    paths: Record<
      string,
      Record<string, { operationId?: string; parameters?: { $ref?: string; name: string; in: string }[] }>
    >;
  }>();
  const lists: { path: string; operationId: string }[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    const get = item.get;
    // The cursor is a shared parameter (components.parameters.Cursor).
    if (
      get?.parameters?.some(
        (p) => p.$ref === '#/components/parameters/Cursor' || (p.in === 'query' && p.name === 'cursor'),
      )
    )
      // A path parameter gets a well-formed id: the cursor is checked before the lookup.
      lists.push({
        path: path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000'),
        operationId: get.operationId!,
      });
  }
  return lists;
}

t.test(
  'hardening-10: cursors are signed for one list, one tenant and one set of filters; any other answers 400 invalid_cursor',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const a = await reseller(app, op.token);
    const b = await reseller(app, op.token);
    await addUser(app, a.token, 'technical');
    await addUser(app, b.token, 'technical');

    const first = (await app.inject({ method: 'GET', url: '/v1/users?limit=1', headers: bearer(a.token) })).json();
    t.type(first.next_cursor, 'string', 'a first page with a cursor');
    const next = await app.inject({
      method: 'GET',
      url: `/v1/users?limit=1&cursor=${first.next_cursor}`,
      headers: bearer(a.token),
    });
    t.equal(next.statusCode, 200, 'the cursor works for the list and tenant it was issued to');
    t.not(next.json().data[0].id, first.data[0].id, 'and continues the list');

    const foreign = await app.inject({
      method: 'GET',
      url: `/v1/users?limit=1&cursor=${first.next_cursor}`,
      headers: bearer(b.token),
    });
    t.equal(foreign.statusCode, 400, "another tenant's cursor is refused");
    t.match(foreign.headers['content-type'], PROBLEM);
    t.equal(foreign.json().code, 'invalid_cursor');

    const [payload, tag] = (first.next_cursor as string).split('.') as [string, string];
    const forgedPosition = b64(JSON.stringify({ id: b.ownerId }));
    for (const forged of [
      `${forgedPosition}.${tag}`,
      `${payload}.${'A'.repeat(tag.length)}`,
      payload,
      b64('{"id":"x"}'),
      b64('{"id":1.5}'),
      b64('{"id":1e300}'),
    ]) {
      const res = await app.inject({ method: 'GET', url: `/v1/users?cursor=${forged}`, headers: bearer(a.token) });
      t.equal(res.statusCode, 400, `a forged cursor is refused: ${forged.slice(0, 30)}`);
      t.equal(res.json().code, 'invalid_cursor');
    }

    // Every paginated list refuses a cursor issued for another list, and forged positions of the
    // shapes that used to reach SQL (a text id, a fraction, 1e300, a year-99999 time, NUL).
    const lists = await paginatedLists(app);
    t.ok(lists.length >= 11, `${lists.length} paginated lists in the document`);
    const forgedShapes = [
      b64('{"id":"x"}'),
      b64('{"id":1.5}'),
      b64('{"id":1e300}'),
      b64(`{"t":"+099999-01-01T00:00:00.000Z","id":"${b.ownerId}"}`),
      b64('{"name":"\\u0000"}'),
      b64('{"handle":"RA-AAAAAAAAAA"}'),
    ];
    for (const list of lists) {
      const token = list.path.startsWith('/v1/admin') ? op.token : a.token;
      for (const cursor of [first.next_cursor as string, ...forgedShapes]) {
        if (list.operationId === 'listUsers' && cursor === first.next_cursor) continue;
        const res = await app.inject({ method: 'GET', url: `${list.path}?cursor=${cursor}`, headers: bearer(token) });
        t.equal(
          res.statusCode,
          400,
          `${list.operationId} refuses ${cursor === first.next_cursor ? 'a cursor of another list' : `a forged cursor ${cursor.slice(0, 24)}`}`,
        );
        t.equal(res.json().code, 'invalid_cursor');
      }
    }
  },
);

t.test('hardening-10: a cursor is bound to the filters of the list that issued it', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  for (let i = 0; i < 3; i++)
    await app.inject({
      method: 'PATCH',
      url: '/v1/account',
      headers: bearer(a.token),
      payload: { address: `Street ${i}` },
    });
  const first = (
    await app.inject({
      method: 'GET',
      url: '/v1/audit-events?limit=1&operation=updateAccount',
      headers: bearer(a.token),
    })
  ).json();
  t.type(first.next_cursor, 'string');
  const sameFilters = await app.inject({
    method: 'GET',
    url: `/v1/audit-events?limit=2&operation=updateAccount&cursor=${first.next_cursor}`,
    headers: bearer(a.token),
  });
  t.equal(sameFilters.statusCode, 200, 'the page size may change between pages');
  const otherFilters = await app.inject({
    method: 'GET',
    url: `/v1/audit-events?limit=1&cursor=${first.next_cursor}`,
    headers: bearer(a.token),
  });
  t.equal(otherFilters.statusCode, 400, 'other filters are another list');
  t.equal(otherFilters.json().code, 'invalid_cursor');
});

t.test('hardening-10: the transfers list takes no position from a foreign row', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  // The old cursor held only a transfer id and looked its row up in every account.
  const res = await app.inject({
    method: 'GET',
    url: `/v1/domain-transfers?cursor=${b64(JSON.stringify({ id: '00000000-0000-4000-8000-000000000000' }))}`,
    headers: bearer(a.token),
  });
  t.equal(res.statusCode, 400);
  t.equal(res.json().code, 'invalid_cursor');
});

t.test(
  'hardening-11: NUL and lone surrogates are refused at validation with 422 and a pointer, login included',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const a = await reseller(app, op.token);
    const cases = [
      {
        name: 'NUL in a login body (no credential needed)',
        method: 'POST',
        url: '/v1/auth/login',
        payload: '{"username":"a\\u0000b","password":"whatever-it-is"}',
        headers: {},
        pointer: '/body/username',
      },
      {
        name: 'NUL in a nested body field',
        method: 'POST',
        url: '/v1/contacts',
        payload: '{"name":"x","address":{"street":"\\u0000"}}',
        headers: bearer(a.token),
        pointer: '/body/address/street',
      },
      {
        name: 'a lone surrogate in a body',
        method: 'PATCH',
        url: '/v1/account',
        payload: '{"address":"x\\ud800y"}',
        headers: bearer(a.token),
        pointer: '/body/address',
      },
      {
        name: '%00 in a path parameter',
        method: 'GET',
        url: '/v1/domains/a%00b.com',
        headers: bearer(a.token),
        pointer: '/params/name',
      },
      {
        name: '%00 in a query value',
        method: 'GET',
        url: '/v1/domains?tld=%00',
        headers: bearer(a.token),
        pointer: '/query/tld',
      },
      {
        name: '%00 in an admin query',
        method: 'GET',
        url: '/v1/admin/abuse-complaints?domain=x%00y.com',
        headers: bearer(op.token),
        pointer: '/query/domain',
      },
    ];
    for (const c of cases) {
      const res = await app.inject({
        method: c.method as 'GET',
        url: c.url,
        headers: { ...c.headers, ...(c.payload ? { 'content-type': 'application/json' } : {}) },
        ...(c.payload ? { payload: c.payload } : {}),
      });
      t.equal(res.statusCode, 422, c.name);
      t.match(res.headers['content-type'], PROBLEM);
      t.equal(res.json().code, 'validation_failed');
      t.match(
        res.json().errors,
        [{ pointer: c.pointer, code: 'invalid_character' }],
        `${c.name}: points at ${c.pointer}`,
      );
    }
    // A well-formed pair (an emoji escaped as two surrogates) is ordinary text.
    const emoji = await app.inject({
      method: 'PATCH',
      url: '/v1/account',
      headers: { ...bearer(a.token), 'content-type': 'application/json' },
      payload: '{"address":"Street \\ud83e\\udd84 1"}',
    });
    t.equal(emoji.statusCode, 200, 'a surrogate pair is accepted');
  },
);

t.test(
  `hardening-12: JSON nested deeper than ${MAX_JSON_DEPTH} answers 400 json_too_deep; canonical JSON takes any depth`,
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const a = await reseller(app, op.token);
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    for (const body of [
      nested(3000),
      `{"name":${nested(3000)}}`,
      '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
      nested(MAX_JSON_DEPTH + 1),
    ]) {
      for (const [url, headers] of [
        ['/v1/contacts', bearer(a.token)],
        ['/v1/auth/login', {}],
      ] as const) {
        const res = await app.inject({
          method: 'POST',
          url,
          headers: { ...headers, 'content-type': 'application/json' },
          payload: body,
        });
        t.equal(res.statusCode, 400, `${url}: ${body.slice(0, 12)}... (${body.length} bytes)`);
        t.match(res.headers['content-type'], PROBLEM);
        t.equal(res.json().code, 'json_too_deep');
      }
    }
    const atLimit = await app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: { ...bearer(a.token), 'content-type': 'application/json' },
      payload: `{"name":${nested(MAX_JSON_DEPTH - 1)}}`,
    });
    t.equal(atLimit.statusCode, 422, `${MAX_JSON_DEPTH} levels are parsed (and then fail the schema)`);
    const inString = await app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: { ...bearer(a.token), 'content-type': 'application/json' },
      payload: JSON.stringify({ name: '['.repeat(100) }),
    });
    t.equal(inString.statusCode, 422, 'brackets inside strings do not count');

    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = i % 2 ? [deep] : { k: deep };
    t.doesNotThrow(() => canonicalJson(deep), 'canonicalJson is iterative');
    t.equal(
      canonicalJson({ b: [1, { d: null, c: undefined }], a: 'x' }),
      '{"a":"x","b":[1,{"d":null}]}',
      'and still sorts keys',
    );
  },
);

t.test(
  'hardening-13: limits, ids and amounts out of range are 422, and the document shows every integer bound',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const a = await reseller(app, op.token);
    for (const limit of ['Infinity', '-Infinity', '1e309', '-1e309', '1e300', '0', '1.5']) {
      for (const url of [
        `/v1/users?limit=${limit}`,
        `/v1/billing/transactions?limit=${limit}`,
        `/v1/domains?limit=${limit}`,
      ]) {
        const res = await app.inject({ method: 'GET', url, headers: bearer(a.token) });
        t.equal(res.statusCode, 422, url);
        t.match(res.json().errors, [{ pointer: '/query/limit' }]);
      }
    }
    const account = (credit: unknown) => ({
      name: 'Big Reseller',
      company_name: 'X',
      contact_email: 'a@b.test',
      contact_phone: '+49.3012345678',
      country: 'DE',
      address: 'A 1',
      currency: 'EUR',
      credit_limit: credit,
      owner: {
        username: `big${process.pid}`,
        email: 'big@b.test',
        name: 'Big',
        password: 'violet-Harbour-lantern-58!quay',
      },
    });
    for (const credit of [1e308, 1e20, 2 ** 53]) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/admin/accounts',
        headers: bearer(op.token),
        payload: account(credit),
      });
      t.equal(res.statusCode, 422, `credit_limit ${credit}`);
      t.match(res.json().errors, [{ pointer: '/body/credit_limit', code: 'too_large' }]);
    }
    const raw = await app.inject({
      method: 'POST',
      url: `/v1/admin/accounts/${a.accountId}/credit`,
      headers: { ...bearer(op.token), 'content-type': 'application/json' },
      payload: '{"amount":{"amount":1e309,"currency":"EUR"},"reason":"x"}',
    });
    t.equal(raw.statusCode, 422, 'a JSON number that overflows to Infinity');
    for (const id of ['1e20', '9223372036854775808', '0', '-1']) {
      const res = await app.inject({
        method: 'PATCH',
        url: `/v1/admin/fair-use/incidents/${id}`,
        headers: bearer(op.token),
        payload: { status: 'cleared' },
      });
      t.equal(res.statusCode, 422, `incident id ${id}`);
    }

    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const unbounded: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}/${i}`));
      if (node === null || typeof node !== 'object') return;
      const s = node as Record<string, unknown>;
      if (
        (s.type === 'integer' || s.type === 'number') &&
        (typeof s.minimum !== 'number' || typeof s.maximum !== 'number')
      )
        unbounded.push(at);
      for (const [k, v] of Object.entries(s)) walk(v, `${at}/${k}`);
    };
    walk(doc, '');
    t.same(unbounded, [], 'every integer in the OpenAPI document has a minimum and a maximum');
  },
);

t.test(
  'hardening-14: errors raised before a route runs are problem+json with a stable code and a request id',
  async (t) => {
    const { app } = await buildTestApp(t);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as net.AddressInfo).port;
    const raw = (request: string) =>
      new Promise<{ status: number; headers: Record<string, string>; body: string }>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
        let out = '';
        socket.on('data', (d) => (out += d.toString('latin1')));
        socket.on('error', reject);
        socket.on('close', () => {
          const [head = '', body = ''] = out.split('\r\n\r\n', 2);
          const [statusLine = '', ...lines] = head.split('\r\n');
          const headers = Object.fromEntries(
            lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
          );
          resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
        });
      });
    const cases = [
      {
        name: 'a bad URL encoding',
        request: 'GET /v1/domains/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        status: 400,
        code: 'invalid_url_encoding',
      },
      {
        name: 'a path parameter past the length limit',
        request: `GET /v1/domains/${'a'.repeat(1100)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        status: 414,
        code: 'uri_too_long',
      },
      {
        name: 'headers too large',
        request: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
        status: 431,
        code: 'headers_too_large',
      },
      {
        name: 'a URL too long for the header limit',
        request: `GET /v1/domains?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        status: 431,
        code: 'headers_too_large',
      },
      { name: 'malformed HTTP', request: 'BLAH\r\n\r\n', status: 400, code: 'malformed_request' },
      {
        name: 'a NUL in a header',
        request: 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n',
        status: 400,
        code: 'malformed_request',
      },
    ];
    for (const c of cases) {
      const res = await raw(c.request);
      t.equal(res.status, c.status, c.name);
      t.match(res.headers['content-type'], PROBLEM, `${c.name}: problem+json`);
      const body = JSON.parse(res.body) as { code: string; status: number; request_id: string };
      t.equal(body.code, c.code);
      t.equal(body.status, c.status);
      t.match(body.request_id, /^[0-9a-f-]{36}$/, `${c.name}: a request id`);
      t.equal(res.headers['x-request-id'], body.request_id, 'echoed in X-Request-Id');
      t.equal(res.headers['x-content-type-options'], 'nosniff', `${c.name}: hardening-8, nosniff on every response`);
    }
  },
);

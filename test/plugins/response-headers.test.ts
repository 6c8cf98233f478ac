// hardening-8: no-store on responses that carry a secret, nosniff on every response, a CSP on /docs,
// and CORS only when CORS_ORIGINS asks for it (an OPTIONS request is answered either way, never 405).
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { PROBLEM_CONTENT_TYPE } from '../../src/errors.js';
import { buildTestApp, TEST_MASTER_KEY } from '../helpers/app.js';
import { domainSetup, registered } from '../helpers/domains.js';
import { apiKey, bearer, operator, STRONG_PASSWORD, totp } from '../helpers/fixtures.js';

// One app (CORS off) for every test but the CORS_ORIGINS one: building apps is what costs here.
const { app } = await buildTestApp(t);
const { r } = await domainSetup(app);

t.test('hardening-8 / R-SEC-7: responses carrying secrets send Cache-Control: no-store; others do not', async (t) => {
  const key = await apiKey(app, r.token, ['domains:read']);
  const domain = await registered(app, r, 'no-store-probe.com');
  const calls: [
    string,
    { method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; payload?: object },
    number,
  ][] = [
    [
      'login',
      { method: 'POST', url: '/v1/auth/login', payload: { username: r.ownerUsername, password: STRONG_PASSWORD } },
      200,
    ],
    [
      'createApiKey',
      {
        method: 'POST',
        url: '/v1/api-keys',
        headers: bearer(r.token),
        payload: { name: 'k', scopes: ['domains:read'] },
      },
      201,
    ],
    [
      'rotateApiKey',
      { method: 'POST', url: `/v1/api-keys/${key.id}/rotate`, headers: bearer(r.token), payload: {} },
      200,
    ],
    [
      'getDomainAuthCode',
      { method: 'GET', url: `/v1/domains/${domain.name}/auth-code`, headers: bearer(r.token) },
      200,
    ],
    [
      'resetDomainAuthCode',
      { method: 'POST', url: `/v1/domains/${domain.name}/auth-code/reset`, headers: bearer(r.token), payload: {} },
      200,
    ],
    [
      'startTwoFactorEnrolment',
      { method: 'POST', url: `/v1/users/${r.ownerId}/two-factor`, headers: bearer(r.token), payload: {} },
      200,
    ],
    // A failure on such a route is no-store as well (here: no auth code).
    ['getDomainAuthCode', { method: 'GET', url: '/v1/domains/not-mine.com/auth-code', headers: bearer(r.token) }, 404],
  ];
  let seed = '';
  for (const [name, req, status] of calls) {
    const res = await app.inject(req);
    t.equal(res.statusCode, status, `${name} answers ${status}`);
    t.equal(res.headers['cache-control'], 'no-store', `${name}: Cache-Control: no-store`);
    if (name === 'startTwoFactorEnrolment') seed = res.json().secret;
  }
  const confirm = await app.inject({
    method: 'POST',
    url: `/v1/users/${r.ownerId}/two-factor/confirm`,
    headers: bearer(r.token),
    payload: { code: totp(seed) },
  });
  t.equal(confirm.statusCode, 200);
  t.ok(Array.isArray(confirm.json().recovery_codes));
  t.equal(confirm.headers['cache-control'], 'no-store', 'confirmTwoFactor (recovery codes): no-store');

  const plain = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) });
  t.equal(plain.statusCode, 200);
  t.equal(plain.headers['cache-control'], undefined, 'an ordinary read is not marked');
});

t.test('hardening-8: every response sends X-Content-Type-Options: nosniff, errors and 404s included', async (t) => {
  const responses = {
    ok: await app.inject({ method: 'GET', url: '/healthz' }),
    'unknown route': await app.inject({ method: 'GET', url: '/v1/no-such-route' }),
    'wrong method': await app.inject({ method: 'PUT', url: '/healthz' }),
    unauthenticated: await app.inject({ method: 'GET', url: '/v1/account' }),
    'invalid body': await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username: 1 } }),
    'wrong content type': await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      headers: { 'content-type': 'text/plain' },
      payload: 'x',
    }),
    'the document': await app.inject({ method: 'GET', url: '/openapi.json' }),
    'the reference page': await app.inject({ method: 'GET', url: '/docs' }),
  };
  for (const [what, res] of Object.entries(responses))
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${what} (${res.statusCode})`);
});

t.test('hardening-8: /docs sends a Content-Security-Policy that lets its own assets load', async (t) => {
  let page = await app.inject({ method: 'GET', url: '/docs' });
  if (page.statusCode === 302)
    page = await app.inject({
      method: 'GET',
      url: String(page.headers.location)
        .replace(/^\.?\/?/, '/docs/')
        .replace('/docs/docs/', '/docs/'),
    });
  t.equal(page.statusCode, 200);
  const csp = String(page.headers['content-security-policy'] ?? '');
  t.match(csp, /default-src 'self'/);
  t.match(csp, /script-src 'self'(;|$)/, 'scripts only from this server, none inline');
  t.match(csp, /object-src 'none'/);
  t.match(csp, /frame-ancestors 'none'/);
  const html = page.body;
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  t.ok(assets.length > 0, 'the page loads assets');
  for (const asset of assets) {
    t.notMatch(asset, /^(https?:)?\/\//, `${asset} comes from this server`);
    const url = asset.startsWith('/') ? asset : `/docs/${asset.replace(/^\.\//, '')}`;
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 200, `${url} loads`);
  }
  t.notMatch(html, /<script>(?!\s*<\/script>)/, 'no inline script the policy would block');
});

t.test(
  'hardening-8: without CORS_ORIGINS no CORS headers are sent, and OPTIONS answers 204 with Allow (404 for an unknown path), never 405',
  async (t) => {
    const origin = { origin: 'https://somewhere.example' };
    const get = await app.inject({ method: 'GET', url: '/healthz', headers: origin });
    t.equal(get.statusCode, 200);
    t.notOk(
      Object.keys(get.headers).some((h) => h.startsWith('access-control-')),
      'no CORS headers',
    );
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/v1/api-keys',
      headers: { ...origin, 'access-control-request-method': 'POST' },
    });
    t.equal(preflight.statusCode, 204);
    t.same(String(preflight.headers.allow).split(', ').sort(), ['GET', 'HEAD', 'OPTIONS', 'POST'].sort());
    t.notOk(
      Object.keys(preflight.headers).some((h) => h.startsWith('access-control-')),
      'the preflight grants nothing',
    );
    const withParams = await app.inject({
      method: 'OPTIONS',
      url: '/v1/api-keys/00000000-0000-4000-8000-000000000000/rotate',
    });
    t.equal(withParams.statusCode, 204);
    t.equal(withParams.headers.allow, 'POST, OPTIONS');
    const unknown = await app.inject({ method: 'OPTIONS', url: '/v1/no-such-route' });
    t.equal(unknown.statusCode, 404);
    t.match(String(unknown.headers['content-type']), PROBLEM_CONTENT_TYPE);
    t.equal(unknown.json().code, 'route_not_found');
    // The OPTIONS catch-all must not make every unknown path a 405.
    const missing = await app.inject({ method: 'GET', url: '/v1/no-such-route' });
    t.equal(missing.statusCode, 404);
    const wrongMethod = await app.inject({ method: 'DELETE', url: '/healthz' });
    t.equal(wrongMethod.statusCode, 405);
    t.equal(wrongMethod.headers.allow, 'GET, HEAD');
  },
);

t.test(
  'hardening-8: CORS_ORIGINS enables CORS for those origins only, preflights answered before authentication',
  async (t) => {
    const panel = 'https://panel.example.test';
    const { app } = await buildTestApp(t, { env: { CORS_ORIGINS: `${panel}, https://other.example.test` } });
    const op = await operator(app);
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/v1/api-keys',
      headers: {
        origin: panel,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, idempotency-key',
      },
    });
    t.equal(preflight.statusCode, 204);
    t.equal(preflight.headers['access-control-allow-origin'], panel);
    t.match(String(preflight.headers['access-control-allow-methods']), /POST/);
    t.match(String(preflight.headers['access-control-allow-headers']).toLowerCase(), /authorization/);
    t.match(String(preflight.headers['access-control-allow-headers']).toLowerCase(), /idempotency-key/);
    const call = await app.inject({
      method: 'GET',
      url: '/v1/auth/sessions',
      headers: { ...bearer(op.token), origin: panel },
    });
    t.equal(call.statusCode, 200);
    t.equal(call.headers['access-control-allow-origin'], panel);
    t.match(String(call.headers['access-control-expose-headers']).toLowerCase(), /ratelimit-remaining/);
    const error = await app.inject({ method: 'GET', url: '/v1/account', headers: { origin: panel } });
    t.equal(error.statusCode, 401);
    t.equal(error.headers['access-control-allow-origin'], panel, 'a browser can read the problem too');
    const stranger = await app.inject({
      method: 'GET',
      url: '/v1/auth/sessions',
      headers: { ...bearer(op.token), origin: 'https://evil.example' },
    });
    t.equal(stranger.headers['access-control-allow-origin'], undefined, 'another origin gets no grant');
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/no-such-route' })).statusCode,
      404,
      'unknown paths are still 404',
    );
  },
);

t.test('hardening-8: CORS_ORIGINS takes origins only', async (t) => {
  const base = { MASTER_KEY: TEST_MASTER_KEY };
  t.same(loadConfig({ ...base, CORS_ORIGINS: 'https://a.example, http://localhost:5173' }).corsOrigins, [
    'https://a.example',
    'http://localhost:5173',
  ]);
  t.same(loadConfig(base).corsOrigins, []);
  t.throws(() => loadConfig({ ...base, CORS_ORIGINS: 'https://a.example/path' }), /CORS_ORIGINS/);
  t.throws(() => loadConfig({ ...base, CORS_ORIGINS: 'a.example' }), /CORS_ORIGINS/);
});

import t from 'tap';
import { Type } from 'typebox';
import { buildApp } from '../../src/app.js';
import { testStore } from '../helpers/db.js';
import { buildTestApp, testConfig } from '../helpers/app.js';

t.test('GET /openapi.json serves an OpenAPI 3.1 document with every operation complete', async (t) => {
  const { app } = await buildTestApp(t);
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  t.equal(res.statusCode, 200);
  const doc = res.json();
  t.equal(doc.openapi, '3.1.0');
  t.ok(doc.components.schemas.Problem, 'Problem is a named component');
  const ids = new Set<string>();
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      t.match(op.operationId, /^[a-z][A-Za-z0-9]*$/, `${method} ${path} operationId`);
      t.notOk(ids.has(op.operationId), `${op.operationId} is unique`);
      ids.add(op.operationId);
      t.ok(op.tags?.length, `${op.operationId} has tags`);
      t.ok(Array.isArray(op.security), `${op.operationId} declares security`);
      t.ok(
        Object.keys(op.responses).some((s) => s.startsWith('2')),
        `${op.operationId} has a 2xx response`,
      );
      t.ok(op.responses['500'], `${op.operationId} documents 500`);
    }
  }
  t.ok(ids.has('getHealth') && ids.has('getReadiness'), 'health operations present');
});

t.test('GET /docs serves the interactive reference', async (t) => {
  const { app } = await buildTestApp(t);
  const res = await app.inject({ method: 'GET', url: '/docs/' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], 'text/html');
});

t.test('PUBLIC_URL becomes the server in the document', async (t) => {
  const { app } = await buildTestApp(t, { env: { PUBLIC_URL: 'https://api.reseller.test/' } });
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  t.same(
    doc.servers.map((s: { url: string }) => s.url),
    ['https://api.reseller.test'],
  );
});

t.test('a route without operationId, permission or a 2xx schema refuses to start', async (t) => {
  const store = await testStore(t);
  const ok = { operationId: 'x', tags: ['x'], summary: 's', response: { 200: Type.Object({}) } };
  const cases: [string, Record<string, unknown>, Record<string, unknown> | undefined, RegExp][] = [
    ['no operationId', { ...ok, operationId: undefined }, { permission: 'public' }, /operationId/],
    ['no permission', ok, undefined, /OPERATION_PERMISSIONS/],
    ['no 2xx', { ...ok, response: {} }, { permission: 'public' }, /2xx/],
  ];
  for (const [name, schema, config, message] of cases) {
    const app = await buildApp(testConfig({ LOG_LEVEL: 'silent' }), { store });
    t.throws(() => app.get('/v1/bad', { schema, ...(config ? { config } : {}) }, async () => ({})), message, name);
    await app.close();
  }
});

t.test('secured routes document both security schemes and 401/403', async (t) => {
  const { app } = await buildTestApp(t);
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  t.same(Object.keys(doc.components.securitySchemes).sort(), ['bearerAuth', 'hmacSignature']);
  t.match(doc.components.securitySchemes.hmacSignature.description, 'canonical string');
  const op = doc.paths['/v1/account'].get;
  t.same(
    op.security,
    [{ bearerAuth: ['account:read'] }, { hmacSignature: ['account:read'] }],
    'with the scope the operation needs',
  );
  t.ok(op.responses['401'] && op.responses['403']);
  t.same(doc.paths['/healthz'].get.security, []);
});

t.test('each operation documents exactly its own error codes, as an enum per status', async (t) => {
  const { app } = await buildTestApp(t);
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const schemas = doc.components.schemas as Record<string, any>;
  const codeOf = (ref: string): string => {
    const name = ref.replace('#/components/schemas/', '');
    const own = schemas[name]?.allOf?.[1]?.properties?.code?.enum;
    t.equal(own?.length, 1, `${name} has code as an enum of one`);
    return own?.[0];
  };
  /** The codes one response allows, read the way a generated client reads them. */
  const codes = (response: any): string[] => {
    const s = response.content['application/problem+json'].schema;
    if (s.$ref) return [codeOf(s.$ref)];
    t.equal(s.discriminator?.propertyName, 'code', 'several codes: oneOf with a discriminator on code');
    const list = s.oneOf.map((o: { $ref: string }) => codeOf(o.$ref));
    t.same(Object.keys(s.discriminator.mapping).sort(), [...list].sort(), 'the mapping names each code');
    return list;
  };
  const errorsOf = (path: string, method: string) =>
    Object.fromEntries(
      Object.entries<any>(doc.paths[path][method].responses)
        // /readyz's 503 is its own readiness body.
        .filter(([status, r]) => /^[45]/.test(status) && r.content?.['application/problem+json'])
        .map(([status, r]) => [status, codes(r).sort()]),
    );
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths))
    for (const method of Object.keys(item)) {
      const all = errorsOf(path, method);
      t.ok(all['500']?.includes('internal_error'), `${method} ${path}: 500 internal_error`);
      if (path !== '/readyz')
        t.ok(all['503']?.includes('service_unavailable'), `${method} ${path}: 503 service_unavailable`);
    }

  t.notOk(errorsOf('/v1/account', 'get')['429']?.includes('login_locked'), 'GET /v1/account: no login_locked');
  t.same(
    errorsOf('/v1/api-keys', 'post')['409'],
    ['idempotency_key_in_use', 'repeated_failed_command'],
    'POST /v1/api-keys: the conflicts it can meet, not every conflict of the API',
  );
  const register = errorsOf('/v1/domains', 'post');
  t.same(register['402'], ['insufficient_funds']);
  t.ok(register['409']?.includes('price_changed') && !register['409']?.includes('domain_locked'));
  t.same(
    errorsOf('/v1/auth/login', 'post')['429'],
    ['login_locked', 'rate_limited'],
    'a public route: metered by address; no per-account concurrency, no bulk',
  );
  t.notOk(errorsOf('/v1/auth/login', 'post')['401']?.includes('authentication_required'));

  // The extra members of a code are typed on its own schema.
  const ext = (name: string) => schemas[name].allOf[1];
  t.same(ext('PriceChangedProblem').required, ['code', 'price', 'max_price']);
  t.ok(ext('InsufficientFundsProblem').properties.available && ext('InsufficientFundsProblem').properties.required);
  t.same(ext('ExpiryMismatchProblem').required, ['code', 'expires_at']);
  t.ok(ext('TwoFactorEnrolmentRequiredProblem').properties.enrolment_token, 'the 2FA enrolment token');
  t.ok(ext('RepeatedFailedCommandProblem').properties.first_failure);
  t.ok(ext('RateLimitedProblem').properties.retry_after_seconds);
  // A 405 belongs to no operation (it answers a method the path lacks): a shared response documents it.
  t.ok(doc.components.responses?.MethodNotAllowed, 'method_not_allowed is documented as a shared response');
});

import t from 'tap';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
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

// ---- what an SDK generator gets (issue 12, item 6) ---------------------------------------------

type Json = Record<string, any>;
const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch']);

function operations(doc: Json): [string, Json][] {
  const out: [string, Json][] = [];
  for (const [path, item] of Object.entries<Json>(doc.paths))
    for (const [method, op] of Object.entries<Json>(item)) if (METHODS.has(method)) out.push([`${method} ${path}`, op]);
  return out;
}

function subschemas(node: unknown, visit: (n: Json, at: string) => void, at = ''): void {
  if (Array.isArray(node)) node.forEach((n, i) => subschemas(n, visit, `${at}/${i}`));
  else if (node && typeof node === 'object') {
    visit(node, at);
    for (const [k, v] of Object.entries(node))
      if (!k.startsWith('x-') && k !== 'examples' && k !== 'example') subschemas(v, visit, `${at}/${k}`);
  }
}

/** A validator for any JSON pointer into the document (OpenAPI 3.1 schemas are JSON Schema 2020-12). */
function documentValidator(doc: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
  (formatsPlugin as unknown as { default: (a: Ajv2020) => void }).default(ajv);
  ajv.addSchema(doc, 'doc');
  return (pointer: string, value: unknown) => {
    const validate = ajv.compile({ $ref: `doc#${pointer}` });
    return validate(value) ? null : ajv.errorsText(validate.errors);
  };
}

const pointerPart = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

t.test('entities are named components, each defined once', async (t) => {
  const { app } = await buildTestApp(t);
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const schemas = doc.components.schemas;
  for (const name of [
    'Domain',
    'DomainList',
    'Contact',
    'ContactList',
    'Money',
    'Transfer',
    'TransferList',
    'ApiKey',
    'User',
    'UserList',
    'Incident',
    'IncidentList',
    'AbuseComplaint',
    'AbuseComplaintList',
    'Tld',
    'CheckResult',
    'Problem',
  ])
    t.ok(schemas[name], `${name} is a component`);
  t.same(Object.keys(doc.components.parameters).sort(), ['Cursor', 'IdempotencyKey', 'Limit']);

  // No component's shape appears inline anywhere else: compare each object schema's property names.
  const shapes = new Map<string, string>();
  for (const [name, s] of Object.entries<Json>(schemas))
    if (s.type === 'object' && s.properties) shapes.set(Object.keys(s.properties).sort().join(','), name);
  const inlined: string[] = [];
  subschemas(doc, (n, at) => {
    if (at.startsWith('/components/schemas/') && at.split('/').length === 4) return;
    if (n.type !== 'object' || !n.properties) return;
    const name = shapes.get(Object.keys(n.properties).sort().join(','));
    // The request-side money (max_price, amounts sent) has its own bounds: only responses count.
    if (name && !(name === 'Money' && (at.includes('/requestBody/') || n.properties.amount.minimum >= 0)))
      inlined.push(`${name} at ${at}`);
  });
  t.same(inlined, [], 'no entity inlined');
  const json = JSON.stringify(doc);
  t.equal(json.split('"Minor units (cents, kopecks)"').length - 1, 1, "Money's shape appears once");

  // Lists use the shared parameters.
  const listDomains = doc.paths['/v1/domains'].get;
  t.same(
    listDomains.parameters.filter((p: Json) => p.$ref).map((p: Json) => p.$ref),
    ['#/components/parameters/Limit', '#/components/parameters/Cursor'],
  );
  t.same(listDomains.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/DomainList' });
});

t.test('enums carry their type, nullable scalars are type arrays, unions by a field are discriminated', async (t) => {
  const { app } = await buildTestApp(t);
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const untyped: string[] = [];
  const anyOfNull: string[] = [];
  subschemas(doc, (n, at) => {
    if (Array.isArray(n.enum) && n.type === undefined) untyped.push(at);
    if (
      Array.isArray(n.anyOf) &&
      n.anyOf.some((a: Json) => a.type === 'null') &&
      n.anyOf.some((a: Json) => ['string', 'integer', 'number', 'boolean'].includes(a.type))
    )
      anyOfNull.push(at);
  });
  t.same(untyped, [], 'every enum has a type');
  t.same(anyOfNull, [], 'no anyOf [scalar, null]');
  t.same(doc.components.schemas.Domain.properties.autorenew_failed_at.type, ['string', 'null']);

  for (const [name, field] of [
    ['CheckResult', 'status'],
    ['Incident', 'type'],
  ] as const) {
    const s = doc.components.schemas[name];
    t.ok(Array.isArray(s.oneOf) && s.oneOf.length > 1, `${name} is a oneOf`);
    t.equal(s.discriminator.propertyName, field, `${name} is discriminated by ${field}`);
    for (const target of Object.values<string>(s.discriminator.mapping))
      t.ok(doc.components.schemas[target.split('/').pop()!], `${name}: ${target} exists`);
  }

  // Real answers match the document's discriminated form.
  const valid = documentValidator(doc);
  const { domainSetup, checkNames, fundedReseller, registered } = await import('../helpers/domains.js');
  const { op, r } = await domainSetup(app);
  await registered(app, r, 'taken-one.com');
  const other = await fundedReseller(app, op.token, 0); // R-DOM-2: r checked taken-one.com seconds ago
  const checked = await checkNames(app, other, 'free-one.com', 'taken-one.com', 'bad_name.com', 'x.nosuchtld');
  t.equal(checked.statusCode, 200, checked.body);
  const results = checked.json().results as Json[];
  t.same(
    results.map((x) => x.status),
    ['free', 'taken', 'invalid', 'invalid'],
  );
  for (const result of results)
    t.equal(valid('/components/schemas/CheckResult', result), null, `a ${result.status} result matches CheckResult`);
});

t.test('headers, scopes, optional bodies and examples are declared', async (t) => {
  const { app } = await buildTestApp(t);
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const valid = documentValidator(doc);
  for (const [where, op] of operations(doc)) {
    for (const [status, response] of Object.entries<Json>(op.responses))
      t.ok(response.headers?.['X-Request-Id'], `${where} ${status}: X-Request-Id`);
    if (op.responses['429']) {
      t.ok(op.responses['429'].headers['Retry-After'], `${where}: Retry-After on 429`);
      const ok = Object.keys(op.responses).find((s) => s.startsWith('2'))!;
      t.ok(op.responses[ok].headers['RateLimit-Remaining'], `${where}: RateLimit-* on ${ok}`);
    }
    const idempotent = (op.parameters ?? []).some((p: Json) => p.$ref === '#/components/parameters/IdempotencyKey');
    if (where.startsWith('post ') && op.security.length && where !== 'post /v1/auth/login')
      t.ok(idempotent, `${where}: takes Idempotency-Key`);
    if (idempotent) {
      const ok = Object.keys(op.responses).find((s) => s.startsWith('2'))!;
      t.ok(op.responses[ok].headers['Idempotent-Replayed'], `${where}: Idempotent-Replayed`);
    }

    const permission = op['x-permission'];
    if (permission !== 'public') {
      t.same(op.security, [{ bearerAuth: [permission] }, { hmacSignature: [permission] }], `${where}: scope`);
      t.match(op.description, permission, `${where}: the description names ${permission}`);
    }

    const [method, ...path] = where.split(' ');
    const opAt = `/paths/${pointerPart(path.join(' '))}/${method}`;
    // Every response example (given or generated) is what the response schema allows: an SDK
    // generator or a mock server takes it as a real answer.
    for (const [status, response] of Object.entries<Json>(op.responses)) {
      const m = response.content?.['application/json'];
      const example = m?.example ?? m?.schema?.examples?.[0];
      if (example === undefined) continue;
      const schemaAt = `${opAt}/responses/${status}/content/application~1json/schema`;
      t.equal(valid(schemaAt, example), null, `${where} ${status}: its example matches the schema`);
    }

    const body = op.requestBody?.content?.['application/json'];
    if (!body) continue;
    const at = `${opAt}/requestBody/content/application~1json`;
    const schema = body.schema.$ref ? doc.components.schemas[body.schema.$ref.split('/').pop()] : body.schema;
    const required = Array.isArray(schema.required) && schema.required.length > 0;
    t.equal(op.requestBody.required === true, required, `${where}: body required only when a field is`);
    const example = body.example ?? body.schema.examples?.[0] ?? schema.examples?.[0];
    t.not(example, undefined, `${where}: the request body has an example`);
    t.equal(valid(`${at}/schema`, example), null, `${where}: its example matches the schema`);
  }
  for (const [name, s] of Object.entries<Json>(doc.components.schemas))
    if (s.examples) t.equal(valid(`/components/schemas/${name}`, s.examples[0]), null, `${name}: example matches`);
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

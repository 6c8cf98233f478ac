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

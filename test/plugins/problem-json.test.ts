import t, { type Test } from 'tap';
import { Type } from 'typebox';
import { defineError, PROBLEM_CONTENT_TYPE } from '../../src/errors.js';
import { buildApp, type App } from '../../src/app.js';
import type { UndeclaredError } from '../../src/plugins/problem-json.js';
import { buildTestApp, testConfig } from '../helpers/app.js';
import { testStore } from '../helpers/db.js';

const Teapot = defineError(
  'test_teapot_refused',
  409,
  'The teapot refuses',
  Type.Object({ brew_after: Type.String() }),
);

// Routes that exist only in this test, registered on the real app before ready().
function testRoutes(app: App) {
  app.post(
    '/v1/test-echo/:id',
    {
      schema: {
        operationId: 'testEcho',
        tags: ['test'],
        summary: 'echo',
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) },
          { additionalProperties: false },
        ),
        body: Type.Object(
          {
            name: Type.String({ minLength: 1 }),
            email: Type.String({ format: 'email' }),
            'odd/key': Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ ok: Type.Boolean() }) },
      },
      config: { permission: 'public' },
    },
    async () => ({ ok: true }),
  );
  app.get(
    '/v1/test-crash',
    {
      schema: { operationId: 'testCrash', tags: ['test'], summary: 'crash', response: { 200: Type.Object({}) } },
      config: { permission: 'public' },
    },
    async () => {
      throw new Error('connect ECONNREFUSED 10.1.2.3:5432 at select * from secrets where password = hunter2');
    },
  );
  app.get(
    '/v1/test-coded',
    {
      schema: {
        operationId: 'testCoded',
        tags: ['test'],
        summary: 'coded',
        errors: [Teapot],
        response: { 200: Type.Object({}) },
      },
      config: { permission: 'public' },
    },
    async () => {
      throw new Teapot('No tea today', {
        extensions: { brew_after: '2026-01-01T00:00:00Z' },
        headers: { 'retry-after': '60' },
      });
    },
  );
}

const ID = '6f1c2b8e-6d0a-4f7e-9a55-0b9a4c1f2e3d';

function assertProblem(
  t: Test,
  res: { statusCode: number; headers: Record<string, unknown>; json(): any },
  status: number,
  code: string,
) {
  t.equal(res.statusCode, status, `status ${status}`);
  t.match(String(res.headers['content-type']), PROBLEM_CONTENT_TYPE);
  const body = res.json();
  t.equal(body.status, status);
  t.equal(body.code, code);
  t.equal(body.type, `urn:reseller-api:problem:${code}`);
  t.type(body.title, 'string');
  t.type(body.detail, 'string');
  t.type(body.instance, 'string');
  t.equal(body.request_id, res.headers['x-request-id']);
  return body;
}

t.test('an unknown route answers 404 problem+json', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  const res = await app.inject({ method: 'GET', url: '/v1/nothing-here?x=1' });
  const body = assertProblem(t, res, 404, 'route_not_found');
  t.equal(body.instance, '/v1/nothing-here');
});

t.test('a known path with the wrong method answers 405 with Allow', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  const res = await app.inject({ method: 'DELETE', url: `/v1/test-echo/${ID}` });
  assertProblem(t, res, 405, 'method_not_allowed');
  t.equal(res.headers.allow, 'POST');
});

t.test('an invalid body answers 422 with a pointer per field', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  const res = await app.inject({
    method: 'POST',
    url: `/v1/test-echo/${ID}`,
    payload: { email: 'not-an-email', extra: 1 },
  });
  const body = assertProblem(t, res, 422, 'validation_failed');
  const byPointer = Object.fromEntries(body.errors.map((e: { pointer: string; code: string }) => [e.pointer, e.code]));
  t.same(byPointer, { '/body/name': 'required', '/body/email': 'invalid_format', '/body/extra': 'unknown_field' });
});

t.test('params and query are validated with their own pointers', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  const bad = await app.inject({
    method: 'POST',
    url: '/v1/test-echo/not-a-uuid',
    payload: { name: 'a', email: 'a@b.co' },
  });
  t.same(
    assertProblem(t, bad, 422, 'validation_failed').errors.map((e: { pointer: string }) => e.pointer),
    ['/params/id'],
  );
  const q = await app.inject({
    method: 'POST',
    url: `/v1/test-echo/${ID}?limit=9999`,
    payload: { name: 'a', email: 'a@b.co' },
  });
  t.same(assertProblem(t, q, 422, 'validation_failed').errors, [
    { pointer: '/query/limit', code: 'too_large', message: 'must be <= 500' },
  ]);
  const ok = await app.inject({
    method: 'POST',
    url: `/v1/test-echo/${ID}?limit=5`,
    payload: { name: 'a', email: 'a@b.co' },
  });
  t.equal(ok.statusCode, 200);
});

t.test('JSON pointer escapes "/" in field names', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  const res = await app.inject({
    method: 'POST',
    url: `/v1/test-echo/${ID}`,
    payload: { name: 'a', email: 'a@b.co', 'odd/key': 5 },
  });
  t.same(
    assertProblem(t, res, 422, 'validation_failed').errors.map((e: { pointer: string }) => e.pointer),
    ['/body/odd~1key'],
  );
});

t.test('malformed JSON answers 400 malformed_json', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  const res = await app.inject({
    method: 'POST',
    url: `/v1/test-echo/${ID}`,
    headers: { 'content-type': 'application/json' },
    payload: '{"name": "a",',
  });
  assertProblem(t, res, 400, 'malformed_json');
});

t.test('valid JSON with a __proto__ or constructor.prototype key is 422 forbidden_key, not "malformed"', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  for (const [payload, message] of [
    ['{"name": "a", "__proto__": {"admin": true}}', 'holds a "__proto__" key'],
    ['{"name": "a", "constructor": {"prototype": {"admin": true}}}', 'holds a "constructor.prototype" key'],
  ] as const) {
    const res = await app.inject({
      method: 'POST',
      url: `/v1/test-echo/${ID}`,
      headers: { 'content-type': 'application/json' },
      payload,
    });
    assertProblem(t, res, 422, 'validation_failed');
    t.same(res.json().errors, [{ pointer: '/body', code: 'forbidden_key', message }]);
  }
});

t.test('a body of the wrong content type, or JSON in another charset than UTF-8, answers 415', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  const res = await app.inject({
    method: 'POST',
    url: `/v1/test-echo/${ID}`,
    headers: { 'content-type': 'application/xml' },
    payload: '<name>a</name>',
  });
  assertProblem(t, res, 415, 'unsupported_media_type');
  for (const type of ['application/json; charset=utf-16', 'application/json;charset="ISO-8859-1"']) {
    const other = await app.inject({
      method: 'POST',
      url: `/v1/test-echo/${ID}`,
      headers: { 'content-type': type },
      payload: '{"name": "a", "email": "a@b.co"}',
    });
    assertProblem(t, other, 415, 'unsupported_media_type');
  }
  for (const type of ['application/json; charset=utf-8', 'application/json; charset=UTF-8', 'application/json']) {
    const ok = await app.inject({
      method: 'POST',
      url: `/v1/test-echo/${ID}`,
      headers: { 'content-type': type },
      payload: '{"name": "a", "email": "a@b.co"}',
    });
    t.not(ok.statusCode, 415, `${type} is JSON as RFC 8259 has it`);
  }
});

t.test('a body over BODY_LIMIT answers 413', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes, env: { BODY_LIMIT: '2048' } });
  const res = await app.inject({
    method: 'POST',
    url: `/v1/test-echo/${ID}`,
    payload: { name: 'x'.repeat(4096), email: 'a@b.co' },
  });
  assertProblem(t, res, 413, 'payload_too_large');
});

t.test('an unexpected exception answers 500 without internals, and is logged', async (t) => {
  const { app, logs } = await buildTestApp(t, { configure: testRoutes });
  const res = await app.inject({ method: 'GET', url: '/v1/test-crash' });
  const body = assertProblem(t, res, 500, 'internal_error');
  for (const leak of ['ECONNREFUSED', '10.1.2.3', 'select', 'hunter2', 'at ', '.ts']) {
    t.notMatch(res.body, leak, `response does not show ${leak}`);
  }
  t.same(Object.keys(body).sort(), ['code', 'detail', 'instance', 'request_id', 'status', 'title', 'type']);
  const logged = logs().find((l) => l.msg === 'request failed');
  t.ok(logged, 'the failure is logged');
  t.equal(logged?.request_id, body.request_id, 'the log line carries the request id the client saw');
  t.match(JSON.stringify(logged), 'ECONNREFUSED', 'the log keeps the real cause for operators');
});

t.test('a coded error keeps its code, extensions and headers', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  const res = await app.inject({ method: 'GET', url: '/v1/test-coded' });
  const body = assertProblem(t, res, 409, 'test_teapot_refused');
  t.equal(body.detail, 'No tea today');
  t.equal(body.brew_after, '2026-01-01T00:00:00Z');
  t.equal(res.headers['retry-after'], '60');
});

t.test('defineError refuses a duplicate or non-snake_case code', async (t) => {
  t.throws(() => defineError('test_teapot_refused', 400, 'again'), /defined twice/);
  t.throws(() => defineError('NotSnake', 400, 'x'), /snake_case/);
});

t.test('problem responses are documented on every route', async (t) => {
  const { app } = await buildTestApp(t, { configure: testRoutes });
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const post = doc.paths['/v1/test-echo/{id}'].post;
  for (const status of ['400', '413', '415', '422', '500']) {
    t.ok(post.responses[status]?.content?.[PROBLEM_CONTENT_TYPE], `POST documents ${status} as problem+json`);
  }
  const get = doc.paths['/healthz'].get;
  t.ok(get.responses['500'], 'GET documents 500');
  // Even without a query schema, a query holding %00 is refused before anything reads it.
  t.ok(get.responses['422'], 'a route without input documents 422 too');
});

t.test('a route that answers a code it does not declare is caught (the check the test suite runs with)', async (t) => {
  const store = await testStore(t);
  const undeclared: UndeclaredError[] = [];
  const app = await buildApp(testConfig({ LOG_LEVEL: 'silent' }), {
    store,
    checkErrorCodes: (u) => undeclared.push(u),
  });
  testRoutes(app);
  app.get(
    '/v1/test-undeclared',
    {
      schema: {
        operationId: 'testUndeclared',
        tags: ['test'],
        summary: 'undeclared',
        response: { 200: Type.Object({}) },
      },
      config: { permission: 'public' },
    },
    async () => {
      throw new Teapot('Not on the list');
    },
  );
  t.teardown(() => app.close());
  const declared = await app.inject({ method: 'GET', url: '/v1/test-coded' });
  assertProblem(t, declared, 409, 'test_teapot_refused');
  const res = await app.inject({ method: 'GET', url: '/v1/test-undeclared' });
  const body = assertProblem(t, res, 500, 'internal_error');
  t.match(body.detail, 'test_teapot_refused');
  t.same(undeclared, [{ method: 'GET', url: '/v1/test-undeclared', code: 'test_teapot_refused' }]);
  // What every route may answer without listing it: validation (it has no input here, so not that).
  const notFoundHandler = await app.inject({ method: 'GET', url: '/v1/nothing-here' });
  assertProblem(t, notFoundHandler, 404, 'route_not_found');
  t.equal(undeclared.length, 1, 'the 404 of an unknown route is no route’s code');
});

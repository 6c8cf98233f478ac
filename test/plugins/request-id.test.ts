import t from 'tap';
import { Type } from 'typebox';
import { REDACTED } from '../../src/lib/redact.js';
import { buildTestApp } from '../helpers/app.js';

t.test('a sane incoming X-Request-Id is used, echoed and logged', async (t) => {
  const { app, logs } = await buildTestApp(t);
  const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'client-trace-0001' } });
  t.equal(res.headers['x-request-id'], 'client-trace-0001');
  t.ok(
    logs().some((l) => l.request_id === 'client-trace-0001'),
    'log lines carry the id',
  );
});

t.test('a missing or unsafe X-Request-Id is replaced by a fresh UUID', async (t) => {
  const { app } = await buildTestApp(t);
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const none = await app.inject({ method: 'GET', url: '/healthz' });
  t.match(none.headers['x-request-id'], uuid);
  const evil = await app.inject({
    method: 'GET',
    url: '/healthz',
    headers: { 'x-request-id': 'a\nfake log line {"level":60}' },
  });
  t.match(evil.headers['x-request-id'], uuid);
  const short = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc' } });
  t.match(short.headers['x-request-id'], uuid);
  t.not(none.headers['x-request-id'], short.headers['x-request-id'], 'ids differ per request');
});

t.test('logs redact Authorization, passwords, secrets, auth codes and API keys', async (t) => {
  const secrets = {
    authorization: 'Bearer sk_live_AUTHHEADERSECRET',
    password: 'PASSWORDSECRET-1',
    new_password: 'PASSWORDSECRET-2',
    nested: { auth_code: 'AUTHCODESECRET', api_key: 'APIKEYSECRET', client_secret: 'CLIENTSECRET' },
    list: [{ totp_code: '123456-TOTPSECRET' }],
  };
  const { app, logs } = await buildTestApp(t, {
    configure(app) {
      app.post(
        '/v1/test-fail',
        {
          schema: {
            operationId: 'testFail',
            tags: ['test'],
            summary: 'fails',
            body: Type.Object({}, { additionalProperties: true }),
            response: { 200: Type.Object({}) },
          },
          config: { permission: 'public' },
        },
        async (req) => {
          req.log.info({ headers: req.headers, body: req.body }, 'handler saw the request');
          throw new Error('boom');
        },
      );
    },
  });
  const res = await app.inject({
    method: 'POST',
    url: '/v1/test-fail',
    headers: { authorization: secrets.authorization },
    payload: {
      password: secrets.password,
      new_password: secrets.new_password,
      nested: secrets.nested,
      list: secrets.list,
      name: 'visible-name',
    },
  });
  t.equal(res.statusCode, 500);
  const all = JSON.stringify(logs());
  for (const s of [
    'AUTHHEADERSECRET',
    'PASSWORDSECRET-1',
    'PASSWORDSECRET-2',
    'AUTHCODESECRET',
    'APIKEYSECRET',
    'CLIENTSECRET',
    'TOTPSECRET',
  ]) {
    t.notMatch(all, s, `${s} is not in the logs`);
  }
  t.match(all, REDACTED, 'redacted values are marked');
  t.match(all, 'visible-name', 'ordinary fields are still logged');
  t.ok(
    logs().some((l) => l.msg === 'request failed' && (l.body as Record<string, unknown>)?.password === REDACTED),
    'the 5xx log keeps the body, masked',
  );
});

// hardening-20: a request that arrives on a kept-alive connection once shutdown has begun gets 503
// service_unavailable with Connection: close, not a reset; requests in flight still finish.
import { Agent, request } from 'node:http';
import t from 'tap';
import { Type } from 'typebox';
import { buildTestApp } from '../helpers/app.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  localPort: number;
}

function get(url: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      const localPort = res.socket.localPort!;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, localPort }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function untilStoppedListening(app: { server: { listening: boolean } }): Promise<void> {
  while (app.server.listening) await new Promise((r) => setImmediate(r));
}

t.test(
  'hardening-20: once close() begins, a request on a kept-alive connection gets 503 with Connection: close, not ECONNRESET',
  async (t) => {
    const { app, store } = await buildTestApp(t, { env: { SHUTDOWN_KEEPALIVE_GRACE_MS: '5000' } });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => agent.destroy());

    const first = await get(`${base}/healthz`, agent);
    t.equal(first.status, 200);
    t.not(first.headers.connection, 'close', 'the connection is kept alive');

    // SIGTERM runs app.close() (src/server.ts). Once the server no longer accepts connections, the
    // kept-alive one must still be there to answer.
    const closing = app.close();
    await untilStoppedListening(app);
    const during = await get(`${base}/v1/account`, agent);
    t.equal(during.localPort, first.localPort, 'sent on the same kept-alive connection');
    t.equal(during.status, 503);
    t.equal(during.headers.connection, 'close');
    t.equal(during.headers['retry-after'], '1');
    t.equal(JSON.parse(during.body).code, 'service_unavailable');
    t.match(String(during.headers['content-type']), 'application/problem+json');

    await closing;
    await t.rejects(get(`${base}/healthz`, agent), 'no longer accepting connections once drained');
    await store.close();
  },
);

t.test(
  'hardening-20: a request in flight when close() begins finishes normally and its connection then closes',
  async (t) => {
    let entered!: () => void;
    const handlerEntered = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const { app, store } = await buildTestApp(t, {
      env: { SHUTDOWN_KEEPALIVE_GRACE_MS: '5000' },
      configure(app) {
        app.get(
          '/v1/test-slow',
          {
            schema: {
              operationId: 'testSlow',
              tags: ['test'],
              summary: 'slow',
              response: { 200: Type.Object({ done: Type.Boolean() }) },
            },
            config: { permission: 'public' },
          },
          async () => {
            entered();
            await released;
            return { done: true };
          },
        );
      },
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => agent.destroy());
    const inFlight = get(`${base}/v1/test-slow`, agent);
    await handlerEntered;
    const closing = app.close();
    await untilStoppedListening(app);
    release();
    const res = await inFlight;
    t.equal(res.status, 200, 'the request in flight completed');
    t.same(JSON.parse(res.body), { done: true });
    t.equal(res.headers.connection, 'close', 'and its connection closes after it');
    // Without idle connections left, the drain ends well before the grace.
    await closing;
    await t.rejects(fetch(`${base}/healthz`), 'no longer accepting connections');
    await store.close();
  },
);

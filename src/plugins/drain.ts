// Graceful shutdown without resets. Node's server.close() closes every idle kept-alive connection
// at once, so a request a client had just sent on one (already on the wire, not yet read) met a
// closed socket: ECONNRESET, and the client cannot tell whether it ran. Instead, when close()
// begins: stop accepting connections, keep the open ones for a short grace, answer any request
// that arrives on them 503 service_unavailable with `Connection: close` (the client retries
// elsewhere, knowing nothing ran), let requests in flight finish and close their connections,
// then close the connections still idle.
import { Server as NetServer } from 'node:net';
import fp from 'fastify-plugin';
import { ServiceUnavailable } from '../errors.js';

export default fp<{ keepAliveGraceMs: number }>(
  async function drainPlugin(app, opts) {
    let closing = false;

    app.addHook('onRequest', (_req, reply, done) => {
      if (!closing) return done();
      reply.header('connection', 'close');
      done(
        new ServiceUnavailable('The server is shutting down; retry on another instance', {
          headers: { 'retry-after': '1' },
        }),
      );
    });
    // A request that was already running answers normally, and its connection closes after it.
    app.addHook('onSend', (_req, reply, payload, done) => {
      if (closing) reply.header('connection', 'close');
      done(null, payload);
    });

    app.addHook('preClose', async () => {
      closing = true;
      const server = app.server;
      if (!server.listening) return;
      // net's close, not http's: stop accepting, but do not close the idle kept-alive connections
      // yet. Its callback runs once every connection has ended.
      const drained = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, opts.keepAliveGraceMs);
      });
      await Promise.race([drained, grace]);
      clearTimeout(timer);
      server.closeIdleConnections();
      // Fastify closes the store after this hook: wait for the requests in flight (close-with-grace
      // bounds the wait with SHUTDOWN_TIMEOUT_MS).
      await drained;
    });
  },
  { name: 'drain', fastify: '5.x' },
);

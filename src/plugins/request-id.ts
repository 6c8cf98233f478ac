// Request ids: honour a sane incoming X-Request-Id (so a reseller can trace its own call through our
// logs), otherwise mint one; echo it on every response.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fp from 'fastify-plugin';

export const REQUEST_ID_HEADER = 'x-request-id';
const ACCEPTABLE_ID = /^[A-Za-z0-9._:@-]{8,128}$/;

export function genRequestId(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  return typeof incoming === 'string' && ACCEPTABLE_ID.test(incoming) ? incoming : randomUUID();
}

export default fp(
  async function requestIdPlugin(app) {
    app.addHook('onRequest', (req, reply, done) => {
      reply.header(REQUEST_ID_HEADER, req.id);
      done();
    });
  },
  { name: 'request-id', fastify: '5.x' },
);

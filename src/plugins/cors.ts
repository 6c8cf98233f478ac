// CORS. A headless API called server to server sends no CORS headers: browsers on other origins
// cannot read its answers. CORS_ORIGINS lists the browser origins (a reseller's web panel) that
// may call it; then @fastify/cors answers preflights and adds the headers. Either way an OPTIONS
// request is answered: 204 with the CORS headers when enabled; when disabled, 204 with `Allow`
// (the methods of that path, from problem-json's not-found handler) or 404 for a path that does not exist.
import cors from '@fastify/cors';
import fp from 'fastify-plugin';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export default fp<{ origins: readonly string[] }>(
  async function corsPlugin(app, opts) {
    if (opts.origins.length > 0) {
      // Registered before authentication: a preflight carries no credential and is answered in
      // @fastify/cors's onRequest hook, before anything asks for one.
      await app.register(cors, {
        origin: opts.origins.includes('*') ? '*' : [...opts.origins],
        methods: [...METHODS],
        allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'],
        exposedHeaders: [
          'RateLimit-Limit',
          'RateLimit-Remaining',
          'RateLimit-Reset',
          'Retry-After',
          'X-Request-Id',
          'Idempotent-Replayed',
          'Location',
          'Allow',
        ],
        maxAge: 600,
        // An OPTIONS without Origin gets the same 204, not a text/plain 400.
        strictPreflight: false,
        hideOptionsRoute: true,
      });
    }
    // Without CORS an OPTIONS is answered by problem-json's not-found handler: 204 with `Allow`.
  },
  { name: 'cors', fastify: '5.x' },
);

// CORS. A headless API called server to server sends no CORS headers: browsers on other origins
// cannot read its answers. CORS_ORIGINS lists the browser origins (a reseller's web panel) that
// may call it; then @fastify/cors answers preflights and adds the headers. Either way an OPTIONS
// request is answered: 204 with the CORS headers when enabled; when disabled, 204 with `Allow`
// (the methods of that path) or 404 for a path that does not exist.
import cors from '@fastify/cors';
import fp from 'fastify-plugin';
import FindMyWay, { type HTTPVersion } from 'find-my-way';

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
        exposedHeaders: ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After', 'X-Request-Id', 'Idempotent-Replayed', 'Location', 'Allow'],
        maxAge: 600,
        // An OPTIONS without Origin gets the same 204, not a text/plain 400.
        strictPreflight: false,
        hideOptionsRoute: true,
      });
      return;
    }

    const methodsRouter = FindMyWay<HTTPVersion.V1>({ ignoreTrailingSlash: false });
    app.addHook('onRoute', (route) => {
      if (route.url === '*') return;
      for (const m of Array.isArray(route.method) ? route.method : [route.method]) {
        if (m === 'OPTIONS') continue;
        try {
          methodsRouter.on(m as 'GET', route.url, () => {});
        } catch {
          // Already known (HEAD is added for every GET).
        }
      }
    });
    app.options(
      '*',
      { schema: { hide: true }, config: { permission: 'public' } },
      async (req, reply) => {
        const path = req.url.split('?')[0] ?? '/';
        const allowed = METHODS.filter((m) => methodsRouter.find(m, path) !== null);
        if (allowed.length === 0) return reply.callNotFound();
        return reply.code(204).header('allow', [...allowed, 'OPTIONS'].join(', ')).send();
      },
    );
  },
  { name: 'cors', fastify: '5.x' },
);

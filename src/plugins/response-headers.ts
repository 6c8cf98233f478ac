// Headers every response carries, whatever produced it (a route, an error, a 404, the drain):
// `X-Content-Type-Options: nosniff`, and `Cache-Control: no-store` on the routes that hand out a
// secret (a login token, a key and its secret, an auth code, a TOTP seed, recovery codes), so no
// cache or proxy on the way keeps a copy.
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The response carries a secret: sent with `Cache-Control: no-store`. */
    sensitive?: boolean;
  }
}

export default fp(
  async function responseHeaders(app) {
    app.addHook('onSend', (req, reply, payload, done) => {
      reply.header('x-content-type-options', 'nosniff');
      if (req.routeOptions.config?.sensitive) reply.header('cache-control', 'no-store');
      done(null, payload);
    });
  },
  { name: 'response-headers', fastify: '5.x' },
);

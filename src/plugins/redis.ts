// The shared Redis client when REDIS_URL is set (rate-limit buckets, the drop-catch throttle); null otherwise.
// ioredis is loaded only then (about 0.1 s of every start without Redis).
import type { Redis } from 'ioredis';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis | null;
  }
}

export default fp<{ redisUrl: string | undefined; commandTimeoutMs: number }>(
  async function redisPlugin(app, opts) {
    if (!opts.redisUrl) {
      app.decorate('redis', null);
      return;
    }
    const { Redis } = await import('ioredis');
    const redis = new Redis(opts.redisUrl, {
      // Fail fast rather than queue: callers fall back or fail open.
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      // A stalled Redis (frozen process, lost packets) keeps the connection open and never answers:
      // without a deadline every metered request would wait for it. Past this, a command rejects
      // and its caller fails open; a late reply is matched to its command and dropped.
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: Math.max(1_000, opts.commandTimeoutMs * 4),
      lazyConnect: true,
      // Concurrent requests' bucket scripts go out in one write: fewer syscalls per request.
      enableAutoPipelining: true,
    });
    redis.on('error', (err) => app.log.warn({ err }, 'redis error'));
    try {
      await redis.connect();
    } catch (err) {
      app.log.error({ err }, 'redis not reachable at start; will keep retrying');
    }
    app.decorate('redis', redis);
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
  },
  { name: 'redis', fastify: '5.x' },
);

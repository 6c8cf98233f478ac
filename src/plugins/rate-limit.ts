// R-API-1: cost-weighted token buckets per credential and per account (per address for callers
// without a credential, unknown routes included), with the RateLimit-* headers on every metered
// response and Retry-After on a 429. Redis failures fail open, loudly.
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
import { declareErrors, defineError, RateLimited } from '../errors.js';
import { dropCatchThrottle, type DropCatchThrottle } from '../modules/fair-use/api.js';
import { memoryBuckets, redisBuckets, type BucketBackend } from '../modules/fair-use/api.js';
import { FairUsePolicy, type BucketScope } from '../modules/fair-use/api.js';
import { syncFirst, syncFirstOnSend } from '../route-hooks.js';

export const TooManyConcurrentRequests = defineError(
  'too_many_concurrent_requests',
  429,
  'Too many requests of this account are running at once',
);

declare module 'fastify' {
  interface FastifyInstance {
    fairUsePolicy: FairUsePolicy;
    buckets: BucketBackend;
    dropCatch: DropCatchThrottle;
  }
}

/** The buckets a request spends, as `scope:id` keys. */
export function bucketsOf(req: FastifyRequest): { scope: BucketScope; key: string }[] {
  const p = req.principal;
  if (!p) return [{ scope: 'address', key: `address:${req.ip}` }];
  const out: { scope: BucketScope; key: string }[] = [{ scope: 'credential', key: `credential:${p.credential.id}` }];
  if (p.accountId) out.push({ scope: 'account', key: `account:${p.accountId}` });
  return out;
}

export default fp<{
  redisKeyPrefix: string;
  refreshMs: number;
  maxInFlightPerAccount: number;
  dropCatchIntervalS: number;
  incidentHitsPerMinute: number;
}>(
  async function rateLimitPlugin(app, opts) {
    const policy = new FairUsePolicy(app.db);
    await policy.refresh();
    policy.start(opts.refreshMs, (err) =>
      app.log.error({ err }, 'could not refresh fair-use policy; keeping the last one'),
    );
    app.addHook('onClose', async () => policy.stop());
    const buckets = app.redis ? redisBuckets(app.redis, opts.redisKeyPrefix) : memoryBuckets();
    app.decorate('fairUsePolicy', policy);
    app.decorate('buckets', buckets);
    app.decorate(
      'dropCatch',
      dropCatchThrottle(buckets, opts.dropCatchIntervalS, (err) =>
        app.log.error({ err }, 'drop-catch store failed; letting the check through'),
      ),
    );

    // Requests in flight per account on this instance: a burst of slow calls cannot take every worker.
    const inFlight = new Map<string, number>();
    const counted = new WeakMap<object, string>();
    // Counted once the caller is known: after authentication, which for a signed request ends only
    // when its signature has been verified over the body (preValidation).
    const admitInFlight = (req: FastifyRequest) => {
      const accountId = req.principal?.accountId;
      if (!accountId) return;
      const n = inFlight.get(accountId) ?? 0;
      if (n >= opts.maxInFlightPerAccount) {
        throw new TooManyConcurrentRequests(
          `At most ${opts.maxInFlightPerAccount} requests of one account run at once; retry when one finishes`,
          { headers: { 'retry-after': '1' } },
        );
      }
      inFlight.set(accountId, n + 1);
      counted.set(req, accountId);
    };
    const done = (req: FastifyRequest) => {
      const accountId = counted.get(req);
      if (!accountId) return;
      counted.delete(req);
      const n = (inFlight.get(accountId) ?? 1) - 1;
      if (n <= 0) inFlight.delete(accountId);
      else inFlight.set(accountId, n);
    };
    app.addHook('onResponse', (req, _reply, next) => {
      done(req);
      next();
    });
    app.addHook('onRequestAbort', (req, next) => {
      done(req);
      next();
    });

    app.addHook('onRoute', (route) => {
      if (route.schema?.hide || !route.schema) return;
      // Counted per account once the caller is known, exempt or not.
      if (route.config?.permission !== 'public') declareErrors(route, TooManyConcurrentRequests);
      if (!route.config?.rateLimitExempt) declareErrors(route, RateLimited);
    });

    // R-API-1 metering. Our own hook rather than @fastify/rate-limit's: that one awaits five times
    // per request around a store interface made for fixed windows (measured: a quarter of the cost of
    // a no-op authenticated route); this one awaits only the bucket store. In preValidation, after
    // authentication and signature checks, so only a verified caller's buckets are spent: a flood of
    // forged signatures cannot drain a key's bucket.
    let lastStoreError = 0;
    app.addHook(
      'preValidation',
      syncFirst((req, reply) => {
        admitInFlight(req);
        if (req.routeOptions.config?.rateLimitExempt) return;
        const scoped = bucketsOf(req);
        const policies = scoped.map((b) => policy.bucket(b.scope));
        // A call never costs more than a full bucket: above it, it could never be served and every
        // Retry-After would be a promise not kept. It then takes a full bucket.
        let cost = policy.cost(req.routeOptions.schema?.operationId ?? 'unknown');
        for (const p of policies) if (p.capacity < cost) cost = p.capacity;
        return buckets
          .take(
            scoped.map((b) => b.key),
            policies,
            cost,
          )
          .then(
            (r) => {
              const seconds = Math.ceil((r.allowed ? r.resetMs : r.retryAfterMs) / 1000);
              reply
                .header('ratelimit-limit', policies[0]!.capacity)
                .header('ratelimit-remaining', r.allowed ? Math.max(0, r.remaining) : 0)
                .header('ratelimit-reset', seconds);
              if (r.allowed) return;
              reply.header('retry-after', seconds);
              throw new RateLimited(`Rate limit exceeded; retry in ${seconds} s`, {
                extensions: { retry_after_seconds: seconds },
              });
            },
            (err: unknown) => {
              // Fail open: a Redis outage must not refuse every call. Say so, at most every 10 s.
              if (Date.now() - lastStoreError > 10_000) {
                lastStoreError = Date.now();
                app.log.error({ err }, 'rate-limit store failed; letting requests through unmetered');
              }
            },
          );
      }),
    );

    // R-API-4: sustained rate-limit hits (per account per minute) are an incident, at most one an
    // hour. Counted as the 429 leaves, awaited, so the incident exists once the client has its answer.
    const hits = new LRUCache<string, { minute: number; n: number }>({ max: 10_000 });
    app.addHook(
      'onSend',
      syncFirstOnSend((req, reply, payload) => {
        const accountId = req.principal?.accountId;
        if (
          reply.statusCode !== 429 ||
          !accountId ||
          typeof payload !== 'string' ||
          !payload.includes('"code":"rate_limited"')
        )
          return;
        const minute = Math.floor(Date.now() / 60_000);
        const h = hits.get(accountId);
        const n = h && h.minute === minute ? h.n + 1 : 1;
        hits.set(accountId, { minute, n });
        if (n !== opts.incidentHitsPerMinute) return;
        const hour = new Date(minute * 60_000).toISOString().slice(0, 13);
        return app.incidents
          .record({
            accountId,
            type: 'rate_limit_sustained',
            dedupeKey: hour,
            evidence: { hits_in_minute: n, minute: new Date(minute * 60_000).toISOString(), last_request_id: req.id },
          })
          .catch((err: unknown) => req.log.error({ err }, 'could not record a rate-limit incident'));
      }),
    );
  },
  { name: 'rate-limit', fastify: '5.x', dependencies: ['db', 'redis', 'auth', 'incidents'] },
);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Health checks and documents are never metered. */
    rateLimitExempt?: boolean;
  }
}

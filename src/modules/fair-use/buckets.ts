// Where token buckets live: in this process, or in Redis so every instance spends the same bucket.
// Both take from several buckets atomically (all or none) with the rules of lib/token-bucket.
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { refill, takeFromAll, type BucketPolicy, type BucketState } from '../../lib/token-bucket.js';

export interface TakeOutcome {
  allowed: boolean;
  remaining: number;
  retryAfterMs: number;
  resetMs: number;
}

export interface BucketBackend {
  take(keys: string[], policies: BucketPolicy[], cost: number): Promise<TakeOutcome>;
  /** Tokens now in each bucket, without taking any (for GET /v1/fair-use). */
  peek(keys: string[], policies: BucketPolicy[]): Promise<number[]>;
}

export function memoryBuckets(maxEntries = 100_000, now: () => number = Date.now): BucketBackend {
  // The least recently used buckets make room (a forgotten bucket is a full one: it only forgives).
  const states = new LRUCache<string, BucketState>({ max: maxEntries });
  return {
    async take(keys, policies, cost) {
      const r = takeFromAll(
        keys.map((k) => states.get(k)),
        policies,
        cost,
        now(),
      );
      keys.forEach((k, i) => states.set(k, r.states[i]));
      return { allowed: r.allowed, remaining: r.remaining, retryAfterMs: r.retryAfterMs, resetMs: r.resetMs };
    },
    async peek(keys, policies) {
      const t = now();
      return keys.map((k, i) => Math.floor(refill(states.get(k), policies[i]!, t).tokens));
    },
  };
}

// KEYS: bucket keys. ARGV: cost, then capacity and refill-per-second for each key.
// Redis's own clock, so instances with skewed clocks still agree.
const TAKE_LUA = `
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local cost = tonumber(ARGV[1])
local peek = cost < 0
local n = #KEYS
local tokens = {}
local allowed = 1
local retry = 0
for i = 1, n do
  local cap = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  local st = redis.call('HMGET', KEYS[i], 't', 'a')
  local t = tonumber(st[1])
  local a = tonumber(st[2])
  if t == nil then t = cap; a = now end
  t = math.min(cap, t + math.max(0, now - a) * rate / 1000)
  tokens[i] = t
  if not peek and (t < cost or cost > cap) then
    allowed = 0
    local need = 1e15
    if rate > 0 then need = (cost - t) / rate * 1000 end
    if need > retry then retry = need end
  end
end
if peek then
  local out = {}
  for i = 1, n do out[i] = math.floor(tokens[i]) end
  return out
end
local remaining = nil
local reset = 0
for i = 1, n do
  local cap = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  local t = tokens[i]
  if allowed == 1 then t = t - cost end
  redis.call('HSET', KEYS[i], 't', tostring(t), 'a', tostring(now))
  local full = 0
  if rate > 0 then full = (cap - t) / rate * 1000 end
  redis.call('PEXPIRE', KEYS[i], math.ceil(full) + 1000)
  if full > reset then reset = full end
  if remaining == nil or t < remaining then remaining = t end
end
if allowed == 0 then remaining = 0 end
return {allowed, math.floor(remaining), math.ceil(retry), math.ceil(reset)}
`;

type TakeCommand = (numKeys: number, ...args: (string | number)[]) => Promise<number[]>;

/**
 * After Redis fails or times out, how long bucket calls skip it and fail at once (their callers
 * fail open). During a stall each request then costs nothing beyond the first timeout, and
 * commands do not pile up on a connection that will answer all of them at once when it wakes.
 */
export const REDIS_PAUSE_AFTER_FAILURE_MS = 1_000;

export class BucketStoreUnavailable extends Error {
  constructor() {
    super('Redis failed or timed out less than a second ago; not asking it again yet');
    this.name = 'BucketStoreUnavailable';
  }
}

export function redisBuckets(redis: Redis, prefix: string, now: () => number = Date.now): BucketBackend {
  redis.defineCommand('resellerTakeTokens', { lua: TAKE_LUA });
  const command = (redis as unknown as { resellerTakeTokens: TakeCommand }).resellerTakeTokens.bind(redis);
  let skipUntil = 0;
  const failed = (err: unknown): never => {
    skipUntil = now() + REDIS_PAUSE_AFTER_FAILURE_MS;
    throw err;
  };
  const run = (...args: [number, ...(string | number)[]]): Promise<number[]> =>
    now() < skipUntil ? Promise.reject(new BucketStoreUnavailable()) : command(...args).catch(failed);
  const args = (keys: string[], policies: BucketPolicy[], cost: number) => [
    keys.length,
    ...keys.map((k) => `${prefix}bucket:${k}`),
    cost,
    ...policies.flatMap((p) => [p.capacity, p.refillPerSecond]),
  ];
  return {
    async take(keys, policies, cost) {
      const [allowed, remaining, retryAfterMs, resetMs] = await run(
        ...(args(keys, policies, cost) as [number, ...string[]]),
      );
      return { allowed: allowed === 1, remaining: remaining!, retryAfterMs: retryAfterMs!, resetMs: resetMs! };
    },
    async peek(keys, policies) {
      return run(...(args(keys, policies, -1) as [number, ...string[]]));
    },
  };
}

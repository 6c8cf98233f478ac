// R-DOM-4: drop catching is not served. The same account may check the same name at most once per
// interval; a faster repeat is 429 with Retry-After. Built on the shared bucket backend, so it
// holds across instances when Redis is configured. The domains module calls it per name.
import { RateLimited } from '../../errors.js';
import type { BucketBackend } from './buckets.js';

export interface DropCatchThrottle {
  /** Throws 429 rate_limited (with Retry-After) when `name` was checked too recently by this account. */
  assertMayCheck(accountId: string, name: string): Promise<void>;
}

export function dropCatchThrottle(
  buckets: BucketBackend,
  intervalS: number,
  onStoreError: (err: unknown) => void = () => {},
): DropCatchThrottle {
  // One token, refilled once per interval: exactly "once per interval", with the exact wait.
  const policy = { capacity: 1, refillPerSecond: 1 / intervalS };
  return {
    async assertMayCheck(accountId, name) {
      let r;
      try {
        r = await buckets.take([`dropcatch:${accountId}:${name.toLowerCase()}`], [policy], 1);
      } catch (err) {
        // Like the rate limiter: a Redis outage lets checks through rather than failing them all.
        onStoreError(err);
        return;
      }
      if (!r.allowed) {
        const seconds = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
        throw new RateLimited(
          `${name} was checked less than ${intervalS} s ago by this account; retry in ${seconds} s`,
          {
            headers: { 'retry-after': String(seconds) },
            extensions: { retry_after_seconds: seconds, name, reason: 'drop_catch_throttle' },
          },
        );
      }
    },
  };
}

// R-DOM-4: drop catching is not served. The same account may check the same name at most once per
// interval; a faster repeat is 429 with Retry-After. Built on the shared bucket backend, so it
// holds across instances when Redis is configured. The domains module calls it with a check's names.
import { RateLimited } from '../../errors.js';
import type { BucketBackend } from './buckets.js';

export interface DropCatchThrottle {
  /**
   * Throws 429 rate_limited (with Retry-After) when a name was checked too recently by this account.
   * The names of one check are taken together: a refused check spends none of them.
   */
  assertMayCheck(accountId: string, names: string | readonly string[]): Promise<void>;
}

export function dropCatchThrottle(
  buckets: BucketBackend,
  intervalS: number,
  onStoreError: (err: unknown) => void = () => {},
): DropCatchThrottle {
  // One token, refilled once per interval: exactly "once per interval", with the exact wait.
  const policy = { capacity: 1, refillPerSecond: 1 / intervalS };
  return {
    async assertMayCheck(accountId, names) {
      const list = [...new Set((typeof names === 'string' ? [names] : names).map((n) => n.toLowerCase()))];
      if (list.length === 0) return;
      const keys = list.map((n) => `dropcatch:${accountId}:${n}`);
      const policies = list.map(() => policy);
      let r;
      try {
        r = await buckets.take(keys, policies, 1);
      } catch (err) {
        // Like the rate limiter: a Redis outage lets checks through rather than failing them all.
        onStoreError(err);
        return;
      }
      if (!r.allowed) {
        // Which name: the first whose bucket is empty (peeking takes nothing).
        const tokens = list.length === 1 ? [0] : await buckets.peek(keys, policies).catch(() => [0]);
        const name =
          list[
            Math.max(
              0,
              tokens.findIndex((n) => n < 1),
            )
          ]!;
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

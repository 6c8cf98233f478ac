// Signed-request nonces, shared by every instance (R-SEC-5): Redis when configured, else PostgreSQL.
import { lt, sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { queryRows, type Db } from '../../db/client.js';
import { usedNonces } from '../../db/schema/index.js';

export interface NonceStore {
  /** True when the nonce is new (and is now taken), false when it was seen within ttl. */
  claim(keyId: string, nonce: string, ttlSeconds: number): Promise<boolean>;
}

export function postgresNonceStore(db: Db): NonceStore {
  let claims = 0;
  return {
    async claim(keyId, nonce, ttlSeconds) {
      // Expired nonces can be reused safely (the timestamp check refuses them), so sweep now and then.
      if (++claims % 500 === 0) await db.delete(usedNonces).where(lt(usedNonces.expiresAt, new Date()));
      const rows = await queryRows<{ key_id: string }>(
        db,
        sql`insert into used_nonces (key_id, nonce, expires_at)
            values (${keyId}, ${nonce}, now() + make_interval(secs => ${ttlSeconds}))
            on conflict (key_id, nonce) do update set expires_at = excluded.expires_at
              where used_nonces.expires_at < now()
            returning key_id`,
      );
      return rows.length === 1;
    },
  };
}

export function redisNonceStore(redis: Redis, fallback: NonceStore, log: FastifyBaseLogger): NonceStore {
  return {
    async claim(keyId, nonce, ttlSeconds) {
      try {
        return (await redis.set(`nonce:${keyId}:${nonce}`, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
      } catch (err) {
        // Refusing every signed call while Redis is down would be worse than a PostgreSQL check.
        log.error({ err }, 'redis nonce store failed; using PostgreSQL');
        return fallback.claim(keyId, nonce, ttlSeconds);
      }
    },
  };
}

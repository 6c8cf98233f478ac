// Signed-request nonces (R-SEC-5), in PostgreSQL only: its unique key is the one place that decides
// whether a nonce is fresh, for every instance, so no outage can let one through twice (a cache in
// front, such as Redis, would accept nonces that the database never learns). At our rates this is
// one small insert per signed request; the sweep-used-nonces job deletes them once expired.
import { lt, sql } from 'drizzle-orm';
import { queryRows, type Db } from '../../db/client.js';
import { usedNonces } from '../../db/schema/index.js';

export interface NonceStore {
  /** True when the nonce is new (and is now taken), false when it was seen within ttl; throws when the store cannot answer. */
  claim(keyId: string, nonce: string, ttlSeconds: number): Promise<boolean>;
}

export function postgresNonceStore(db: Db): NonceStore {
  return {
    async claim(keyId, nonce, ttlSeconds) {
      // An expired row may be taken again: the timestamp check already refuses anything that old.
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

/** Deletes nonces past their expiry; returns the deleted rows (for the sweep job's count). */
export function deleteExpiredNonces(db: Db, now: Date) {
  return db.delete(usedNonces).where(lt(usedNonces.expiresAt, now)).returning({ keyId: usedNonces.keyId });
}

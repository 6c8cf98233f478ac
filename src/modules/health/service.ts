import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { latestAppliedMigration } from '../../db/migrate.js';

type Check = 'ok' | 'failing' | 'pending';
export interface Readiness {
  status: 'ready' | 'not_ready';
  /** `redis` only when Redis is configured: "degraded" means limits are failing open, not that we stop serving. */
  checks: { database: Check; migrations: Check; redis?: 'ok' | 'degraded' };
}

export interface ReadinessProbe {
  db: Db;
  redis: Redis | null;
  expectedMigration: number | null;
  /** The database must answer within this, or the instance is not ready (a stall must not hang the probe). */
  timeoutMs: number;
  log: FastifyBaseLogger;
}

class ProbeTimedOut extends Error {
  constructor(ms: number) {
    super(`the database did not answer within ${ms} ms`);
    this.name = 'ProbeTimedOut';
  }
}

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ProbeTimedOut(ms)), ms);
  });
  // The abandoned query still ends (statement and query timeouts); its outcome no longer matters.
  work.catch(() => {});
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function databaseChecks(probe: ReadinessProbe): Promise<Pick<Readiness['checks'], 'database' | 'migrations'>> {
  try {
    const applied = await within(
      probe.timeoutMs,
      (async () => {
        await probe.db.execute(sql`select 1`);
        return latestAppliedMigration(probe.db);
      })(),
    );
    const pending = probe.expectedMigration !== null && (applied === null || applied < probe.expectedMigration);
    return { database: 'ok', migrations: pending ? 'pending' : 'ok' };
  } catch (err) {
    probe.log.warn({ err }, 'readiness: database check failed');
    return { database: 'failing', migrations: 'pending' };
  }
}

/**
 * Redis holds only rate-limit buckets: without it requests are
 * still served, unmetered. So a stalled Redis shows as "degraded" while the instance stays ready:
 * a shared Redis stalling must not make the load balancer take every instance out at once.
 */
async function redisCheck(redis: Redis, log: FastifyBaseLogger): Promise<'ok' | 'degraded'> {
  try {
    await redis.ping(); // bounded by the client's commandTimeout
    return 'ok';
  } catch (err) {
    log.warn({ err }, 'readiness: redis check failed; rate limits fail open');
    return 'degraded';
  }
}

export async function checkReadiness(probe: ReadinessProbe): Promise<Readiness> {
  const [db, redis] = await Promise.all([
    databaseChecks(probe),
    probe.redis ? redisCheck(probe.redis, probe.log) : undefined,
  ]);
  return {
    status: db.database === 'ok' && db.migrations === 'ok' ? 'ready' : 'not_ready',
    checks: { ...db, ...(redis ? { redis } : {}) },
  };
}

/** Readiness for the route: the database, the migrations this build ships, and Redis when configured. */
export function createHealthService(deps: Omit<ReadinessProbe, 'log'>) {
  return { checkReadiness: (log: FastifyBaseLogger) => checkReadiness({ ...deps, log }) };
}
export type HealthService = ReturnType<typeof createHealthService>;

import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { latestAppliedMigration } from '../../db/migrate.js';

type Check = 'ok' | 'failing' | 'pending';
export interface Readiness {
  status: 'ready' | 'not_ready';
  checks: { database: Check; migrations: Check };
}

export async function checkReadiness(db: Db, expectedMigration: number | null, log: FastifyBaseLogger): Promise<Readiness> {
  let database: Check = 'ok';
  let migrations: Check = 'ok';
  try {
    await db.execute(sql`select 1`);
    const applied = await latestAppliedMigration(db);
    if (expectedMigration !== null && (applied === null || applied < expectedMigration)) migrations = 'pending';
  } catch (err) {
    log.warn({ err }, 'readiness: database check failed');
    database = 'failing';
    migrations = 'pending';
  }
  return { status: database === 'ok' && migrations === 'ok' ? 'ready' : 'not_ready', checks: { database, migrations } };
}

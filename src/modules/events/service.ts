// The events feed as rules: an account sees its own events of the last EVENT_RETENTION_DAYS days,
// in commit-safe order (store.ts), filtered by type and object; older ones are purged hourly.
import type { Db } from '../../db/client.js';
import { inBatches } from '../../db/sweep.js';
import { findEvent, listEvents, purgeEvents, type EventRow } from './store.js';

export interface EventServiceDeps {
  db: Db;
  retentionDays: number;
}

const DAY_MS = 86_400_000;

export function createEventService({ db, retentionDays }: EventServiceDeps) {
  const horizon = (now: Date) => new Date(now.getTime() - retentionDays * DAY_MS);
  return {
    list(q: {
      accountId: string;
      types?: string[] | undefined;
      objectId?: string | undefined;
      after?: { txId: number; position: number } | undefined;
      limit: number;
    }): Promise<EventRow[]> {
      return listEvents(db, { ...q, since: horizon(new Date()) });
    },
    /** The event, if it is the account's (any account's for an operator: accountId null) and still kept. */
    async get(accountId: string | null, id: string): Promise<EventRow | undefined> {
      const row = await findEvent(db, accountId, id);
      return row && row.created_at >= horizon(new Date()) ? row : undefined;
    },
    purge(now: Date): Promise<number> {
      return inBatches(() => purgeEvents(db, horizon(now)));
    },
  };
}

export type EventService = ReturnType<typeof createEventService>;

// Reading an account's events about one object back through the feed (GET /v1/events?object_id=).
// The feed shows an event only once every transaction that began before it has ended, and on a
// shared PostgreSQL those include other test files' transactions: the reader waits (briefly) until
// the feed shows every event the table holds for the object. No clock is involved: what is awaited
// is other transactions ending, and a feed that never catches up fails the comparison.
import { and, count, eq } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import type { Store } from '../../src/db/client.js';
import { events } from '../../src/db/schema/index.js';
import { bearer, type Reseller } from './fixtures.js';

export interface FeedEvent {
  id: string;
  type: string;
  account_id: string;
  object: { type: string; id: string; sequence: number };
  data: Record<string, unknown>;
}

export async function eventsOf(app: App, store: Store, r: Reseller, objectId: string): Promise<FeedEvent[]> {
  const [written] = await store.db
    .select({ n: count() })
    .from(events)
    .where(and(eq(events.accountId, r.accountId), eq(events.objectId, objectId)));
  for (let attempt = 0; ; attempt++) {
    const res = await app.inject({
      method: 'GET',
      url: `/v1/events?object_id=${encodeURIComponent(objectId)}&limit=100`,
      headers: bearer(r.token),
    });
    if (res.statusCode !== 200) throw new Error(`events: ${res.statusCode} ${res.body}`);
    const data = res.json<{ data: FeedEvent[] }>().data;
    if (data.length >= Number(written?.n ?? 0) || attempt >= 200) return data;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const types = (list: FeedEvent[]) => list.map((e) => e.type);
export const sequences = (list: FeedEvent[]) => list.map((e) => e.object.sequence);

// Reading an account's events about one object back through the feed (GET /v1/events?object_id=).
// The feed shows an event only once every transaction that began before it has ended, and on a
// shared PostgreSQL those include other test files' transactions: the reader first waits for them
// (feedSettled, test/helpers/events.ts).
import type { App } from '../../src/app.js';
import type { Store } from '../../src/db/client.js';
import { feedSettled } from './events.js';
import { bearer, type Reseller } from './fixtures.js';

export interface FeedEvent {
  id: string;
  type: string;
  account_id: string;
  object: { type: string; id: string; sequence: number };
  data: Record<string, unknown>;
}

export async function eventsOf(app: App, _store: Store, r: Reseller, objectId: string): Promise<FeedEvent[]> {
  await feedSettled(app);
  const res = await app.inject({
    method: 'GET',
    url: `/v1/events?object_id=${encodeURIComponent(objectId)}&limit=100`,
    headers: bearer(r.token),
  });
  if (res.statusCode !== 200) throw new Error(`events: ${res.statusCode} ${res.body}`);
  return res.json<{ data: FeedEvent[] }>().data;
}

export const types = (list: FeedEvent[]) => list.map((e) => e.type);
export const sequences = (list: FeedEvent[]) => list.map((e) => e.object.sequence);

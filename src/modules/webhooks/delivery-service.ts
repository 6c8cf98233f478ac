// The delivery log and its commands as rules: an account sees and acts on the deliveries of its own
// endpoints only (another account's endpoint is 404); a manual retry makes one delivery due now
// (same delivery, same webhook-id), a replay creates new deliveries of kept events since a time.
// Also the housekeeping jobs: disabling endpoints that failed every delivery for days, and clearing
// response bodies after the retention period.
import type { Db } from '../../db/client.js';
import { inBatches } from '../../db/sweep.js';
import { defineError, NotFound, ValidationFailed } from '../../errors.js';
import { emitEvent, eventView, findEvent, isKnownEventType } from '../events/api.js';
import {
  disableFailingEndpoints,
  eventsToReplay,
  failPendingDeliveries,
  findDelivery,
  findEndpoint,
  insertReplayDeliveries,
  listAttempts,
  listDeliveries,
  purgeAttemptBodies,
  purgeFinishedDeliveries,
  retryDelivery,
  type EndpointRef,
} from './delivery-store.js';
import { disabledView } from './dispatcher.js';
import { EndpointDisabled } from './events.js';

export const DeliveryEndpointDisabled = defineError(
  'delivery_endpoint_disabled',
  409,
  'The webhook endpoint is disabled: enable it first',
);
export const DeliveryInFlight = defineError(
  'delivery_in_flight',
  409,
  'The delivery is being sent right now; retry it once this attempt ends',
);

/** Events one replay queues at most; past it the answer says where to continue. */
export const REPLAY_MAX = 10_000;
const DAY_MS = 86_400_000;

export interface DeliveryServiceDeps {
  db: Db;
  retentionDays: number;
  disableAfterDays: number;
  /** Days a finished delivery and its attempts are kept. */
  logRetentionDays: number;
  now?: (() => Date) | undefined;
  /** New due deliveries (wakes this instance's dispatcher). */
  wake: () => void;
  /** An event was emitted (wakes the fan-out). */
  onEventEmitted?: () => void;
}

export function createDeliveryService(deps: DeliveryServiceDeps) {
  const { db } = deps;
  const clock = deps.now ?? (() => new Date());

  async function endpointOf(accountId: string, endpointId: string): Promise<EndpointRef> {
    const ep = await findEndpoint(db, accountId, endpointId);
    if (!ep) throw new NotFound('no such webhook endpoint');
    return ep;
  }

  return {
    async list(
      accountId: string,
      endpointId: string,
      q: { status?: string | undefined; before?: { createdAt: Date; id: string } | undefined; limit: number },
    ) {
      await endpointOf(accountId, endpointId);
      return listDeliveries(db, { endpointId, ...q });
    },

    async get(accountId: string, endpointId: string, deliveryId: string) {
      await endpointOf(accountId, endpointId);
      const delivery = await findDelivery(db, endpointId, deliveryId);
      if (!delivery) throw new NotFound('no such delivery of this endpoint');
      const attempts = await listAttempts(db, deliveryId);
      // Every attempt sends the same body, the event: shown while the event is kept.
      const event = attempts.length > 0 ? await findEvent(db, accountId, delivery.event_id) : undefined;
      return { delivery, attempts, requestBody: event ? JSON.stringify(eventView(event)) : null };
    },

    async retry(accountId: string, endpointId: string, deliveryId: string) {
      const ep = await endpointOf(accountId, endpointId);
      if (!ep.enabled) throw new DeliveryEndpointDisabled('enable the endpoint before retrying its deliveries');
      const now = clock();
      const done = await retryDelivery(db, endpointId, deliveryId, now);
      if (done === null) throw new NotFound('no such delivery of this endpoint');
      if (done === 'in_flight') throw new DeliveryInFlight();
      deps.wake();
      return (await findDelivery(db, endpointId, deliveryId))!;
    },

    /**
     * New deliveries (trigger 'replay') of every kept event of the account created in [since, until)
     * that the endpoint subscribes to (and of `eventTypes`, when given), oldest first, at most
     * REPLAY_MAX; when more remain, `next_since` is where to continue (events of one transaction
     * share a time and are never split across two replays).
     */
    async replay(
      accountId: string,
      endpointId: string,
      q: { since: Date; until?: Date | undefined; eventTypes?: string[] | undefined },
    ) {
      const unknown = q.eventTypes?.filter((t) => t === '*' || !isKnownEventType(t)) ?? [];
      if (unknown.length > 0)
        throw new ValidationFailed(`not an event type: ${unknown.join(', ')}`, {
          errors: unknown.map((t) => ({
            pointer: '/body/event_types',
            code: 'unknown_event_type',
            message: `${t} is not an event type (GET /v1/event-types)`,
          })),
        });
      const ep = await endpointOf(accountId, endpointId);
      if (!ep.enabled) throw new DeliveryEndpointDisabled('enable the endpoint before replaying events to it');
      const now = clock();
      const horizon = new Date(now.getTime() - deps.retentionDays * DAY_MS);
      const since = q.since < horizon ? horizon : q.since;
      const until = q.until && q.until < now ? q.until : now;
      const all = ep.event_types.includes('*');
      let types: string[] | null = all ? null : ep.event_types;
      if (q.eventTypes && q.eventTypes.length > 0)
        types = types === null ? q.eventTypes : types.filter((t) => q.eventTypes!.includes(t));
      if (types !== null && types.length === 0) return { queued: 0, since, until, next_since: null };
      const found =
        since < until ? await eventsToReplay(db, { accountId, since, until, types, limit: REPLAY_MAX + 1 }) : [];
      let take = found;
      let nextSince: Date | null = null;
      if (found.length > REPLAY_MAX) {
        const boundary = found[REPLAY_MAX]!.created_at.getTime();
        take = found.slice(0, REPLAY_MAX).filter((e) => e.created_at.getTime() < boundary);
        // One transaction wrote more than REPLAY_MAX events: take them all rather than stall.
        if (take.length === 0) take = found.slice(0, REPLAY_MAX);
        nextSince = take.length === REPLAY_MAX ? found[REPLAY_MAX]!.created_at : new Date(boundary);
      }
      const queued = await insertReplayDeliveries(
        db,
        ep,
        take.map((e) => e.id),
        now,
      );
      if (queued > 0) deps.wake();
      return { queued, since, until, next_since: nextSince };
    },

    /** Disables endpoints whose every delivery failed for disableAfterDays (endpoint.disabled each). */
    async disableFailing(now: Date): Promise<number> {
      const cutoff = new Date(now.getTime() - deps.disableAfterDays * DAY_MS);
      const n = await db.transaction(async (tx) => {
        const rows = await disableFailingEndpoints(tx, cutoff, now);
        for (const row of rows) {
          await failPendingDeliveries(
            tx,
            row.id,
            now,
            `endpoint disabled: every delivery failed for ${deps.disableAfterDays} days`,
          );
          await emitEvent(tx, EndpointDisabled, {
            accountId: row.account_id,
            objectId: row.id,
            data: disabledView(row),
          });
        }
        return rows.length;
      });
      if (n > 0) deps.onEventEmitted?.();
      return n;
    },

    /** Deletes the log of deliveries finished more than logRetentionDays ago (the job webhooks.purge-log). */
    purgeLog(now: Date): Promise<number> {
      const before = new Date(now.getTime() - deps.logRetentionDays * DAY_MS);
      return inBatches(() => purgeFinishedDeliveries(db, before));
    },
    /** Clears response bodies older than the retention period (request bodies are the events, purged with them); returns how many. */
    purgeBodies(now: Date): Promise<number> {
      const before = new Date(now.getTime() - deps.retentionDays * DAY_MS);
      return inBatches(() => purgeAttemptBodies(db, before));
    },
  };
}

export type DeliveryService = ReturnType<typeof createDeliveryService>;

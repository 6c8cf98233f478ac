// What the events area offers the others: define a type once, emit it in the transaction of the
// change. `emitEvent(tx, type, {...})` writes the event with the change (a rolled-back change leaves
// no event); after commit the dispatcher fans it out to webhook deliveries and e-mail.
import type { Tx } from '../../db/client.js';
import {
  defineEventType,
  eventType,
  eventTypes,
  isKnownEventType,
  type EventData,
  type EventType,
  EVENT_GROUPS,
  type EventGroup,
} from './registry.js';
import {
  eventCteParams,
  eventCtes,
  eventsCtes,
  insertEvent,
  insertEvents,
  insertEventSql,
  sequenceKey,
  type EventRow,
} from './store.js';

export {
  defineEventType,
  eventType,
  eventTypes,
  isKnownEventType,
  EVENT_GROUPS,
  eventCtes,
  eventsCtes,
  sequenceKey as eventSequenceKey,
  insertEventSql,
  type EventData,
  type EventGroup,
  type EventType,
};
// The event as the feed shows it: also the body of a webhook delivery and the source of an e-mail.
export { Event, eventView } from './schemas.js';
export { findEvent, findEvents, type EventRow } from './store.js';
export { webhooksDocument } from './openapi-webhooks.js';

export interface Emitted {
  id: string;
  objectSequence: number;
  createdAt: Date;
}

/**
 * Writes one event in `tx`, the transaction that makes the change. `data` is the object as the API
 * shows it after the change.
 */
export async function emitEvent<E extends EventType>(
  tx: Tx,
  type: E,
  e: { accountId: string; objectId: string; data: EventData<E> },
): Promise<Emitted> {
  const row: EventRow = await insertEvent(tx, {
    type: type.type,
    accountId: e.accountId,
    objectType: type.objectType,
    objectId: e.objectId,
    data: e.data,
  });
  return { id: row.id, objectSequence: row.object_sequence, createdAt: row.created_at };
}

/** One event of `type` for each of many distinct objects, in one statement (a cascade). */
export function emitEvents<E extends EventType>(
  tx: Tx,
  type: E,
  events: { accountId: string; objectId: string; data: EventData<E> }[],
): Promise<number> {
  return insertEvents(tx, type.type, type.objectType, events);
}

/**
 * For a hot path that is one prepared statement (no transaction): the event as CTEs of that
 * statement. Put `eventCtes(when, prefix)` among the statement's CTEs (`when`: the SQL condition
 * under which the change happened, so no change means no event) and pass these values with the
 * statement's own placeholders (added to `into` when given). The statement is the transaction:
 * rolled back, it leaves no event.
 */
export function eventStatementParams<E extends EventType>(
  type: E,
  e: { accountId: string; objectId: string; data: EventData<E> },
  prefix = 'event',
  into?: Record<string, unknown>,
): Record<string, unknown> {
  return eventCteParams(
    { type: type.type, accountId: e.accountId, objectType: type.objectType, objectId: e.objectId, data: e.data },
    prefix,
    into,
  );
}

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
import { insertEvent, insertEventSql, type EventRow } from './store.js';

export {
  defineEventType,
  eventType,
  eventTypes,
  isKnownEventType,
  EVENT_GROUPS,
  insertEventSql,
  type EventData,
  type EventGroup,
  type EventType,
};
// The event as the feed shows it: also the body of a webhook delivery and the source of an e-mail.
export { Event, eventView } from './schemas.js';
export { findEvent, type EventRow } from './store.js';
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

// The catalogue of event types. Each area defines its types once, next to the code that emits them
// (`defineEventType` in its own events.ts), and the catalogue serves /v1/event-types, the OpenAPI
// document's `webhooks`, the endpoints' type filters and the e-mail groups.
import type { Static, TSchema } from 'typebox';

/** Groups an account subscribes e-mail recipients to (and a way to browse the catalogue). */
export const EVENT_GROUPS = [
  'domains',
  'transfers',
  'abuse',
  'fair_use',
  'billing',
  'webhooks',
  'licenses',
  'hosting',
  'tickets',
] as const;
export type EventGroup = (typeof EVENT_GROUPS)[number];

export interface EventType<S extends TSchema = TSchema> {
  /** Dot-delimited: `<object>.<what happened>`, e.g. `domain.registered`. */
  type: string;
  group: EventGroup;
  /** What `object.type` names in the event (`domain`, `transfer`, ...). */
  objectType: string;
  /** One line for people: when it is emitted. */
  summary: string;
  /** The JSON Schema of `data`: the object as the API shows it (or what the event carries). */
  data: S;
}

/** An event type's data, typed from its schema. */
export type EventData<E extends EventType> = Static<E['data']>;

const TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const catalogue = new Map<string, EventType>();

/** Adds a type to the catalogue (at module load); a type defined twice is a programming error. */
export function defineEventType<S extends TSchema>(def: EventType<S>): EventType<S> {
  if (!TYPE_PATTERN.test(def.type)) throw new Error(`event type ${def.type} is not dot-delimited lower case`);
  if (catalogue.has(def.type)) throw new Error(`event type ${def.type} defined twice`);
  catalogue.set(def.type, def);
  return def;
}

/** Every type, sorted by name. */
export const eventTypes = (): EventType[] => [...catalogue.values()].sort((a, b) => a.type.localeCompare(b.type));

export const eventType = (type: string): EventType | undefined => catalogue.get(type);

/** True when `type` is in the catalogue or is `*`. */
export const isKnownEventType = (type: string): boolean => type === '*' || catalogue.has(type);

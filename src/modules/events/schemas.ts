// The event as the feed and webhook deliveries show it (the delivery's body is this object).
import { Type } from 'typebox';
import { DateTime, named, namedSchemas, Page, Uuid } from '../../schemas.js';
import { EVENT_GROUPS } from './registry.js';
import type { EventRow } from './store.js';

export const EventObjectRef = named(
  'EventObject',
  Type.Object(
    {
      type: Type.String({ description: 'What kind of object the event is about', examples: ['domain'] }),
      id: Type.String({ description: 'The object id (a domain name, or a uuid)', examples: ['example.com'] }),
      sequence: Type.Integer({
        minimum: 1,
        maximum: Number.MAX_SAFE_INTEGER,
        description:
          '1, 2, 3... per object, in commit order: keep the highest seen per object and drop an event whose sequence is lower (stale or repeated)',
      }),
    },
    { additionalProperties: false },
  ),
);

const eventFields = {
  id: Uuid,
  type: Type.String({
    description: 'Dot-delimited event type (see GET /v1/event-types)',
    examples: ['domain.registered'],
  }),
  created_at: DateTime,
  account_id: Uuid,
  object: EventObjectRef,
};

export const Event = named(
  'Event',
  Type.Object(
    {
      ...eventFields,
      data: Type.Object(
        {},
        {
          additionalProperties: true,
          description: 'The object as the API showed it right after the change (schema per type: GET /v1/event-types)',
        },
      ),
    },
    { additionalProperties: false },
  ),
);

export const EventList = Page(Event);

/**
 * The event of one type, for the OpenAPI document's webhooks: the Event component, narrowed to this
 * `type` and this type's `data` schema.
 */
export const typedEventSchema = (type: string, data: unknown): Record<string, unknown> => ({
  allOf: [
    { $ref: 'Event' },
    {
      type: 'object',
      required: ['type', 'data'],
      properties: { type: { type: 'string', enum: [type] }, data },
    },
  ],
});

export const EventTypeInfo = named(
  'EventType',
  Type.Object(
    {
      type: Type.String({ examples: ['domain.registered'] }),
      group: Type.Enum([...EVENT_GROUPS], { description: 'For e-mail recipients per group and for browsing' }),
      object_type: Type.String({ examples: ['domain'] }),
      summary: Type.String(),
      data_schema: Type.Object({}, { additionalProperties: true, description: 'JSON Schema (2020-12) of `data`' }),
    },
    { additionalProperties: false },
  ),
);

export const eventView = (r: EventRow) => ({
  id: r.id,
  type: r.type,
  created_at: r.created_at.toISOString(),
  account_id: r.account_id,
  object: { type: r.object_type, id: r.object_id, sequence: r.object_sequence },
  data: r.data as Record<string, unknown>,
});

/**
 * A data schema as a standalone JSON Schema: references to shared components (`{ $ref: "Domain" }`)
 * replaced by the component itself, so /v1/event-types needs nothing else to be read.
 */
export function standaloneSchema(schema: unknown): Record<string, unknown> {
  const byId = new Map(
    namedSchemas().map((s) => {
      const json = s as unknown as Record<string, unknown>;
      return [json.$id as string, json];
    }),
  );
  const inline = (node: unknown, trail: readonly string[]): unknown => {
    if (Array.isArray(node)) return node.map((n) => inline(n, trail));
    if (node === null || typeof node !== 'object') return node;
    const obj = node as Record<string, unknown>;
    const ref = obj.$ref;
    if (typeof ref === 'string' && byId.has(ref) && !trail.includes(ref)) {
      const { $id: _id, ...target } = byId.get(ref)!;
      const { $ref: _ref, ...rest } = obj;
      return { ...(inline(target, [...trail, ref]) as Record<string, unknown>), ...rest };
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, inline(v, trail)]));
  };
  return inline(schema, []) as Record<string, unknown>;
}

// The delivery log as the API shows it: deliveries, their attempts, and the replay's answer.
import { Type } from 'typebox';
import { DateTime, iso, named, Page, Uuid } from '../../schemas.js';
import type { AttemptRow, DeliveryRow } from './delivery-store.js';

const NullableTime = Type.Union([DateTime, Type.Null()]);

const deliveryFields = {
  id: { ...Uuid, description: 'The delivery id: the `webhook-id` header, the same on every attempt' },
  endpoint_id: Uuid,
  event_id: Uuid,
  event_type: Type.Union([Type.String(), Type.Null()], {
    description: 'The event type (null once the event is no longer kept)',
  }),
  status: Type.Enum(['pending', 'succeeded', 'failed'], {
    description:
      "'pending': waiting for its next attempt or being sent; 'succeeded': a 2xx answer; 'failed': the retry schedule ran out or the endpoint was disabled (dead letter)",
  }),
  trigger: Type.Enum(['event', 'replay'], {
    description: "'event': the event's own delivery; 'replay': made by a replay",
  }),
  attempt_count: Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Attempts made so far' }),
  next_attempt_at: Type.Union([DateTime, Type.Null()], { description: 'While pending: when it is tried next' }),
  in_flight: Type.Boolean({ description: 'A worker is sending it right now' }),
  last_attempt_at: NullableTime,
  last_status_code: Type.Union([Type.Integer(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  created_at: DateTime,
  completed_at: NullableTime,
};

export const WebhookDelivery = named('WebhookDelivery', Type.Object(deliveryFields, { additionalProperties: false }));
export const WebhookDeliveryList = Page(WebhookDelivery);

export const WebhookAttempt = named(
  'WebhookAttempt',
  Type.Object(
    {
      attempted_at: DateTime,
      status_code: Type.Union([Type.Integer(), Type.Null()], {
        description: "The receiver's HTTP status; null when none came",
      }),
      duration_ms: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }),
      error: Type.Union([Type.String(), Type.Null()], {
        description: 'Why it failed: an HTTP status, a timeout, a refused connection, the SSRF guard',
      }),
      request_body: Type.Union([Type.String(), Type.Null()], {
        description: 'The body sent: the event, as long as it is kept (30 days); null after that',
      }),
      response_body: Type.Union([Type.String(), Type.Null()], {
        description: "The first 4 KiB of the receiver's answer; null after the retention period",
      }),
    },
    { additionalProperties: false },
  ),
);

export const WebhookDeliveryDetail = named(
  'WebhookDeliveryDetail',
  Type.Object(
    {
      ...deliveryFields,
      attempts: Type.Array(WebhookAttempt, { description: 'Every attempt, oldest first (the last 100)' }),
    },
    { additionalProperties: false },
  ),
);

export const WebhookReplayRequest = Type.Object(
  {
    since: { ...DateTime, description: 'Replay events created at or after this time (at most 30 days back)' },
    until: Type.Optional({ ...DateTime, description: 'And before this time (default now)' }),
    event_types: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
        minItems: 1,
        maxItems: 200,
        uniqueItems: true,
        description: "Only these types (within the endpoint's own)",
      }),
    ),
  },
  { additionalProperties: false },
);

export const WebhookReplay = named(
  'WebhookReplay',
  Type.Object(
    {
      queued: Type.Integer({ minimum: 0, maximum: 10_000, description: 'New deliveries queued (trigger replay)' }),
      since: DateTime,
      until: DateTime,
      next_since: Type.Union([DateTime, Type.Null()], {
        description: 'Set when the replay hit its cap of 10,000 events: replay again from here for the rest',
      }),
    },
    { additionalProperties: false },
  ),
);

export const deliveryView = (d: DeliveryRow, now = new Date()) => ({
  id: d.id,
  endpoint_id: d.endpoint_id,
  event_id: d.event_id,
  event_type: d.event_type,
  status: d.status,
  trigger: d.trigger === 'replay' ? ('replay' as const) : ('event' as const),
  attempt_count: d.attempts,
  next_attempt_at: d.status === 'pending' ? d.next_attempt_at.toISOString() : null,
  in_flight: d.status === 'pending' && d.leased_until !== null && d.leased_until > now,
  last_attempt_at: iso(d.last_attempt_at),
  last_status_code: d.last_status_code,
  last_error: d.last_error,
  created_at: d.created_at.toISOString(),
  completed_at: iso(d.completed_at),
});

/** `requestBody`: the event as sent (every attempt sends the same body), null once it is no longer kept. */
export const attemptView = (a: AttemptRow, requestBody: string | null) => ({
  attempted_at: a.attempted_at.toISOString(),
  status_code: a.status_code,
  duration_ms: a.duration_ms,
  error: a.error,
  request_body: requestBody,
  response_body: a.response_body,
});

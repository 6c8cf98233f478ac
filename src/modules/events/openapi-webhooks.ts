// The OpenAPI 3.1 `webhooks` object: one entry per event type, the request our deliverer sends to an
// endpoint (the Standard Webhooks headers and the event with that type's data schema). Generated SDKs
// and documentation tools read receivers' types from it.
import { eventTypes } from './registry.js';
import { typedEventSchema } from './schemas.js';

const header = (name: string, description: string, example: string) => ({
  name,
  in: 'header',
  required: true,
  description,
  schema: { type: 'string' },
  example,
});

const HEADERS = [
  header('webhook-id', 'The delivery id, the same on every retry of this delivery: dedupe on it', 'msg_2b8d3c3e'),
  header(
    'webhook-timestamp',
    'Unix seconds when this attempt was sent; refuse one too far from your clock',
    '1764729600',
  ),
  header(
    'webhook-signature',
    'Space-separated `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`, one per active secret (two during a rotation)',
    'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
  ),
];

const opId = (type: string) =>
  `on${type
    .split(/[._]/)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('')}`;

/** A fresh copy each call: the document's polish rewrites references in place, the route schemas must keep theirs. */
export function webhooksDocument(): Record<string, unknown> {
  return structuredClone(webhookEntries());
}

function webhookEntries(): Record<string, unknown> {
  return Object.fromEntries(
    eventTypes().map((t) => [
      t.type,
      {
        post: {
          operationId: opId(t.type),
          tags: ['webhooks'],
          summary: t.summary,
          description: `Sent to every enabled endpoint subscribed to \`${t.type}\` (or \`*\`). Group: ${t.group}.`,
          // Authenticated by the webhook-signature header (the endpoint's secret), not by a scheme of ours.
          security: [],
          parameters: HEADERS,
          requestBody: {
            required: true,
            content: { 'application/json': { schema: typedEventSchema(t.type, t.data) } },
          },
          responses: {
            '2XX': { description: 'Received: any 2xx ends the delivery' },
            '410': { description: 'Gone: the endpoint is disabled and its pending deliveries are dropped' },
            default: { description: 'Any other answer, a timeout or a refused connection: retried on the schedule' },
          },
        },
      },
    ]),
  );
}

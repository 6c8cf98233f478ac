// Webhook endpoints as the API shows them, and the bodies that create and change them. The signing
// secret appears only in WebhookEndpointWithSecret (the create and rotate responses).
import { Type } from 'typebox';
import { DateTime, iso, named, Page, PageQuery, Uuid } from '../../schemas.js';
import type { webhookEndpoints } from '../../db/schema/index.js';
import { previousSecretActive, ROTATION_GRACE_HOURS } from './secrets.js';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;

/** Longest URL accepted (a receiver's URL, not a place for data). */
export const MAX_URL_LENGTH = 2048;
/** The most event types one endpoint may name (use ['*'] for every type). */
export const MAX_EVENT_TYPES = 100;
/** The highest max_concurrency the schema takes; the operator's WEBHOOK_MAX_CONCURRENCY may be lower. */
export const MAX_CONCURRENCY_LIMIT = 100;

export const DISABLED_REASONS = ['account', 'operator', 'gone', 'failing'] as const;
export type DisabledReason = (typeof DISABLED_REASONS)[number];

const strict = { additionalProperties: false } as const;

const fields = {
  url: Type.String({
    minLength: 1,
    maxLength: MAX_URL_LENGTH,
    description:
      'Where deliveries are POSTed: an absolute https URL whose host resolves only to public addresses (checked now and at every delivery), without user name or password',
    examples: ['https://hooks.example.com/reseller'],
  }),
  event_types: Type.Array(Type.String({ minLength: 1, maxLength: 100, examples: ['domain.registered'] }), {
    minItems: 1,
    maxItems: MAX_EVENT_TYPES,
    description: "Event types delivered (GET /v1/event-types), or ['*'] for every type, including types added later",
    examples: [['*'], ['domain.registered', 'domain.renewed']],
  }),
  description: Type.String({ maxLength: 500, description: 'Your note about this endpoint' }),
  enabled: Type.Boolean({ description: 'Deliveries are made only to enabled endpoints' }),
  max_concurrency: Type.Integer({
    minimum: 1,
    maximum: MAX_CONCURRENCY_LIMIT,
    description:
      'Deliveries in flight to this endpoint at once (at most the operator setting WEBHOOK_MAX_CONCURRENCY, also the default)',
  }),
};

export const WebhookSecretRotation = named(
  'WebhookSecretRotation',
  Type.Object(
    {
      previous_secret_expires_at: {
        ...DateTime,
        description: 'Until then deliveries carry two signatures: one with the new secret, one with the previous',
      },
    },
    { ...strict, description: 'A rotation in its grace period' },
  ),
);

const endpointFields = {
  id: Uuid,
  url: fields.url,
  event_types: Type.Array(Type.String()),
  description: Type.String(),
  enabled: Type.Boolean(),
  disabled_reason: Type.Union([Type.Enum([...DISABLED_REASONS]), Type.Null()], {
    description:
      "Why it is disabled: 'account' (you disabled it), 'operator' (only an operator can enable it again), 'gone' (the receiver answered 410), 'failing' (every delivery failed for days); null when enabled",
  }),
  disabled_at: Type.Union([DateTime, Type.Null()]),
  max_concurrency: Type.Integer({ minimum: 1, maximum: MAX_CONCURRENCY_LIMIT }),
  secret_rotation: Type.Union([WebhookSecretRotation, Type.Null()], {
    description: 'The previous signing secret still signing after a rotation, or null',
  }),
  created_at: DateTime,
  updated_at: DateTime,
};

export const WebhookEndpoint = named(
  'WebhookEndpoint',
  Type.Object(endpointFields, { ...strict, description: 'A webhook endpoint (never its signing secret)' }),
);
export const WebhookEndpointList = Page(WebhookEndpoint);

export const WebhookEndpointWithSecret = named(
  'WebhookEndpointWithSecret',
  Type.Object(
    {
      ...endpointFields,
      secret: Type.String({
        pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$',
        description:
          'The signing secret (Standard Webhooks form). Shown only in this response: store it now; it cannot be read again, only rotated',
        examples: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      }),
    },
    { ...strict, description: 'A webhook endpoint with its signing secret, shown once' },
  ),
);

/** The endpoint as operators see it: with its account. */
export const AdminWebhookEndpoint = named(
  'AdminWebhookEndpoint',
  Type.Object({ ...endpointFields, account_id: Uuid }, { ...strict, description: 'A webhook endpoint of any account' }),
);
export const AdminWebhookEndpointList = Page(AdminWebhookEndpoint);

export const CreateWebhookBody = Type.Object(
  {
    url: fields.url,
    event_types: Type.Optional({ ...fields.event_types, default: ['*'] }),
    description: Type.Optional(fields.description),
    enabled: Type.Optional(fields.enabled),
    max_concurrency: Type.Optional(fields.max_concurrency),
  },
  strict,
);

export const UpdateWebhookBody = Type.Object(
  {
    url: Type.Optional(fields.url),
    event_types: Type.Optional(fields.event_types),
    description: Type.Optional(fields.description),
    enabled: Type.Optional({
      ...fields.enabled,
      description:
        'false disables it (reason account); true enables it again and clears the reason, unless an operator disabled it (409)',
    }),
    max_concurrency: Type.Optional(fields.max_concurrency),
  },
  { ...strict, minProperties: 1 },
);

export const RotateSecretBody = Type.Object(
  {
    grace_hours: Type.Optional(
      Type.Integer({
        minimum: ROTATION_GRACE_HOURS.min,
        maximum: ROTATION_GRACE_HOURS.max,
        default: ROTATION_GRACE_HOURS.default,
        description: 'How long the current secret keeps signing beside the new one',
      }),
    ),
  },
  strict,
);

export const ListWebhooksQuery = Type.Object(PageQuery, strict);

export const AdminListWebhooksQuery = Type.Object(
  {
    ...PageQuery,
    account_id: Type.Optional(Uuid),
    enabled: Type.Optional(Type.Boolean()),
  },
  strict,
);

export const AdminDisableWebhookBody = Type.Object(
  {
    reason: Type.String({
      minLength: 1,
      maxLength: 500,
      description: 'Why (kept in the audit trail); the account sees disabled_reason operator',
    }),
  },
  strict,
);

export function endpointView(r: EndpointRow, now: Date) {
  return {
    id: r.id,
    url: r.url,
    event_types: r.eventTypes,
    description: r.description,
    enabled: r.enabled,
    disabled_reason: (r.disabledReason as DisabledReason | null) ?? null,
    disabled_at: iso(r.disabledAt),
    max_concurrency: r.maxConcurrency,
    secret_rotation: previousSecretActive(r, now)
      ? { previous_secret_expires_at: r.previousSecretExpiresAt!.toISOString() }
      : null,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

export const adminEndpointView = (r: EndpointRow, now: Date) => ({ ...endpointView(r, now), account_id: r.accountId });

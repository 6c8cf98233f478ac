// The webhooks area's own event type: an endpoint was disabled by the deliverer (the receiver answered
// 410 Gone, or every delivery failed for WEBHOOK_DISABLE_AFTER_DAYS). Emitted in the disabling transaction.
import { Type, type Static } from 'typebox';
import { defineEventType } from '../events/api.js';
import { DateTime, Uuid } from '../../schemas.js';

export const DisabledEndpoint = Type.Object(
  {
    id: Uuid,
    url: Type.String({ description: 'The endpoint URL' }),
    disabled_reason: Type.Enum(['account', 'operator', 'gone', 'failing'], {
      description: "'gone': the receiver answered 410; 'failing': every delivery failed for days",
    }),
    disabled_at: DateTime,
  },
  { additionalProperties: false },
);
export type DisabledEndpointData = Static<typeof DisabledEndpoint>;

export const EndpointDisabled = defineEventType({
  type: 'endpoint.disabled',
  group: 'webhooks',
  objectType: 'webhook_endpoint',
  summary:
    'A webhook endpoint was disabled: by the account or an operator, because its receiver answered 410 Gone, or because every delivery to it failed for 5 days',
  data: DisabledEndpoint,
});

// The delivery log of one endpoint, a manual retry of one delivery and a replay of past events.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFound, ValidationFailed } from '../../errors.js';
import { pageSize } from '../../plugins/cursors.js';
import { PageQuery, Uuid } from '../../schemas.js';
import { tenantOf } from '../accounts/api.js';
import {
  WebhookDelivery,
  WebhookDeliveryDetail,
  WebhookDeliveryList,
  WebhookReplay,
  WebhookReplayRequest,
  attemptView,
  deliveryView,
} from './delivery-schemas.js';
import { DeliveryEndpointDisabled, DeliveryInFlight, type DeliveryService } from './delivery-service.js';

const EndpointParams = Type.Object({ id: Uuid }, { additionalProperties: false });
const DeliveryParams = Type.Object({ id: Uuid, delivery_id: Uuid }, { additionalProperties: false });

export const deliveryRoutes: FastifyPluginAsyncTypebox<{ deliveries: DeliveryService }> = async (
  app,
  { deliveries },
) => {
  app.get(
    '/v1/webhooks/:id/deliveries',
    {
      schema: {
        operationId: 'listWebhookDeliveries',
        tags: ['webhooks'],
        summary: "The endpoint's deliveries, newest first",
        description:
          'The delivery log: one delivery per event (and per replay), with its status, attempt count, next attempt and last outcome. Filter by `status`; `pending` includes deliveries being sent (`in_flight`).',
        params: EndpointParams,
        querystring: Type.Object(
          { ...PageQuery, status: Type.Optional(Type.Enum(['pending', 'succeeded', 'failed'])) },
          { additionalProperties: false },
        ),
        errors: [NotFound],
        response: { 200: WebhookDeliveryList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const before = cursor.position({ createdAt: 'time', id: 'uuid' });
      const rows = await deliveries.list(tenantOf(req.principal), req.params.id, {
        status: req.query.status,
        before,
        limit: limit + 1,
      });
      const now = new Date();
      return cursor.page(
        rows,
        limit,
        (d) => ({ createdAt: d.created_at, id: d.id }),
        (d) => deliveryView(d, now),
      );
    },
  );

  app.get(
    '/v1/webhooks/:id/deliveries/:delivery_id',
    {
      schema: {
        operationId: 'getWebhookDelivery',
        tags: ['webhooks'],
        summary: 'One delivery with its attempts',
        description:
          'Every attempt: when, the HTTP status, how long it took, the error, and the request and response bodies (kept 30 days).',
        params: DeliveryParams,
        errors: [NotFound],
        response: { 200: WebhookDeliveryDetail },
      },
    },
    async (req) => {
      const { delivery, attempts, requestBody } = await deliveries.get(
        tenantOf(req.principal),
        req.params.id,
        req.params.delivery_id,
      );
      return { ...deliveryView(delivery), attempts: attempts.map((a) => attemptView(a, requestBody)) };
    },
  );

  app.post(
    '/v1/webhooks/:id/deliveries/:delivery_id/retry',
    {
      schema: {
        operationId: 'retryWebhookDelivery',
        tags: ['webhooks'],
        summary: 'Send one delivery again now',
        description:
          'A new attempt of the same delivery, with the same `webhook-id`, as soon as a worker picks it up: also for a delivery that failed (its schedule ran out) or succeeded. A failed retry of a dead-lettered delivery fails it again; otherwise the delivery continues on its retry schedule. 409 while it is being sent, or when the endpoint is disabled.',
        params: DeliveryParams,
        errors: [NotFound, DeliveryEndpointDisabled, DeliveryInFlight],
        response: { 202: WebhookDelivery },
      },
    },
    async (req, reply) => {
      req.audit = { targetType: 'webhook_delivery', targetId: req.params.delivery_id };
      const d = await deliveries.retry(tenantOf(req.principal), req.params.id, req.params.delivery_id);
      return reply.code(202).send(deliveryView(d));
    },
  );

  app.post(
    '/v1/webhooks/:id/replay',
    {
      schema: {
        operationId: 'replayWebhookEvents',
        tags: ['webhooks'],
        summary: 'Deliver every event since a time to this endpoint again',
        description:
          "New deliveries (trigger `replay`, each with a new `webhook-id`; dedupe on the event's `id`) of the account's kept events created in [`since`, `until`) that the endpoint subscribes to, oldest first. At most 10,000 events per call: when more remain, `next_since` says where to continue. 409 when the endpoint is disabled.",
        params: EndpointParams,
        body: WebhookReplayRequest,
        errors: [NotFound, DeliveryEndpointDisabled, ValidationFailed],
        response: { 202: WebhookReplay },
      },
    },
    async (req, reply) => {
      req.audit = { targetType: 'webhook_endpoint', targetId: req.params.id };
      const r = await deliveries.replay(tenantOf(req.principal), req.params.id, {
        since: new Date(req.body.since),
        until: req.body.until ? new Date(req.body.until) : undefined,
        eventTypes: req.body.event_types,
      });
      return reply.code(202).send({
        queued: r.queued,
        since: r.since.toISOString(),
        until: r.until.toISOString(),
        next_since: r.next_since ? r.next_since.toISOString() : null,
      });
    },
  );
};

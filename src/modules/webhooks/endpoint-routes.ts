// /v1/webhooks: the account's webhook endpoints (URL, event types, signing secret shown once,
// rotation with a grace period). Deliveries and their log: delivery-routes.ts.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFound } from '../../errors.js';
import { pageSize } from '../../plugins/cursors.js';
import { IdParams } from '../../schemas.js';
import { tenantOf } from '../accounts/api.js';
import {
  UnsafeWebhookUrl,
  WebhookDisabledByOperator,
  WebhookEndpointLimit,
  type EndpointService,
} from './endpoint-service.js';
import type { EndpointRow } from './schemas.js';
import {
  CreateWebhookBody,
  endpointView,
  ListWebhooksQuery,
  RotateSecretBody,
  UpdateWebhookBody,
  WebhookEndpoint,
  WebhookEndpointList,
  WebhookEndpointWithSecret,
} from './schemas.js';

const TARGET = 'webhook_endpoint';

export const endpointRoutes: FastifyPluginAsyncTypebox<{ endpoints: EndpointService; now: () => Date }> = async (
  app,
  { endpoints, now },
) => {
  // secret_rotation shows only a grace period that has not ended yet, by the area's clock.
  const view = (r: EndpointRow) => endpointView(r, now());
  app.post(
    '/v1/webhooks',
    {
      schema: {
        operationId: 'createWebhook',
        tags: ['webhooks'],
        summary: 'Create a webhook endpoint; its signing secret is shown once, in this response',
        description:
          "The URL must be https and its host must resolve only to public addresses (422 unsafe_webhook_url); event types must be in the catalogue (GET /v1/event-types) or ['*'] (the default). We generate the signing secret (Standard Webhooks form, `whsec_...`): store it from this response, it is never shown again (rotate it to get a new one).",
        body: CreateWebhookBody,
        errors: [NotFound, UnsafeWebhookUrl, WebhookEndpointLimit],
        response: { 201: WebhookEndpointWithSecret },
      },
      config: { sensitive: true },
    },
    async (req, reply) => {
      const b = req.body;
      const { row, secret } = await endpoints.create(tenantOf(req.principal), {
        url: b.url,
        eventTypes: b.event_types,
        description: b.description,
        enabled: b.enabled,
        maxConcurrency: b.max_concurrency,
      });
      req.audit = { targetType: TARGET, targetId: row.id };
      return reply.code(201).send({ ...view(row), secret });
    },
  );

  app.get(
    '/v1/webhooks',
    {
      schema: {
        operationId: 'listWebhooks',
        tags: ['webhooks'],
        summary: 'Your webhook endpoints, oldest first (never their secrets)',
        querystring: ListWebhooksQuery,
        errors: [NotFound],
        response: { 200: WebhookEndpointList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const at = cursor.position({ createdAt: 'time', id: 'uuid' });
      const rows = await endpoints.list(tenantOf(req.principal), { after: at, limit });
      return cursor.page(rows, limit, (r) => ({ createdAt: r.createdAt, id: r.id }), view);
    },
  );

  app.get(
    '/v1/webhooks/:id',
    {
      schema: {
        operationId: 'getWebhook',
        tags: ['webhooks'],
        summary: 'One webhook endpoint (never its secret)',
        params: IdParams,
        errors: [NotFound],
        response: { 200: WebhookEndpoint },
      },
    },
    async (req) => view(await endpoints.get(tenantOf(req.principal), req.params.id)),
  );

  app.patch(
    '/v1/webhooks/:id',
    {
      schema: {
        operationId: 'updateWebhook',
        tags: ['webhooks'],
        summary: 'Change a webhook endpoint: URL, event types, description, enabled, max_concurrency',
        description:
          'A new URL passes the same checks as at creation. `enabled: false` disables it (disabled_reason account); `enabled: true` enables it again and clears the reason and the run of failures, except after an operator disabled it (409 webhook_disabled_by_operator).',
        params: IdParams,
        body: UpdateWebhookBody,
        errors: [NotFound, UnsafeWebhookUrl, WebhookDisabledByOperator],
        response: { 200: WebhookEndpoint },
      },
    },
    async (req) => {
      const b = req.body;
      const row = await endpoints.update(tenantOf(req.principal), req.params.id, {
        url: b.url,
        eventTypes: b.event_types,
        description: b.description,
        enabled: b.enabled,
        maxConcurrency: b.max_concurrency,
      });
      req.audit = { targetType: TARGET, targetId: row.id };
      return view(row);
    },
  );

  app.delete(
    '/v1/webhooks/:id',
    {
      schema: {
        operationId: 'deleteWebhook',
        tags: ['webhooks'],
        summary: 'Delete a webhook endpoint with its deliveries and their log',
        params: IdParams,
        errors: [NotFound],
        response: { 204: Type.Null({ description: 'Deleted' }) },
      },
    },
    async (req, reply) => {
      await endpoints.remove(tenantOf(req.principal), req.params.id);
      req.audit = { targetType: TARGET, targetId: req.params.id };
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/webhooks/:id/rotate-secret',
    {
      schema: {
        operationId: 'rotateWebhookSecret',
        tags: ['webhooks'],
        summary: 'A new signing secret, shown once; the current one keeps signing for grace_hours',
        description:
          'Until `secret_rotation.previous_secret_expires_at` every delivery carries two signatures (new and previous secret), so your receiver can switch at its own pace. Rotating again during a grace period makes the current secret the previous one and drops the older one at once.',
        params: IdParams,
        body: RotateSecretBody,
        errors: [NotFound],
        response: { 200: WebhookEndpointWithSecret },
      },
      config: { sensitive: true },
    },
    async (req) => {
      const { row, secret } = await endpoints.rotateSecret(
        tenantOf(req.principal),
        req.params.id,
        req.body.grace_hours,
      );
      req.audit = { targetType: TARGET, targetId: row.id };
      return { ...view(row), secret };
    },
  );
};

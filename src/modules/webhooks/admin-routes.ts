// /v1/admin/webhooks: operators see every account's webhook endpoints and disable or enable any.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotFound } from '../../errors.js';
import { pageSize } from '../../plugins/cursors.js';
import { IdParams } from '../../schemas.js';
import type { EndpointService } from './endpoint-service.js';
import {
  AdminDisableWebhookBody,
  AdminListWebhooksQuery,
  AdminWebhookEndpoint,
  AdminWebhookEndpointList,
  adminEndpointView,
  type EndpointRow,
} from './schemas.js';

export const adminWebhookRoutes: FastifyPluginAsyncTypebox<{ endpoints: EndpointService; now: () => Date }> = async (
  app,
  { endpoints, now },
) => {
  const view = (r: EndpointRow) => adminEndpointView(r, now());
  app.get(
    '/v1/admin/webhooks',
    {
      schema: {
        operationId: 'adminListWebhooks',
        tags: ['admin'],
        summary: 'Webhook endpoints of every account, oldest first (never their secrets)',
        querystring: AdminListWebhooksQuery,
        response: { 200: AdminWebhookEndpointList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const rows = await endpoints.adminList({
        accountId: req.query.account_id,
        enabled: req.query.enabled,
        after: cursor.position({ createdAt: 'time', id: 'uuid' }),
        limit,
      });
      return cursor.page(rows, limit, (r) => ({ createdAt: r.createdAt, id: r.id }), view);
    },
  );

  app.post(
    '/v1/admin/webhooks/:id/disable',
    {
      schema: {
        operationId: 'adminDisableWebhook',
        tags: ['admin'],
        summary: 'Disable a webhook endpoint (disabled_reason operator; the account cannot enable it again)',
        description:
          'The reason is kept in the audit trail. Disabling an endpoint an operator disabled changes nothing.',
        params: IdParams,
        body: AdminDisableWebhookBody,
        errors: [NotFound],
        response: { 200: AdminWebhookEndpoint },
      },
    },
    async (req) => {
      const row = await endpoints.adminDisable(req.params.id);
      req.audit = { accountId: row.accountId, targetType: 'webhook_endpoint', targetId: row.id };
      return view(row);
    },
  );

  app.post(
    '/v1/admin/webhooks/:id/enable',
    {
      schema: {
        operationId: 'adminEnableWebhook',
        tags: ['admin'],
        summary: 'Enable a webhook endpoint again, whatever disabled it (the reason and the failure run are cleared)',
        params: IdParams,
        errors: [NotFound],
        response: { 200: AdminWebhookEndpoint },
      },
    },
    async (req) => {
      const row = await endpoints.adminEnable(req.params.id);
      req.audit = { accountId: row.accountId, targetType: 'webhook_endpoint', targetId: row.id };
      return view(row);
    },
  );
};

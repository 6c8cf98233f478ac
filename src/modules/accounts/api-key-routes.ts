// /v1/api-keys: per-user keys with scopes and allowlists, shown once, rotated and revoked (R-SEC-5).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { IdParams } from '../../schemas.js';
import type { AuthService } from './auth-service.js';
import { ApiKey, ApiKeyWithSecret, apiKeyView, CreateApiKeyBody } from './schemas.js';
import { NotFound } from '../../errors.js';
import { ApiKeyExpired, InvalidAllowlist, RoleNotAssignable, ScopeNotPermitted } from './errors.js';

export const apiKeyRoutes: FastifyPluginAsyncTypebox<{ auth: AuthService }> = async (app, { auth }) => {
  app.get(
    '/v1/api-keys',
    {
      schema: {
        operationId: 'listApiKeys',
        tags: ['api-keys'],
        summary: 'Your active API keys (every key of the account with users:write)',
        errors: [NotFound],
        response: {
          200: Type.Object({ data: Type.Array(ApiKey) }, { additionalProperties: false }),
        },
      },
    },
    async (req) => ({ data: (await auth.listApiKeys(req.principal!)).map(apiKeyView) }),
  );

  app.post(
    '/v1/api-keys',
    {
      schema: {
        operationId: 'createApiKey',
        tags: ['api-keys'],
        summary: 'Create an API key; the key and its signing secret are shown once',
        description:
          'Scopes must be permissions you hold (422 scope_not_permitted). The key may carry its own IP allowlist.',
        body: CreateApiKeyBody,
        errors: [NotFound, ScopeNotPermitted, InvalidAllowlist],
        response: { 201: ApiKeyWithSecret },
      },
      config: { sensitive: true },
    },
    async (req, reply) => {
      const b = req.body;
      const created = await auth.createApiKey(req.principal!, {
        name: b.name,
        scopes: b.scopes,
        ipAllowlist: b.ip_allowlist,
        expiresAt: b.expires_at ? new Date(b.expires_at) : undefined,
      });
      req.audit = { targetType: 'api_key', targetId: created.row.id };
      return reply.code(201).send({ api_key: apiKeyView(created.row), key: created.key, secret: created.secret });
    },
  );

  app.get(
    '/v1/api-keys/:id',
    {
      schema: {
        operationId: 'getApiKey',
        tags: ['api-keys'],
        summary: 'One API key (never its secret)',
        params: IdParams,
        errors: [NotFound, RoleNotAssignable],
        response: { 200: ApiKey },
      },
    },
    async (req) => apiKeyView(await auth.getApiKey(req.principal!, req.params.id)),
  );

  app.post(
    '/v1/api-keys/:id/rotate',
    {
      schema: {
        operationId: 'rotateApiKey',
        tags: ['api-keys'],
        summary: 'Replace the key and secret; the old ones stop working at once',
        params: IdParams,
        errors: [NotFound, RoleNotAssignable, ApiKeyExpired],
        response: { 200: ApiKeyWithSecret },
      },
      config: { sensitive: true },
    },
    async (req) => {
      const rotated = await auth.rotateApiKey(req.principal!, req.params.id);
      app.credentialCache.revoke({ credentialId: rotated.row.id });
      req.audit = { targetType: 'api_key', targetId: rotated.row.id };
      return { api_key: apiKeyView(rotated.row), key: rotated.key, secret: rotated.secret };
    },
  );

  app.delete(
    '/v1/api-keys/:id',
    {
      schema: {
        operationId: 'revokeApiKey',
        tags: ['api-keys'],
        summary: 'Revoke an API key',
        params: IdParams,
        errors: [NotFound, RoleNotAssignable],
        response: { 200: ApiKey },
      },
    },
    async (req) => {
      const row = await auth.revokeApiKey(req.principal!, req.params.id);
      app.credentialCache.revoke({ credentialId: row.id });
      req.audit = { targetType: 'api_key', targetId: row.id };
      return apiKeyView(row);
    },
  );
};

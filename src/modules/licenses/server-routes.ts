// /v1/servers: the reseller's own servers (R-LIC-3).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFound } from '../../errors.js';
import { pageSize } from '../../plugins/cursors.js';
import { IdParams, PageQuery } from '../../schemas.js';
import { tenantOf } from '../accounts/api.js';
import { IpAddress, Server, ServerList, ServerProvider, serverView, strict } from './schemas.js';
import { ServerInUse, ServerNameTaken, type ServerService } from './server-service.js';

const fields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  addresses: Type.Array(IpAddress, { minItems: 1, maxItems: 32, description: 'Public IPv4 and IPv6 addresses' }),
  location: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  provider: ServerProvider,
};
const CreateServer = Type.Object(fields, strict);
const PatchServer = Type.Partial(Type.Object(fields, strict), { ...strict, minProperties: 1 });

export const serverRoutes: FastifyPluginAsyncTypebox<{ servers: ServerService }> = async (app, { servers }) => {
  app.post(
    '/v1/servers',
    {
      schema: {
        operationId: 'createServer',
        tags: ['servers'],
        summary: 'Add a server of yours (its public addresses)',
        body: CreateServer,
        errors: [ServerNameTaken],
        response: { 201: Server },
      },
    },
    async (req, reply) => {
      const s = await servers.create(tenantOf(req.principal), req.body);
      req.audit = { targetType: 'server', targetId: s.id };
      return reply.code(201).send(serverView(s));
    },
  );

  app.get(
    '/v1/servers',
    {
      schema: {
        operationId: 'listServers',
        tags: ['servers'],
        summary: 'Your servers',
        querystring: Type.Object({ ...PageQuery }, strict),
        response: { 200: ServerList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const rows = await servers.list(tenantOf(req.principal), cursor.position({ id: 'uuid' })?.id, limit);
      return cursor.page(rows, limit, (s) => ({ id: s.id }), serverView);
    },
  );

  app.get(
    '/v1/servers/:id',
    {
      schema: {
        operationId: 'getServer',
        tags: ['servers'],
        summary: 'One server',
        params: IdParams,
        errors: [NotFound],
        response: { 200: Server },
      },
    },
    async (req) => serverView(await servers.get(tenantOf(req.principal), req.params.id)),
  );

  app.patch(
    '/v1/servers/:id',
    {
      schema: {
        operationId: 'updateServer',
        tags: ['servers'],
        summary: 'Change a server (an address a live license is bound to cannot be removed)',
        params: IdParams,
        body: PatchServer,
        errors: [NotFound, ServerNameTaken, ServerInUse],
        response: { 200: Server },
      },
    },
    async (req) => {
      req.audit = { targetType: 'server', targetId: req.params.id };
      return serverView(await servers.update(tenantOf(req.principal), req.params.id, req.body));
    },
  );

  app.delete(
    '/v1/servers/:id',
    {
      schema: {
        operationId: 'deleteServer',
        tags: ['servers'],
        summary: 'Delete a server without live licenses',
        params: IdParams,
        errors: [NotFound, ServerInUse],
        response: { 204: Type.Null({ description: 'Deleted' }) },
      },
    },
    async (req, reply) => {
      req.audit = { targetType: 'server', targetId: req.params.id };
      await servers.remove(tenantOf(req.principal), req.params.id);
      return reply.code(204).send(null);
    },
  );
};

// /v1/events (the account's feed), /v1/events/{id} and /v1/event-types (the catalogue).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFound } from '../../errors.js';
import { pageSize } from '../../plugins/cursors.js';
import { PageQuery, Uuid } from '../../schemas.js';
import { tenantOf } from '../accounts/api.js';
import { eventTypes, isKnownEventType } from './registry.js';
import { Event, EventList, EventTypeInfo, eventView, standaloneSchema } from './schemas.js';
import type { EventService } from './service.js';
import { defineError } from '../../errors.js';

export const UnknownEventType = defineError('unknown_event_type', 422, 'No such event type (GET /v1/event-types)');

export const eventRoutes: FastifyPluginAsyncTypebox<{ events: EventService }> = async (app, { events }) => {
  app.get(
    '/v1/events',
    {
      schema: {
        operationId: 'listEvents',
        tags: ['events'],
        summary: "The account's events, oldest first, kept 30 days",
        description:
          'A feed in commit order: an event appears once every transaction that began before it has ended, so paging with `after` (or the cursor) never skips one that commits late. Filter by `type` (comma-separated) and `object_id`.',
        querystring: Type.Object(
          {
            ...PageQuery,
            type: Type.Optional(
              Type.String({
                maxLength: 1000,
                description: 'Comma-separated event types',
                examples: ['domain.registered'],
              }),
            ),
            object_id: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
            after: Type.Optional({ ...Uuid, description: 'Only events after this one (its id)' }),
          },
          { additionalProperties: false },
        ),
        errors: [NotFound, UnknownEventType],
        response: { 200: EventList },
      },
    },
    async (req) => {
      const accountId = tenantOf(req.principal);
      const types = req.query.type
        ?.split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '');
      // `type=` or `type=,,` names nothing: an empty filter is a caller's mistake, not "every type".
      if (types?.length === 0) throw new UnknownEventType('type names no event type; leave it out for every type');
      const unknown = types?.find((t) => t === '*' || !isKnownEventType(t));
      if (unknown !== undefined) throw new UnknownEventType(`${unknown} is not an event type`);
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      let after = cursor.position({ txId: 'id', position: 'id' });
      if (!after && req.query.after) {
        const from = await events.get(accountId, req.query.after);
        if (!from) throw new NotFound(`no event ${req.query.after} (older than 30 days, or not this account's)`);
        after = { txId: from.tx_id, position: from.position };
      }
      const rows = await events.list({
        accountId,
        types,
        objectId: req.query.object_id,
        after,
        limit: limit + 1,
      });
      return cursor.page(rows, limit, (r) => ({ txId: r.tx_id, position: r.position }), eventView);
    },
  );

  app.get(
    '/v1/events/:id',
    {
      schema: {
        operationId: 'getEvent',
        tags: ['events'],
        summary: 'One event',
        params: Type.Object({ id: Uuid }, { additionalProperties: false }),
        errors: [NotFound],
        response: { 200: Event },
      },
    },
    async (req) => {
      const row = await events.get(tenantOf(req.principal), req.params.id);
      if (!row) throw new NotFound('no such event');
      return eventView(row);
    },
  );

  app.get(
    '/v1/event-types',
    {
      schema: {
        operationId: 'listEventTypes',
        tags: ['events'],
        summary: 'Every event type, with the JSON Schema of its data',
        errors: [],
        response: { 200: Type.Object({ data: Type.Array(EventTypeInfo) }, { additionalProperties: false }) },
      },
    },
    async () => ({
      data: eventTypes().map((t) => ({
        type: t.type,
        group: t.group,
        object_type: t.objectType,
        summary: t.summary,
        data_schema: standaloneSchema(t.data),
      })),
    }),
  );
};

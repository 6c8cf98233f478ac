// /v1/spam-filter/domains: domains filtered by the spam-filter vendor, their mailbox count, included
// limit and projected overage (R-LIC-4); operators import the vendor's mailbox reports.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFound, ValidationFailed } from '../../errors.js';
import { pageSize } from '../../plugins/cursors.js';
import { DateTime, PageQuery } from '../../schemas.js';
import { tenantOf, type Principal } from '../accounts/api.js';
import { strict } from './schemas.js';
import {
  Destination,
  SpamFilterDomain,
  SpamFilterDomainList,
  SpamFilterDomainTaken,
  type SpamFilter,
} from './spam-filter.js';

const Products = Type.Array(Type.Enum(['incoming', 'outgoing', 'archiving']), {
  minItems: 1,
  maxItems: 3,
  uniqueItems: true,
});
const fields = {
  destinations: Type.Array(Destination, { minItems: 1, maxItems: 10 }),
  aliases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 100 })),
  products: Products,
};
const NameParams = Type.Object({ name: Type.String({ minLength: 3, maxLength: 253 }) }, strict);

export const spamFilterRoutes: FastifyPluginAsyncTypebox<{ spam: SpamFilter }> = async (app, { spam }) => {
  const account = (p: Principal | null) => ({ id: tenantOf(p), currency: p!.accountCurrency! });

  app.post(
    '/v1/spam-filter/domains',
    {
      schema: {
        operationId: 'addSpamFilterDomain',
        tags: ['licenses'],
        summary: 'Filter a domain (held here or elsewhere): its mail destinations, aliases and products',
        description:
          "R-LIC-4: 1,000 mailboxes per domain are included, each one above is charged per monthly period at the catalogue's SPAMEXPERTS-MAILBOX-OVERAGE price in your account's currency. An account whose currency has no such price cannot add a domain: 422 validation_failed with an error of code not_sold_in_currency at /body.",
        body: Type.Object({ name: Type.String({ minLength: 3, maxLength: 253 }), ...fields }, strict),
        // ValidationFailed: besides the schema, not_sold_in_currency (no overage price in the account's currency).
        errors: [SpamFilterDomainTaken, ValidationFailed],
        response: { 201: SpamFilterDomain },
      },
      config: { guardSubjects: [{ kind: 'domains', at: '/body/name' }] },
    },
    async (req, reply) => {
      const d = await spam.add(account(req.principal), req.body);
      req.audit = { targetType: 'spam_filter_domain', targetId: d.name };
      return reply.code(201).send(d);
    },
  );

  app.get(
    '/v1/spam-filter/domains',
    {
      schema: {
        operationId: 'listSpamFilterDomains',
        tags: ['licenses'],
        summary: 'Your spam-filter domains with their mailbox counts and projected overage',
        querystring: Type.Object({ ...PageQuery }, strict),
        response: { 200: SpamFilterDomainList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const rows = await spam.list(account(req.principal), cursor.position({ name: { text: 253 } })?.name, limit);
      return cursor.page(
        rows,
        limit,
        (d) => ({ name: d.name }),
        (d) => d,
      );
    },
  );

  app.get(
    '/v1/spam-filter/domains/:name',
    {
      schema: {
        operationId: 'getSpamFilterDomain',
        tags: ['licenses'],
        summary: 'One domain: mailboxes counted, included, over, and the projected charge of the current period',
        params: NameParams,
        errors: [NotFound],
        response: { 200: SpamFilterDomain },
      },
    },
    async (req) => spam.get(account(req.principal), req.params.name),
  );

  app.patch(
    '/v1/spam-filter/domains/:name',
    {
      schema: {
        operationId: 'updateSpamFilterDomain',
        tags: ['licenses'],
        summary: 'Change destinations, aliases or products',
        params: NameParams,
        body: Type.Partial(
          Type.Object(
            { ...fields, aliases: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 100 }) },
            strict,
          ),
          {
            ...strict,
            minProperties: 1,
          },
        ),
        errors: [NotFound, SpamFilterDomainTaken],
        response: { 200: SpamFilterDomain },
      },
    },
    async (req) => {
      req.audit = { targetType: 'spam_filter_domain', targetId: req.params.name };
      return spam.update(account(req.principal), req.params.name, req.body);
    },
  );

  app.delete(
    '/v1/spam-filter/domains/:name',
    {
      schema: {
        operationId: 'removeSpamFilterDomain',
        tags: ['licenses'],
        summary: 'Stop filtering a domain (the overage it ran up and was not charged for yet is charged first)',
        params: NameParams,
        errors: [NotFound],
        response: { 204: Type.Null({ description: 'Removed' }) },
      },
    },
    async (req, reply) => {
      req.audit = { targetType: 'spam_filter_domain', targetId: req.params.name };
      await spam.remove(account(req.principal), req.params.name);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/admin/spam-filter/mailbox-reports',
    {
      schema: {
        operationId: 'adminImportMailboxReport',
        tags: ['admin'],
        summary:
          "Import the vendor's mailbox report of one domain (recipients with a successful delivery in the last 7 days)",
        description:
          'Mailboxes of the domain itself count, each once; entries of kind alias or list, and addresses at its aliases, do not (R-LIC-4).',
        body: Type.Object(
          {
            domain: Type.String({ minLength: 3, maxLength: 253 }),
            recipients: Type.Array(
              Type.Object(
                {
                  address: Type.String({ minLength: 3, maxLength: 320 }),
                  kind: Type.Optional(Type.Enum(['mailbox', 'alias', 'list'])),
                },
                strict,
              ),
              { maxItems: 100_000 },
            ),
            reported_at: Type.Optional(DateTime),
          },
          strict,
        ),
        errors: [NotFound],
        response: {
          200: Type.Object(
            { mailboxes: Type.Integer({ minimum: 0, maximum: 100_000 }), domain: SpamFilterDomain },
            strict,
          ),
        },
      },
    },
    async (req) => {
      req.audit = { targetType: 'spam_filter_domain', targetId: req.body.domain };
      return spam.report(
        req.body.domain,
        req.body.recipients,
        req.body.reported_at ? new Date(req.body.reported_at) : undefined,
      );
    },
  );
};

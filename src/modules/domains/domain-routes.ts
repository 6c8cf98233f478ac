// /v1/domains: availability checks (R-DOM-2, R-DOM-4), registration, list and read.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { pageSize } from '../../plugins/cursors.js';
import { Currency, Money, MoneyAmount, Page, PageQuery } from '../../schemas.js';
import { tenantOf, type Principal } from '../accounts/api.js';
import {
  CheckResult,
  Domain,
  DomainStatus,
  domainView,
  Handle,
  NAMED_BY_ORDER,
  NameParams,
  nameFromParam,
  strict,
  Warning,
} from './domain-schemas.js';
import type { DomainService } from './domain-service.js';
import { AvailabilityCheckRequired, PremiumNotAccepted, QuoteExpired } from './register-service.js';
import { DomainNotAvailable } from './registry.js';
import { InsufficientFunds } from '../billing/api.js';
import { NotFound } from '../../errors.js';
import { PriceChanged } from './pricing.js';

const CheckBody = Type.Object(
  { names: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 50 }) },
  strict,
);
const RegisterBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 253 }),
    period_years: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'Default: the TLD minimum' })),
    contacts: Type.Object(
      { owner: Handle, admin: Type.Optional(Handle), tech: Type.Optional(Handle), billing: Type.Optional(Handle) },
      strict,
    ),
    nameservers: Type.Array(Type.String({ maxLength: 253 }), { maxItems: 13, description: 'None, or 2 to 13' }),
    quote_id: Type.Optional(
      Type.String({ maxLength: 400, description: 'Honour the price of this quote (from a check) while it holds' }),
    ),
    max_price: Type.Optional(
      Type.Object(
        { amount: MoneyAmount({ minimum: 0 }), currency: Currency },
        { ...strict, description: 'Refuse (409 price_changed) if the charge would be higher' },
      ),
    ),
    accept_premium: Type.Optional(Type.Boolean()),
    autorenew: Type.Optional(Type.Boolean()),
  },
  strict,
);

export interface DomainRouteOptions {
  domains: DomainService;
}

export const domainRoutes: FastifyPluginAsyncTypebox<DomainRouteOptions> = async (app, { domains }) => {
  // The principal carries the account's currency (fixed at creation): no account read per call.
  const caller = (principal: Principal | null) => ({ id: tenantOf(principal), currency: principal!.accountCurrency! });

  app.post(
    '/v1/domains/check',
    {
      schema: {
        operationId: 'checkDomains',
        tags: ['domains'],
        summary: 'Check up to 50 names: free, taken, reserved, premium or invalid, with a quote',
        description:
          'A registration needs a check of the same name by the same account that found it free (or premium) within the last hour (R-DOM-2). The same account may check the same name once per 5 seconds (429 with Retry-After, R-DOM-4).',
        body: CheckBody,
        errors: [NotFound],
        response: { 200: Type.Object({ results: Type.Array(CheckResult) }, strict) },
      },
      // A check is a query, not a change: neither an order nor an update (R-API-3), nothing for the
      // audit log (R-SEC-7 covers changes); R-DOM-4 governs it instead, and each check is recorded
      // for R-DOM-2 in domain_checks.
      config: { bulkExempt: true, audit: false },
    },
    async (req) => {
      const results = await domains.check(caller(req.principal), req.body.names, req.id);
      return { results };
    },
  );

  app.post(
    '/v1/domains',
    {
      schema: {
        operationId: 'registerDomain',
        tags: ['domains'],
        summary: 'Register a checked name; charged to the balance in the same transaction',
        description:
          'Refused with 409 availability_check_required unless this account checked the name and found it free within the window (R-DOM-2). Honours quote_id, refuses above max_price (409 price_changed), needs accept_premium for premium names. Of two concurrent registrations of one name exactly one succeeds. Send an Idempotency-Key to make retries safe.',
        body: RegisterBody,
        errors: [
          NotFound,
          AvailabilityCheckRequired,
          DomainNotAvailable,
          QuoteExpired,
          PremiumNotAccepted,
          PriceChanged,
          InsufficientFunds,
        ],
        response: {
          201: Type.Object({ domain: Domain, charged: Money, warnings: Type.Array(Warning) }, strict),
        },
      },
      config: { guardSubjects: NAMED_BY_ORDER },
    },
    async (req, reply) => {
      const account = caller(req.principal);
      const b = req.body;
      const r = await domains.register(account, {
        name: b.name,
        periodYears: b.period_years,
        contacts: b.contacts,
        nameservers: b.nameservers,
        quoteId: b.quote_id,
        maxPrice: b.max_price,
        acceptPremium: b.accept_premium,
        autorenew: b.autorenew,
      });
      req.audit = { targetType: 'domain', targetId: r.domain.name };
      return reply.code(201).send({ domain: domainView(r.domain), charged: r.charged, warnings: r.warnings });
    },
  );

  app.get(
    '/v1/domains',
    {
      schema: {
        operationId: 'listDomains',
        tags: ['domains'],
        summary: 'Your domains',
        querystring: Type.Object(
          {
            ...PageQuery,
            tld: Type.Optional(Type.String({ maxLength: 63 })),
            status: Type.Optional(
              Type.Union([DomainStatus, Type.Literal('all')], {
                description: 'Default: every status but released and transferred_out',
              }),
            ),
          },
          strict,
        ),
        errors: [NotFound],
        response: { 200: Page(Domain) },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const after = cursor.position({ name: { text: 253 } })?.name;
      const rows = await domains.list(tenantOf(req.principal), {
        after,
        tld: req.query.tld,
        status: req.query.status,
        limit,
      });
      return cursor.page(rows, limit, (d) => ({ name: d.name }), domainView);
    },
  );

  app.get(
    '/v1/domains/:name',
    {
      schema: {
        operationId: 'getDomain',
        tags: ['domains'],
        summary: 'One domain (A-label or Unicode name)',
        params: NameParams,
        errors: [NotFound],
        response: { 200: Domain },
      },
    },
    async (req) => {
      const name = nameFromParam(req.params.name);
      return domainView(await domains.get(tenantOf(req.principal), name, req.params.name));
    },
  );
};

// /v1/domains: availability checks (R-DOM-2, R-DOM-4), registration, list and read.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { and, asc, eq, gt, lt, notInArray } from 'drizzle-orm';
import { sweepExpiredRows } from '../../db/sweep.js';
import { domainChecks, domains } from '../../db/schema/index.js';
import { NotFound } from '../../errors.js';
import { Currency, Money, MoneyAmount, Page, PageQuery } from '../../schemas.js';
import { tenantOf } from '../accounts/service.js';
import type { Principal } from '../accounts/credentials.js';
import { checkNames, checkStore } from './check-service.js';
import {
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
import {
  AvailabilityCheckRequired,
  PremiumNotAccepted,
  PriceChanged,
  QuoteExpired,
  registerDomain,
  registrationFacts,
  registrationWriter,
} from './register-service.js';
import { builtInRegistry, DomainNotAvailable, type RegistryBackend } from './registry.js';
import type { TldCatalogue } from './tld-service.js';
import { InsufficientFunds } from '../billing/ledger.js';

const CheckBody = Type.Object(
  { names: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 50 }) },
  strict,
);
const CheckResult = Type.Object(
  {
    input: Type.String(),
    name: Type.Union([Type.String(), Type.Null()], { description: 'A-label form, as registered and billed' }),
    unicode: Type.Union([Type.String(), Type.Null()]),
    status: Type.Enum(['free', 'taken', 'reserved', 'premium', 'invalid']),
    reason: Type.Union([Type.String(), Type.Null()]),
    quote: Type.Union([
      Type.Object(
        {
          id: Type.String({
            pattern: '^rq_',
            maxLength: 400,
            description: 'Pass as quote_id to the registration; the quote is sealed in it',
          }),
          price: Money,
          per: Type.Literal('year'),
          expires_at: Type.String({ format: 'date-time' }),
        },
        strict,
      ),
      Type.Null(),
    ]),
  },
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
  registry?: RegistryBackend;
  catalogue: TldCatalogue;
  checkWindowS: number;
  quoteTtlS: number;
  dropCatchNamesPerMinute: number;
}

export const domainRoutes: FastifyPluginAsyncTypebox<DomainRouteOptions> = async (app, opts) => {
  const registry = opts.registry ?? builtInRegistry;
  const checks = checkStore(app.db, registry);
  // Checks older than the R-DOM-2 window serve nothing any more.
  sweepExpiredRows(app, 'domain-checks', (now) =>
    app.db
      .delete(domainChecks)
      .where(lt(domainChecks.checkedAt, new Date(now.getTime() - opts.checkWindowS * 1000)))
      .returning({ name: domainChecks.name }),
  );
  const quotes = app.secretBox.signer('domain-quotes');
  const checkDeps = {
    store: checks,
    catalogue: opts.catalogue,
    dropCatch: app.dropCatch,
    quoteTtlMs: opts.quoteTtlS * 1000,
    signQuote: quotes.sign,
  };
  const facts = registrationFacts(app.db);
  const write = registrationWriter(app.db, registry);
  // The principal carries the account's currency (fixed at creation): no account read per call.
  const caller = (principal: Principal | null) => ({ id: tenantOf(principal), currency: principal!.accountCurrency! });
  // R-DOM-4: many distinct names at a high rate is the drop-catch pattern; one incident an hour.
  const names = new Map<string, { minute: number; n: number }>();

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
      const account = caller(req.principal);
      const results = await checkNames(checkDeps, account, req.body.names);
      const minute = Math.floor(Date.now() / 60_000);
      const c = names.get(account.id);
      const n = (c && c.minute === minute ? c.n : 0) + results.filter((r) => r.name).length;
      names.set(account.id, { minute, n });
      if (names.size > 10_000) names.clear();
      if (n >= opts.dropCatchNamesPerMinute && (!c || c.n < opts.dropCatchNamesPerMinute || c.minute !== minute)) {
        await app.incidents.record({
          accountId: account.id,
          type: 'drop_catch_pattern',
          dedupeKey: new Date(minute * 60_000).toISOString().slice(0, 13),
          evidence: { names_in_minute: n, minute: new Date(minute * 60_000).toISOString(), request_id: req.id },
        });
      }
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
      const r = await registerDomain(
        {
          facts,
          write,
          catalogue: opts.catalogue,
          seal: app.secretBox.seal,
          verifyQuote: quotes.verify,
          checkWindowS: opts.checkWindowS,
        },
        account,
        {
          name: b.name,
          periodYears: b.period_years,
          contacts: b.contacts,
          nameservers: b.nameservers,
          quoteId: b.quote_id,
          maxPrice: b.max_price,
          acceptPremium: b.accept_premium,
          autorenew: b.autorenew,
        },
      );
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
      const limit = req.query.limit ?? 50;
      const cursor = app.listCursor(req);
      const after = cursor.position({ name: { text: 253 } })?.name;
      const status = req.query.status;
      const statusFilter =
        status === 'all'
          ? undefined
          : status
            ? eq(domains.status, status)
            : notInArray(domains.status, ['released', 'transferred_out']);
      const rows = await app.db
        .select()
        .from(domains)
        .where(
          and(
            eq(domains.accountId, tenantOf(req.principal)),
            after ? gt(domains.name, after) : undefined,
            req.query.tld ? eq(domains.tld, req.query.tld) : undefined,
            statusFilter,
          ),
        )
        .orderBy(asc(domains.name))
        .limit(limit + 1);
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
      const [row] = await app.db
        .select()
        .from(domains)
        .where(and(eq(domains.accountId, tenantOf(req.principal)), eq(domains.name, name)));
      if (!row || row.status === 'released' || row.status === 'transferred_out')
        throw new NotFound(`No domain ${req.params.name} in your account`);
      return domainView(row);
    },
  );
};

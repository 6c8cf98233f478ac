// /v1/plans and /v1/hosting: the plans and add-ons on sale, reseller subscriptions (quote, buy,
// renew, change plan), their customers, their usage, and their add-ons (R-PLAN, R-ADD).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFound } from '../../errors.js';
import { pageSize } from '../../plugins/cursors.js';
import { DateTime, IdParams, Int32, Money, Uuid } from '../../schemas.js';
import { tenantOf, type Principal } from '../accounts/api.js';
import { InsufficientFunds, PriceChanged, QuoteExpired } from '../billing/api.js';
import {
  AddonAlreadyActive,
  AddonInUse,
  AddonNotFound,
  AddonStateConflict,
  IpPoolExhausted,
  RemovalConfirmationRequired,
  type AddonService,
} from './addons.js';
import {
  Addon,
  AddonList,
  AddonProduct,
  Bytes,
  Count,
  Customer,
  CustomerList,
  MaxPrice,
  OverusePolicy,
  Plan,
  strict,
  Subscription,
  SubscriptionList,
  SubscriptionStatus,
  SuspensionReason,
  TermMonths,
  UsedBytes,
} from './schemas.js';
import {
  AllocationExceedsPlan,
  AlreadyRenewed,
  CustomerLimitReached,
  NotSoldInCurrency,
  PlanDoesNotFit,
  PlanNotFound,
  SamePlan,
  SubscriptionSuspendedError,
  type SubscriptionService,
} from './subscriptions.js';

const PlanId = Type.String({
  minLength: 1,
  maxLength: 100,
  description: 'A plan of GET /v1/plans',
  examples: ['reseller-start'],
});
const QuoteId = Type.String({ maxLength: 600, description: 'A quote_id from the matching quote call' });
const Proration = Type.Object(
  {
    term_start: DateTime,
    term_end: DateTime,
    term_seconds: Type.Integer({ minimum: 1, maximum: 40_000_000 }),
    seconds_remaining: Type.Integer({ minimum: 0, maximum: 40_000_000 }),
    months: Int32({ minimum: 1, maximum: 12 }),
    monthly_price: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Minor units' }),
    amount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Minor units' }),
  },
  {
    ...strict,
    description: 'R-ADD-2: amount = monthly_price × months × seconds_remaining ÷ term_seconds, rounded half up once',
  },
);
const SubscriptionQuote = Type.Object(
  {
    quote_id: Type.String(),
    price: Money,
    monthly: Money,
    months: TermMonths,
    price_version: Int32({ minimum: 1 }),
    expires_at: DateTime,
  },
  strict,
);
const Charged = Type.Object({ subscription: Subscription, charged: Money }, strict);
const RenewalLine = Type.Object(
  {
    item: Type.String({ description: 'plan:<id> or addon:<product>:<addon id>' }),
    monthly: Money,
    months: TermMonths,
    amount: Money,
    note: Type.Union([Type.String(), Type.Null()]),
  },
  strict,
);
const RenewalQuote = Type.Object(
  {
    quote_id: Type.String(),
    price: Money,
    lines: Type.Array(RenewalLine),
    difference_from_current_term: {
      ...Money,
      description:
        'R-ADD-6: what the renewal adds over this term’s price for the same items (a bundled WHMCS now charged)',
    },
    term_start: DateTime,
    term_end: DateTime,
    expires_at: DateTime,
  },
  strict,
);
const Renewed = Type.Object(
  {
    subscription: Subscription,
    charged: Money,
    lines: Type.Array(
      Type.Object(
        {
          item: Type.String(),
          monthly: Money,
          months: TermMonths,
          amount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
          version: Int32({ minimum: 1 }),
          note: Type.Union([Type.String(), Type.Null()]),
        },
        strict,
      ),
    ),
  },
  strict,
);
const PlanChangeQuote = Type.Object(
  {
    quote_id: Type.String(),
    effective: Type.Enum(['now', 'at_renewal', 'cancelled'], {
      description:
        'now: an upgrade (a higher monthly price than the one paid), charged pro rata; at_renewal: a downgrade; cancelled: the current plan named, a scheduled downgrade is cancelled',
    }),
    price: Money,
    proration: Proration,
    expires_at: DateTime,
  },
  strict,
);
const PlanChanged = Type.Object(
  {
    subscription: Subscription,
    charged: Money,
    effective: Type.Enum(['now', 'at_renewal', 'cancelled']),
    proration: Proration,
  },
  strict,
);
const SubParams = Type.Object({ id: Uuid }, strict);
const CustomerParams = Type.Object({ id: Uuid, cid: Uuid }, strict);
const AddonParams = Type.Object({ id: Uuid, addon_id: Uuid }, strict);
const Page = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
};
const UsageEntry = Type.Object(
  {
    customer_id: Type.Optional(
      Type.Union([Uuid, Type.Null()], { description: 'A customer; omitted or null: your own' }),
    ),
    disk_bytes: UsedBytes('Disk used now'),
    traffic_bytes: UsedBytes('Traffic used this month (the month of measured_at, UTC)'),
    mailboxes: Type.Optional(Int32({ minimum: 0 })),
    largest_mailbox_bytes: Type.Optional(
      UsedBytes('The largest mailbox: shown against the plan’s mailbox size, never counted as overuse (R-PLAN-4)'),
    ),
  },
  strict,
);
const UsageBody = Type.Object(
  {
    measured_at: {
      ...DateTime,
      description: 'When it was measured: an older report than the one kept changes nothing',
    },
    entries: Type.Array(UsageEntry, {
      minItems: 1,
      maxItems: 1000,
      description:
        'Each value is at most 2^53 - 1, and so is each total after the report (disk over your own and all your customers’ entries kept, traffic over those of the newest month): a report that would take a total past it is refused (422 usage_total_too_large)',
    }),
  },
  strict,
);
const UsageSummaryFields = {
  subscription_id: Uuid,
  status: SubscriptionStatus,
  suspended_for: Type.Array(SuspensionReason),
  overuse: OverusePolicy,
  disk: Type.Object({ used_bytes: UsedBytes('Total'), limit_bytes: Bytes('The plan') }, strict),
  traffic: Type.Object(
    {
      used_bytes: UsedBytes('Total this month'),
      limit_bytes: Bytes('The plan'),
      month: Type.Union([Type.String(), Type.Null()]),
    },
    strict,
  ),
  thresholds: Type.Array(
    Type.Object(
      {
        resource: Type.Enum(['disk', 'traffic']),
        threshold: Type.String(),
        level_bytes: Type.Union([UsedBytes('The level'), Type.Null()]),
        crossed: Type.Boolean(),
      },
      strict,
    ),
  ),
};
const Usage = Type.Object(
  {
    ...UsageSummaryFields,
    subjects: Type.Array(
      Type.Object(
        {
          customer_id: Type.Union([Uuid, Type.Null()]),
          measured_at: DateTime,
          disk_bytes: UsedBytes('Disk'),
          traffic_bytes: UsedBytes('Traffic in traffic_month'),
          traffic_month: Type.String({ pattern: '^[0-9]{4}-[0-9]{2}$', examples: ['2026-03'] }),
          mailboxes: Int32({ minimum: 0 }),
          largest_mailbox_bytes: UsedBytes('Largest mailbox'),
          mailbox_over_size: Type.Boolean({ description: 'Over the plan’s mailbox size (R-PLAN-4: not overuse)' }),
        },
        strict,
      ),
    ),
  },
  strict,
);
const UsageAccepted = Type.Object(
  {
    ...UsageSummaryFields,
    accepted: Int32({ minimum: 0, description: 'Entries newer than the ones kept (0: the report changed nothing)' }),
  },
  {
    ...strict,
    description: 'The totals after the report and where the subscription stands (GET .../usage for each entry kept)',
  },
);
const CustomerBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    disk_bytes: Bytes('Disk space'),
    traffic_bytes: Bytes('Traffic per month'),
    domains: Count('Domains'),
    sites: Count('Sites'),
    mailboxes: Count('Mailboxes'),
    databases: Count('Databases'),
  },
  strict,
);
const AddonQuote = Type.Object(
  {
    quote_id: Type.String(),
    product: Type.String(),
    price: { ...Money, description: 'What the purchase charges: the rest of this term, plus next_term' },
    next_term: {
      ...Money,
      description: 'The whole next term, when the subscription is renewed already (0 otherwise)',
    },
    monthly_price: Money,
    price_version: Int32({ minimum: 1 }),
    formula: Type.String(),
    months: Int32({ minimum: 1, maximum: 12 }),
    term_start: DateTime,
    term_end: DateTime,
    term_seconds: Type.Integer({ minimum: 1, maximum: 40_000_000 }),
    seconds_remaining: Type.Integer({ minimum: 0, maximum: 40_000_000 }),
    quoted_at: DateTime,
    expires_at: DateTime,
  },
  strict,
);

export interface HostingRouteOptions {
  subscriptions: SubscriptionService;
  addons: AddonService;
  catalogue: { plans(): Promise<unknown[]>; addonProducts(): Promise<unknown[]> };
}

export const hostingRoutes: FastifyPluginAsyncTypebox<HostingRouteOptions> = async (
  app,
  { subscriptions, addons, catalogue },
) => {
  const caller = (req: { principal: Principal | null }) => ({
    accountId: tenantOf(req.principal),
    currency: req.principal!.accountCurrency!,
  });
  const page = <T extends { id: string }>(req: Parameters<typeof app.listCursor>[0], rows: T[], limit: number) =>
    app.listCursor(req).page(
      rows,
      limit,
      (r) => ({ id: r.id }),
      (r) => r,
    );
  const after = (req: Parameters<typeof app.listCursor>[0]) => app.listCursor(req).position({ id: 'uuid' })?.id;

  app.get(
    '/v1/plans',
    {
      schema: {
        operationId: 'listHostingPlans',
        tags: ['hosting'],
        summary: 'Reseller hosting plans on sale: limits, overuse and overselling policies, thresholds, monthly prices',
        response: { 200: Type.Object({ data: Type.Array(Plan) }, strict) },
      },
    },
    async () => ({ data: (await catalogue.plans()) as never }),
  );

  app.get(
    '/v1/hosting/addon-products',
    {
      schema: {
        operationId: 'listHostingAddonProducts',
        tags: ['hosting'],
        summary: 'Add-ons sold per hosting package (R-ADD-1) with their monthly prices',
        response: { 200: Type.Object({ data: Type.Array(AddonProduct) }, strict) },
      },
    },
    async () => ({ data: (await catalogue.addonProducts()) as never }),
  );

  app.post(
    '/v1/hosting/subscriptions/quote',
    {
      schema: {
        operationId: 'quoteHostingSubscription',
        tags: ['hosting'],
        summary: 'The price of a subscription; its quote_id holds it for HOSTING_QUOTE_TTL_S',
        body: Type.Object({ plan_id: PlanId, term_months: TermMonths }, strict),
        errors: [PlanNotFound, NotSoldInCurrency],
        response: { 200: SubscriptionQuote },
      },
      config: { bulkExempt: true, audit: false },
    },
    async (req) => subscriptions.quote(caller(req), { planId: req.body.plan_id, termMonths: req.body.term_months }),
  );

  app.post(
    '/v1/hosting/subscriptions',
    {
      schema: {
        operationId: 'purchaseHostingSubscription',
        tags: ['hosting'],
        summary: 'Buy a reseller subscription to a plan for 1, 3, 6 or 12 months; charged in the same transaction',
        description:
          'Charges the plan’s monthly price × term_months in force now (or exactly the quote’s amount with quote_id; 409 quote_expired once it expired), refused above max_price (409 price_changed). Send an Idempotency-Key to make retries safe.',
        body: Type.Object(
          {
            plan_id: PlanId,
            term_months: TermMonths,
            autorenew: Type.Optional(Type.Boolean()),
            quote_id: Type.Optional(QuoteId),
            max_price: Type.Optional(MaxPrice),
          },
          strict,
        ),
        errors: [PlanNotFound, NotSoldInCurrency, QuoteExpired, PriceChanged, InsufficientFunds],
        response: { 201: Charged },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const r = await subscriptions.purchase(caller(req), {
        planId: b.plan_id,
        termMonths: b.term_months,
        autorenew: b.autorenew,
        quoteId: b.quote_id,
        maxPrice: b.max_price,
      });
      req.audit = { targetType: 'hosting_subscription', targetId: r.subscription.id };
      return reply.code(201).send(r);
    },
  );

  app.get(
    '/v1/hosting/subscriptions',
    {
      schema: {
        operationId: 'listHostingSubscriptions',
        tags: ['hosting'],
        summary: 'Your reseller subscriptions',
        querystring: Type.Object(Page, strict),
        response: { 200: SubscriptionList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      return page(req, await subscriptions.list(tenantOf(req.principal), after(req), limit), limit);
    },
  );

  app.get(
    '/v1/hosting/subscriptions/:id',
    {
      schema: {
        operationId: 'getHostingSubscription',
        tags: ['hosting'],
        summary: 'One subscription: plan, term, status and why it is suspended, usage totals',
        params: IdParams,
        errors: [NotFound],
        response: { 200: Subscription },
      },
    },
    async (req) => subscriptions.get(tenantOf(req.principal), req.params.id),
  );

  app.patch(
    '/v1/hosting/subscriptions/:id',
    {
      schema: {
        operationId: 'updateHostingSubscription',
        tags: ['hosting'],
        summary: 'Turn autorenewal on or off',
        params: IdParams,
        body: Type.Object({ autorenew: Type.Boolean() }, strict),
        errors: [NotFound],
        response: { 200: Subscription },
      },
    },
    async (req) => subscriptions.setAutorenew(tenantOf(req.principal), req.params.id, req.body.autorenew),
  );

  app.post(
    '/v1/hosting/subscriptions/:id/renew/quote',
    {
      schema: {
        operationId: 'quoteHostingRenewal',
        tags: ['hosting'],
        summary: 'What the renewal will charge, line by line (the plan and each add-on at the prices in force)',
        description:
          'R-ADD-5: the package renews with its active add-ons. R-ADD-6: a WHMCS license that came bundled shows here as a charged line with a note, and difference_from_current_term says what it adds; remove it before the renewal to avoid the charge.',
        params: IdParams,
        errors: [NotFound, NotSoldInCurrency, AlreadyRenewed],
        response: { 200: RenewalQuote },
      },
      config: { bulkExempt: true, audit: false },
    },
    async (req) => subscriptions.renewalQuote(caller(req), req.params.id),
  );

  app.post(
    '/v1/hosting/subscriptions/:id/renew',
    {
      schema: {
        operationId: 'renewHostingSubscription',
        tags: ['hosting'],
        summary: 'Renew for another term with the active add-ons; an expired subscription starts a new term now',
        params: IdParams,
        body: Type.Object({ quote_id: Type.Optional(QuoteId), max_price: Type.Optional(MaxPrice) }, strict),
        errors: [NotFound, NotSoldInCurrency, QuoteExpired, PriceChanged, InsufficientFunds, AlreadyRenewed],
        response: { 200: Renewed },
      },
    },
    async (req) => {
      req.audit = { targetType: 'hosting_subscription', targetId: req.params.id };
      return subscriptions.renew(caller(req), req.params.id, {
        quoteId: req.body.quote_id,
        maxPrice: req.body.max_price,
      });
    },
  );

  app.post(
    '/v1/hosting/subscriptions/:id/plan/quote',
    {
      schema: {
        operationId: 'quoteHostingPlanChange',
        tags: ['hosting'],
        summary: 'What moving to another plan costs: an upgrade pro rata now, a downgrade nothing (at the renewal)',
        params: IdParams,
        body: Type.Object({ plan_id: PlanId }, strict),
        errors: [NotFound, PlanNotFound, NotSoldInCurrency, SamePlan, AlreadyRenewed, SubscriptionSuspendedError],
        response: { 200: PlanChangeQuote },
      },
      config: { bulkExempt: true, audit: false },
    },
    async (req) => subscriptions.planChangeQuote(caller(req), req.params.id, req.body.plan_id),
  );

  app.post(
    '/v1/hosting/subscriptions/:id/plan',
    {
      schema: {
        operationId: 'changeHostingPlan',
        tags: ['hosting'],
        summary: 'Move to another plan: an upgrade at once (charged pro rata), a downgrade at the renewal',
        description:
          'A plan with a higher monthly price is an upgrade: charged (new − old) monthly × months × seconds_remaining ÷ term_seconds, its limits apply at once, and an overuse suspension lifts if usage now fits (R-PLAN-2). A suspended subscription may upgrade; an expired one, or one whose term has ended, is refused with 409 subscription_suspended (renew it first). A cheaper plan is a downgrade, scheduled for the renewal, and refused with 409 plan_does_not_fit when current usage, customers or allocations do not fit it.',
        params: IdParams,
        body: Type.Object(
          { plan_id: PlanId, quote_id: Type.Optional(QuoteId), max_price: Type.Optional(MaxPrice) },
          strict,
        ),
        errors: [
          NotFound,
          PlanNotFound,
          NotSoldInCurrency,
          SamePlan,
          AlreadyRenewed,
          SubscriptionSuspendedError,
          PlanDoesNotFit,
          QuoteExpired,
          PriceChanged,
          InsufficientFunds,
        ],
        response: { 200: PlanChanged },
      },
      config: { guardSubjects: [{ kind: 'plans', at: '/body/plan_id' }] },
    },
    async (req) => {
      req.audit = { targetType: 'hosting_subscription', targetId: req.params.id };
      return subscriptions.changePlan(caller(req), req.params.id, {
        planId: req.body.plan_id,
        quoteId: req.body.quote_id,
        maxPrice: req.body.max_price,
      });
    },
  );

  app.get(
    '/v1/hosting/subscriptions/:id/usage',
    {
      schema: {
        operationId: 'getHostingUsage',
        tags: ['hosting'],
        summary: 'Usage against the plan: totals, thresholds, and the latest report of each customer and your own',
        params: IdParams,
        errors: [NotFound],
        response: { 200: Usage },
      },
    },
    async (req) => subscriptions.usage(tenantOf(req.principal), req.params.id),
  );

  app.post(
    '/v1/hosting/subscriptions/:id/usage',
    {
      schema: {
        operationId: 'reportHostingUsage',
        tags: ['hosting'],
        summary: 'Report usage, evaluated at once: thresholds (R-PLAN-3) and the overuse policy (R-PLAN-2)',
        description:
          'Each entry is one customer’s subscription (customer_id) or your own (no customer_id): disk used now and traffic this month. An entry measured no later than the one kept changes nothing, so reports arriving late or twice are harmless. Totals over all entries are checked against the plan: a threshold reached notifies once (hosting.usage.threshold_crossed) and again only after usage fell below it; under overuse not_allowed, reaching the disk or traffic limit suspends the subscription and every customer in this transaction, and falling back under it resumes exactly those. Mailbox sizes never count (R-PLAN-4). A total (disk over your own and your customers’ entries, or their traffic in the newest month) is at most 9007199254740991 bytes (2^53 - 1): a report that would take one past it is refused with 422 validation_failed (code usage_total_too_large at /body/entries) and nothing of it is kept.',
        params: IdParams,
        body: UsageBody,
        errors: [NotFound],
        response: { 200: UsageAccepted },
      },
      // The report's statement writes the request's audit row with it (R-SEC-7) and makes its
      // repeated-failure lookup (R-API-2): the usage report is the hot path.
      config: { bulkExempt: true, guardInStatement: true },
    },
    async (req) => {
      req.audit = { targetType: 'hosting_subscription', targetId: req.params.id };
      const result = await subscriptions.reportUsage(
        tenantOf(req.principal),
        req.params.id,
        {
          measuredAt: new Date(req.body.measured_at),
          entries: req.body.entries.map((e) => ({
            customerId: e.customer_id ?? null,
            diskBytes: e.disk_bytes,
            trafficBytes: e.traffic_bytes,
            mailboxes: e.mailboxes ?? 0,
            largestMailboxBytes: e.largest_mailbox_bytes ?? 0,
          })),
        },
        { audit: req.auditRowFor(200), guard: req.deferredGuard() },
      );
      req.auditWrittenFor = 200;
      return result;
    },
  );

  // ---- customers ----

  app.post(
    '/v1/hosting/subscriptions/:id/customers',
    {
      schema: {
        operationId: 'createHostingCustomer',
        tags: ['hosting'],
        summary: 'Create a customer with its subscription’s allocations (-1: unlimited)',
        description:
          'Capped by the plan’s customer accounts plus any account-block add-ons (409 customer_limit_reached, R-PLAN-6). Unless the plan oversells, the allocations of all customers together must fit the plan (409 allocation_exceeds_plan, R-PLAN-5); overselling, only actual usage counts. Refused while the subscription is suspended (409 subscription_suspended).',
        params: SubParams,
        body: CustomerBody,
        errors: [NotFound, SubscriptionSuspendedError, CustomerLimitReached, AllocationExceedsPlan],
        response: { 201: Customer },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const c = await subscriptions.createCustomer(tenantOf(req.principal), req.params.id, {
        name: b.name,
        diskBytes: b.disk_bytes,
        trafficBytes: b.traffic_bytes,
        domains: b.domains,
        sites: b.sites,
        mailboxes: b.mailboxes,
        databases: b.databases,
      });
      req.audit = { targetType: 'hosting_customer', targetId: c.id };
      return reply.code(201).send(c);
    },
  );

  app.get(
    '/v1/hosting/subscriptions/:id/customers',
    {
      schema: {
        operationId: 'listHostingCustomers',
        tags: ['hosting'],
        summary: 'The subscription’s customers',
        params: SubParams,
        querystring: Type.Object(Page, strict),
        errors: [NotFound],
        response: { 200: CustomerList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      return page(
        req,
        await subscriptions.listCustomers(tenantOf(req.principal), req.params.id, after(req), limit),
        limit,
      );
    },
  );

  app.get(
    '/v1/hosting/subscriptions/:id/customers/:cid',
    {
      schema: {
        operationId: 'getHostingCustomer',
        tags: ['hosting'],
        summary: 'One customer',
        params: CustomerParams,
        errors: [NotFound],
        response: { 200: Customer },
      },
    },
    async (req) => subscriptions.getCustomer(tenantOf(req.principal), req.params.id, req.params.cid),
  );

  app.delete(
    '/v1/hosting/subscriptions/:id/customers/:cid',
    {
      schema: {
        operationId: 'removeHostingCustomer',
        tags: ['hosting'],
        summary: 'Remove a customer and its data (allowed while suspended: its usage leaves the totals)',
        params: CustomerParams,
        errors: [NotFound],
        response: { 204: Type.Null({ description: 'Removed' }) },
      },
    },
    async (req, reply) => {
      await subscriptions.removeCustomer(tenantOf(req.principal), req.params.id, req.params.cid);
      req.audit = { targetType: 'hosting_customer', targetId: req.params.cid };
      return reply.code(204).send(null);
    },
  );

  for (const [action, suspended] of [
    ['suspend', true],
    ['resume', false],
  ] as const)
    app.post(
      `/v1/hosting/subscriptions/:id/customers/:cid/${action}`,
      {
        schema: {
          operationId: suspended ? 'suspendHostingCustomer' : 'resumeHostingCustomer',
          tags: ['hosting'],
          summary: suspended
            ? 'Suspend one of your customers (reason reseller)'
            : 'Lift your suspension of a customer (it stays suspended for any other reason)',
          params: CustomerParams,
          errors: [NotFound],
          response: { 200: Customer },
        },
      },
      async (req) => {
        req.audit = { targetType: 'hosting_customer', targetId: req.params.cid };
        return subscriptions.setCustomerSuspended(tenantOf(req.principal), req.params.id, req.params.cid, suspended);
      },
    );

  // ---- add-ons ----

  app.post(
    '/v1/hosting/subscriptions/:id/addons/quote',
    {
      schema: {
        operationId: 'quoteHostingAddon',
        tags: ['hosting'],
        summary: 'The pro-rata price of an add-on for the rest of the term, with the formula’s inputs (R-ADD-2)',
        description:
          'price = monthly_price × months × seconds_remaining ÷ term_seconds, rounded half up once to the minor unit (a partial second counts as a whole one). The quote_id is signed and expires at expires_at; the purchase with it charges exactly price.',
        params: SubParams,
        body: Type.Object({ product: Type.String({ minLength: 1, maxLength: 100, examples: ['whmcs'] }) }, strict),
        errors: [NotFound, AddonNotFound, NotSoldInCurrency, SubscriptionSuspendedError],
        response: { 200: AddonQuote },
      },
      config: { bulkExempt: true, audit: false },
    },
    async (req) => addons.quote(caller(req), req.params.id, req.body.product),
  );

  app.post(
    '/v1/hosting/subscriptions/:id/addons',
    {
      schema: {
        operationId: 'buyHostingAddon',
        tags: ['hosting'],
        summary: 'Buy an add-on for the rest of the term, charged pro rata (exactly the quote with quote_id)',
        description:
          'R-ADD-2: the add-on runs until the term ends and renews with it. WHMCS issues a license key (one per package), a dedicated IP assigns an address from the pool (409 ip_pool_exhausted), an account block adds customer accounts. Send an Idempotency-Key to make retries safe.',
        params: SubParams,
        body: Type.Object(
          {
            product: Type.String({ minLength: 1, maxLength: 100, examples: ['whmcs'] }),
            quote_id: Type.Optional(QuoteId),
            max_price: Type.Optional(MaxPrice),
          },
          strict,
        ),
        errors: [
          NotFound,
          AddonNotFound,
          NotSoldInCurrency,
          SubscriptionSuspendedError,
          AddonAlreadyActive,
          IpPoolExhausted,
          QuoteExpired,
          PriceChanged,
          InsufficientFunds,
        ],
        response: { 201: Type.Object({ addon: Addon, charged: Money, proration: Proration }, strict) },
      },
      // The answer holds a WHMCS add-on's license key: never cached.
      config: { sensitive: true },
    },
    async (req, reply) => {
      const r = await addons.buy(caller(req), req.params.id, {
        product: req.body.product,
        quoteId: req.body.quote_id,
        maxPrice: req.body.max_price,
      });
      req.audit = { targetType: 'hosting_addon', targetId: r.addon.id };
      return reply.code(201).send(r);
    },
  );

  app.get(
    '/v1/hosting/subscriptions/:id/addons',
    {
      schema: {
        operationId: 'listHostingAddons',
        tags: ['hosting'],
        summary: 'The subscription’s add-ons (GET one for its license key)',
        params: SubParams,
        querystring: Type.Object(Page, strict),
        errors: [NotFound],
        response: { 200: AddonList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      return page(req, await addons.list(tenantOf(req.principal), req.params.id, after(req), limit), limit);
    },
  );

  app.get(
    '/v1/hosting/subscriptions/:id/addons/:addon_id',
    {
      schema: {
        operationId: 'getHostingAddon',
        tags: ['hosting'],
        summary: 'One add-on with its WHMCS license key or its dedicated address',
        description: 'The license key is a secret: reading it needs hosting:write and is audited.',
        params: AddonParams,
        errors: [NotFound],
        response: { 200: Addon },
      },
      config: { audit: true, sensitive: true },
    },
    async (req) => addons.get(tenantOf(req.principal), req.params.id, req.params.addon_id),
  );

  app.delete(
    '/v1/hosting/subscriptions/:id/addons/:addon_id',
    {
      schema: {
        operationId: 'removeHostingAddon',
        tags: ['hosting'],
        summary: 'Remove an add-on at once and for good: needs ?confirm=true (R-ADD-4)',
        description:
          'Without confirm=true the answer is 422 removal_confirmation_required listing exactly what would happen. Removal is immediate and irreversible: a WHMCS key is revoked at once and never refunded; a dedicated address goes back to the pool and an account block is refunded pro rata for the seconds left (by the purchase formula, never more than was charged). An account block whose accounts are in use: 409 addon_in_use.',
        params: AddonParams,
        querystring: Type.Object({ confirm: Type.Optional(Type.Boolean()) }, strict),
        errors: [NotFound, AddonStateConflict, AddonInUse, RemovalConfirmationRequired],
        response: {
          200: Type.Object(
            { addon: Addon, refunded: Type.Union([Money, Type.Null()]), effects: Type.Array(Type.String()) },
            strict,
          ),
        },
      },
    },
    async (req) => {
      req.audit = { targetType: 'hosting_addon', targetId: req.params.addon_id };
      return addons.remove(caller(req), req.params.id, req.params.addon_id, req.query.confirm === true);
    },
  );
};

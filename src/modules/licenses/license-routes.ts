// /v1/licenses: the catalogue and vendor policies, Plesk license quotes and orders, the license's
// life (renew, autorenew, suspend, resume, terminate, rebind) and its address reports (R-LIC-2).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFound } from '../../errors.js';
import { pageSize } from '../../plugins/cursors.js';
import { BigIntId, Currency, DateTime, IdParams, Money, MoneyAmount, PageQuery } from '../../schemas.js';
import { tenantOf, type Principal } from '../accounts/api.js';
import { AlreadyRenewed, InsufficientFunds, PriceChanged, QuoteExpired } from '../billing/api.js';
import {
  BundlingRequired,
  ConfirmationRequired,
  EulaAcceptanceRequired,
  LicenseStateConflict,
  NoticePeriodOver,
  RebindLimitReached,
  type LicenseService,
} from './license-service.js';
import {
  IpAddress,
  License,
  LicenseList,
  LicenseProduct,
  MultiUseState,
  PeriodMonths,
  policyView,
  strict,
  VendorPolicy,
  type PolicyRow,
} from './schemas.js';
import type { ProductRow } from './store.js';
import { BindingConflict, KeyTerminated } from './vendor.js';

const ProductFields = {
  product: Type.String({
    minLength: 1,
    maxLength: 100,
    description: 'An edition of the catalogue',
    examples: ['PLESK-12-WEB-ADMIN'],
  }),
  extras: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 20, uniqueItems: true })),
  period_months: PeriodMonths,
};
const MaxPrice = Type.Object(
  { amount: MoneyAmount({ minimum: 0 }), currency: Currency },
  { ...strict, description: 'Refuse (409 price_changed) if the charge would be higher' },
);
const QuoteBody = Type.Object(ProductFields, strict);
const Quote = Type.Object({ quote_id: Type.String(), price: Money, expires_at: DateTime }, strict);
const OrderBody = Type.Object(
  {
    ...ProductFields,
    server_id: Type.Optional(
      Type.String({ format: 'uuid', description: 'One of your servers (R-LIC-3); without it: 422 bundling_required' }),
    ),
    address: Type.Optional({ ...IpAddress, description: 'One of its public addresses: the license is bound to it' }),
    binding_mode: Type.Optional(
      Type.Enum(['lookup', 'lookup_and_restrict'], {
        description: 'lookup (default): the key is found by its address; lookup_and_restrict: and it runs only there',
      }),
    ),
    accept_eula: Type.Optional(
      Type.Object(
        { version: Type.String({ maxLength: 50 }) },
        {
          ...strict,
          description:
            "The vendor's current EULA version (GET /v1/licenses/policies), accepted with its terms of use (R-LIC-1)",
        },
      ),
    ),
    quote_id: Type.Optional(Type.String({ maxLength: 600 })),
    max_price: Type.Optional(MaxPrice),
    autorenew: Type.Optional(Type.Boolean()),
  },
  strict,
);
const Charged = Type.Object({ license: License, charged: Money }, strict);
const ReportBody = Type.Object(
  {
    addresses: Type.Array(IpAddress, { minItems: 1, maxItems: 64, description: 'Where the license was seen running' }),
    seen_at: Type.Optional({ ...DateTime, description: 'When (default now; a time in the future counts as now)' }),
  },
  strict,
);
const ReportResult = Type.Object(
  {
    report_id: BigIntId(),
    license_id: Type.String({ format: 'uuid' }),
    status: Type.Enum(['active', 'suspended']),
    multi_use: Type.Object(
      {
        state: MultiUseState,
        since: Type.Union([DateTime, Type.Null()]),
        notice_until: Type.Union([DateTime, Type.Null()]),
      },
      strict,
    ),
    extra_addresses: Type.Array(IpAddress, {
      description: 'The reported addresses besides the bound one that count (not resolved)',
    }),
    detected: Type.Boolean({ description: 'This report made the license potential multi-use' }),
  },
  { ...strict, description: 'The report as kept, and where the license stands (GET the license for its evidence)' },
);

export const productView = (p: ProductRow) => ({
  id: p.id,
  kind: p.kind as 'edition' | 'extra' | 'overage',
  name: p.name,
  active: p.active,
  prices: p.prices.map((x) => ({ ...x, period_months: x.period_months as 1 | 12 })),
});

export interface LicenseRouteOptions {
  licenses: LicenseService;
  catalogue: { products(): Promise<ProductRow[]>; policies(): Promise<PolicyRow[]> };
}

export const licenseRoutes: FastifyPluginAsyncTypebox<LicenseRouteOptions> = async (app, { licenses, catalogue }) => {
  const caller = (req: { principal: Principal | null; ip: string }) => {
    const p = req.principal!;
    return {
      accountId: tenantOf(p),
      currency: p.accountCurrency!,
      userId: p.userId,
      apiKeyId: p.credential.type === 'api_key' ? p.credential.id : null,
      ip: req.ip,
    };
  };

  app.get(
    '/v1/licenses/products',
    {
      schema: {
        operationId: 'listLicenseProducts',
        tags: ['licenses'],
        summary: 'The license catalogue: editions and extras with their monthly and annual prices',
        response: { 200: Type.Object({ data: Type.Array(LicenseProduct) }, strict) },
      },
    },
    async () => ({ data: (await catalogue.products()).filter((p) => p.active).map(productView) }),
  );

  app.get(
    '/v1/licenses/policies',
    {
      schema: {
        operationId: 'listVendorPolicies',
        tags: ['licenses'],
        summary:
          "The vendors' policies, every version (the newest of a kind is current): pass them on to your customers (R-LIC-5)",
        response: { 200: Type.Object({ data: Type.Array(VendorPolicy) }, strict) },
      },
    },
    async () => ({ data: (await catalogue.policies()).map(policyView) }),
  );

  app.post(
    '/v1/licenses/plesk/quote',
    {
      schema: {
        operationId: 'quotePleskLicense',
        tags: ['licenses'],
        summary: 'The price of a license order; the quote_id holds it for LICENSE_QUOTE_TTL_S',
        body: QuoteBody,
        response: { 200: Quote },
      },
      config: { bulkExempt: true, audit: false },
    },
    async (req) =>
      licenses.quote(caller(req), {
        product: req.body.product,
        extras: req.body.extras ?? [],
        periodMonths: req.body.period_months as 1 | 12,
      }),
  );

  app.post(
    '/v1/licenses/plesk',
    {
      schema: {
        operationId: 'orderPleskLicense',
        tags: ['licenses'],
        summary: 'Order a Plesk license attached to one of your servers; charged in the same transaction',
        description:
          'Refused with 422 bundling_required unless server_id names one of your servers and address one of its public addresses (R-LIC-3), and with 422 eula_acceptance_required unless accept_eula.version is the current EULA (R-LIC-1; the acceptance is recorded with who, when, from where and which version). Honours quote_id, refuses above max_price (409 price_changed). An address another license key holds: 409 binding_conflict. Send an Idempotency-Key to make retries safe.',
        body: OrderBody,
        errors: [
          BundlingRequired,
          EulaAcceptanceRequired,
          QuoteExpired,
          PriceChanged,
          InsufficientFunds,
          BindingConflict,
        ],
        response: { 201: Charged },
      },
      config: {
        guardSubjects: [
          { kind: 'servers', at: '/body/server_id' },
          { kind: 'addresses', at: '/body/address' },
        ],
      },
    },
    async (req, reply) => {
      const b = req.body;
      const r = await licenses.order(caller(req), {
        serverId: b.server_id,
        address: b.address,
        product: b.product,
        extras: b.extras ?? [],
        periodMonths: b.period_months as 1 | 12,
        bindingMode: b.binding_mode ?? 'lookup',
        acceptEula: b.accept_eula,
        quoteId: b.quote_id,
        maxPrice: b.max_price,
        autorenew: b.autorenew,
      });
      req.audit = { targetType: 'license', targetId: r.license.id };
      return reply.code(201).send(r);
    },
  );

  app.get(
    '/v1/licenses/plesk',
    {
      schema: {
        operationId: 'listPleskLicenses',
        tags: ['licenses'],
        summary: 'Your Plesk licenses',
        querystring: Type.Object({ ...PageQuery }, strict),
        response: { 200: LicenseList },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const rows = await licenses.list(tenantOf(req.principal), cursor.position({ id: 'uuid' })?.id, limit);
      return cursor.page(
        rows,
        limit,
        (l) => ({ id: l.id }),
        (l) => l,
      );
    },
  );

  app.get(
    '/v1/licenses/plesk/:id',
    {
      schema: {
        operationId: 'getPleskLicense',
        tags: ['licenses'],
        summary: 'One license: its binding, period, multi-use state with evidence and charges, policies and history',
        params: IdParams,
        errors: [NotFound],
        response: { 200: License },
      },
    },
    async (req) => licenses.get(tenantOf(req.principal), req.params.id),
  );

  app.get(
    '/v1/licenses/plesk/:id/activation-code',
    {
      schema: {
        operationId: 'getPleskActivationCode',
        tags: ['licenses'],
        summary: 'The activation code, to install the key on the server',
        params: IdParams,
        errors: [NotFound],
        response: { 200: Type.Object({ key_number: Type.String(), activation_code: Type.String() }, strict) },
      },
      // A GET that hands out a secret: audited (licenses:write in the operation table).
      config: { audit: true, sensitive: true },
    },
    async (req) => {
      req.audit = { targetType: 'license', targetId: req.params.id };
      return licenses.activationCode(tenantOf(req.principal), req.params.id);
    },
  );

  app.patch(
    '/v1/licenses/plesk/:id',
    {
      schema: {
        operationId: 'updatePleskLicense',
        tags: ['licenses'],
        summary: 'Turn autorenewal on or off',
        params: IdParams,
        body: Type.Object({ autorenew: Type.Boolean() }, strict),
        errors: [NotFound, LicenseStateConflict],
        response: { 200: License },
      },
    },
    async (req) => {
      req.audit = { targetType: 'license', targetId: req.params.id };
      return licenses.setAutorenew(tenantOf(req.principal), req.params.id, req.body.autorenew);
    },
  );

  app.post(
    '/v1/licenses/plesk/:id/renew',
    {
      schema: {
        operationId: 'renewPleskLicense',
        tags: ['licenses'],
        summary: 'Renew for one more term (charged now; expires_at moves one term on)',
        description:
          'One term ahead at most: once the next term is paid, renewing again is 409 already_renewed until it has begun.',
        params: IdParams,
        body: Type.Object({ max_price: Type.Optional(MaxPrice) }, strict),
        errors: [NotFound, LicenseStateConflict, PriceChanged, InsufficientFunds, AlreadyRenewed],
        response: { 200: Charged },
      },
    },
    async (req) => {
      const c = caller(req);
      req.audit = { targetType: 'license', targetId: req.params.id };
      return licenses.renew(c.accountId, c.currency, req.params.id, req.body.max_price);
    },
  );

  for (const action of ['suspend', 'resume'] as const) {
    app.post(
      `/v1/licenses/plesk/:id/${action}`,
      {
        schema: {
          operationId: action === 'suspend' ? 'suspendPleskLicense' : 'resumePleskLicense',
          tags: ['licenses'],
          summary: action === 'suspend' ? 'Suspend an active license' : 'Resume a suspended license',
          params: IdParams,
          errors: [NotFound, LicenseStateConflict, KeyTerminated],
          response: { 200: License },
        },
      },
      async (req) => {
        req.audit = { targetType: 'license', targetId: req.params.id };
        return licenses.act(tenantOf(req.principal), req.params.id, action);
      },
    );
  }

  app.post(
    '/v1/licenses/plesk/:id/terminate',
    {
      schema: {
        operationId: 'terminatePleskLicense',
        tags: ['licenses'],
        summary: 'Terminate a license: irreversible, needs confirm: true',
        params: IdParams,
        body: Type.Object({ confirm: Type.Optional(Type.Boolean()) }, strict),
        errors: [NotFound, LicenseStateConflict, ConfirmationRequired, KeyTerminated],
        response: { 200: License },
      },
    },
    async (req) => {
      req.audit = { targetType: 'license', targetId: req.params.id };
      return licenses.act(tenantOf(req.principal), req.params.id, 'terminate', { confirm: req.body.confirm });
    },
  );

  app.post(
    '/v1/licenses/plesk/:id/rebind',
    {
      schema: {
        operationId: 'rebindPleskLicense',
        tags: ['licenses'],
        summary:
          'Bind the license to another public address of its server (LICENSE_REBINDS_PER_PERIOD per billing period)',
        description:
          'Resolves a potential multi-use (R-LIC-2). 409 rebind_limit_reached past the limit of the period; 409 binding_conflict when another license key holds the address.',
        params: IdParams,
        body: Type.Object({ address: IpAddress }, strict),
        errors: [NotFound, LicenseStateConflict, BundlingRequired, RebindLimitReached, BindingConflict, KeyTerminated],
        response: { 200: License },
      },
    },
    async (req) => {
      req.audit = { targetType: 'license', targetId: req.params.id };
      return licenses.rebind(tenantOf(req.principal), req.params.id, req.body.address);
    },
  );

  app.post(
    '/v1/licenses/plesk/:id/ip-reports',
    {
      schema: {
        operationId: 'reportPleskLicenseAddresses',
        tags: ['licenses'],
        summary: 'Report the addresses the license was seen running on (its check-in)',
        description:
          'R-LIC-2: an address besides the bound one makes the license potential_multi_use at once (event license.multi_use_detected); every report is kept as evidence.',
        params: IdParams,
        body: ReportBody,
        errors: [NotFound, LicenseStateConflict],
        response: { 200: ReportResult },
      },
      // A check-in is a report, not an order: exempt from the bulk-work notice (R-API-3). It may
      // change the license's state, so it is audited like any change (R-SEC-7), its row written
      // with the report; the repeated-failure lookup (R-API-2) is made by the same statement.
      config: { bulkExempt: true, guardInStatement: true },
    },
    async (req) => {
      req.audit = { targetType: 'license', targetId: req.params.id };
      // The audit row of the answer goes in the report's own statement (the check-in is the hot path).
      const r = await licenses.report(tenantOf(req.principal), req.params.id, req.body.addresses, 'check_in', {
        seenAt: req.body.seen_at ? new Date(req.body.seen_at) : undefined,
        audit: req.auditRowFor(200),
        guard: req.deferredGuard(),
      });
      req.auditWrittenFor = 200;
      return r;
    },
  );

  app.post(
    '/v1/licenses/plesk/:id/multi-use/resolve',
    {
      schema: {
        operationId: 'resolvePleskMultiUse',
        tags: ['licenses'],
        summary: 'State that the other server(s) stopped running the license, within the notice period (R-LIC-2)',
        description:
          'Resolves a potential multi-use: its extra addresses are marked stopped. A later report of one of them starts a new detection. After multi_use.notice_until: 409 notice_period_over.',
        params: IdParams,
        body: Type.Object({ other_servers_stopped: Type.Literal(true) }, strict),
        errors: [NotFound, LicenseStateConflict, NoticePeriodOver],
        response: { 200: License },
      },
    },
    async (req) => {
      req.audit = { targetType: 'license', targetId: req.params.id };
      return licenses.resolve(tenantOf(req.principal), req.params.id);
    },
  );
};

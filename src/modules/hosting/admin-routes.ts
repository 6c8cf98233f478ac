// /v1/admin/plans, /v1/admin/addon-products and /v1/admin/hosting: operators edit the plans and the
// add-on catalogue (prices versioned: a new price reaches a subscription at its renewal), suspend and
// resume a reseller subscription (reason operator, never lifted by usage), and record a package sold
// while WHMCS was bundled (R-ADD-6).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFound, ValidationFailed } from '../../errors.js';
import { Currency, IdParams, Int32, MoneyAmount } from '../../schemas.js';
import type { AddonService } from './addons.js';
import { AddonAlreadyActive } from './addons.js';
import { AddonProductInUse, type HostingCatalogue, type PlanInput } from './catalogue.js';
import { AddonProduct, Bytes, Count, OverusePolicy, Plan, strict, Subscription, Threshold } from './schemas.js';
import type { SubscriptionService } from './subscriptions.js';

const Prices = Type.Array(Type.Object({ currency: Currency, monthly_amount: MoneyAmount({ minimum: 0 }) }, strict), {
  maxItems: 40,
  description: 'Monthly prices; a changed one becomes the next version',
});
const Slug = Type.Object({ id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,62}$' }) }, strict);

const thresholdsOf = (ts: PlanInput['thresholds']): PlanInput['thresholds'] => {
  ts.forEach((t, i) => {
    if ((t.percent === undefined) === (t.bytes === undefined)) {
      const message = 'A threshold has either percent or bytes';
      throw new ValidationFailed(message, {
        errors: [{ pointer: `/body/thresholds/${i}`, code: 'threshold_percent_or_bytes', message }],
      });
    }
  });
  return ts;
};

export const adminHostingRoutes: FastifyPluginAsyncTypebox<{
  catalogue: HostingCatalogue;
  subscriptions: SubscriptionService;
  addons: AddonService;
}> = async (app, { catalogue, subscriptions, addons }) => {
  app.get(
    '/v1/admin/plans',
    {
      schema: {
        operationId: 'adminListHostingPlans',
        tags: ['admin'],
        summary: 'Every reseller plan, those off sale too',
        response: { 200: Type.Object({ data: Type.Array(Plan) }, strict) },
      },
    },
    async () => ({ data: await catalogue.plans(true) }),
  );

  app.put(
    '/v1/admin/plans/:id',
    {
      schema: {
        operationId: 'adminSetHostingPlan',
        tags: ['admin'],
        summary: 'Add or change a reseller plan (R-PLAN-1): limits, policies, thresholds, prices',
        description:
          'Limits and policies reach the panel at once (each subscription’s resource policy) and are evaluated against usage at its next report. A price that changes becomes a new version: subscriptions pay it from their next renewal, never within the term they paid.',
        params: Slug,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            active: Type.Boolean(),
            limits: Type.Object(
              {
                disk_bytes: Bytes('Disk space'),
                traffic_bytes: Bytes('Traffic per month'),
                customers: Count('Customer accounts'),
                domains: Count('Domains'),
                sites: Count('Sites'),
                mailboxes: Count('Mailboxes'),
                mailbox_bytes: Bytes('Size of one mailbox'),
                databases: Count('Databases'),
              },
              strict,
            ),
            overuse: OverusePolicy,
            oversell: Type.Boolean(),
            thresholds: Type.Array(Threshold, { maxItems: 10 }),
            prices: Prices,
          },
          strict,
        ),
        response: { 200: Plan },
      },
    },
    async (req) => {
      req.audit = { targetType: 'hosting_plan', targetId: req.params.id };
      const b = req.body;
      return catalogue.setPlan(req.params.id, {
        name: b.name,
        active: b.active,
        diskBytes: b.limits.disk_bytes,
        trafficBytes: b.limits.traffic_bytes,
        customers: b.limits.customers,
        domains: b.limits.domains,
        sites: b.limits.sites,
        mailboxes: b.limits.mailboxes,
        mailboxBytes: b.limits.mailbox_bytes,
        databases: b.limits.databases,
        overuse: b.overuse,
        oversell: b.oversell,
        thresholds: thresholdsOf(b.thresholds),
        prices: b.prices,
      });
    },
  );

  app.get(
    '/v1/admin/addon-products',
    {
      schema: {
        operationId: 'adminListHostingAddonProducts',
        tags: ['admin'],
        summary: 'Every hosting add-on product, those off sale too',
        response: { 200: Type.Object({ data: Type.Array(AddonProduct) }, strict) },
      },
    },
    async () => ({ data: await catalogue.addonProducts(true) }),
  );

  app.put(
    '/v1/admin/addon-products/:id',
    {
      schema: {
        operationId: 'adminSetHostingAddonProduct',
        tags: ['admin'],
        summary: 'Add or change a hosting add-on (R-ADD-1) and its monthly prices (versioned)',
        params: Slug,
        body: Type.Object(
          {
            kind: Type.Enum(['license_key', 'ip_address', 'account_block']),
            name: Type.String({ minLength: 1, maxLength: 200 }),
            accounts: Type.Optional(
              Int32({ minimum: 0, maximum: 100_000, description: 'Customer accounts an account block adds' }),
            ),
            active: Type.Boolean(),
            prices: Prices,
          },
          strict,
        ),
        errors: [AddonProductInUse],
        response: { 200: AddonProduct },
      },
    },
    async (req) => {
      req.audit = { targetType: 'hosting_addon_product', targetId: req.params.id };
      return catalogue.setAddonProduct(req.params.id, req.body);
    },
  );

  for (const [action, suspended] of [
    ['suspend', true],
    ['resume', false],
  ] as const)
    app.post(
      `/v1/admin/hosting/subscriptions/:id/${action}`,
      {
        schema: {
          operationId: suspended ? 'adminSuspendHostingSubscription' : 'adminResumeHostingSubscription',
          tags: ['admin'],
          summary: suspended
            ? 'Suspend a reseller subscription and its customers (reason operator: usage never lifts it)'
            : 'Lift the operator’s suspension (the subscription stays suspended for any other reason)',
          params: IdParams,
          errors: [NotFound],
          response: { 200: Subscription },
        },
      },
      async (req) => {
        req.audit = { targetType: 'hosting_subscription', targetId: req.params.id };
        return subscriptions.operatorSuspend(req.params.id, suspended);
      },
    );

  app.post(
    '/v1/admin/hosting/subscriptions/:id/bundled-whmcs',
    {
      schema: {
        operationId: 'adminGrantBundledWhmcs',
        tags: ['admin'],
        summary: 'R-ADD-6: record a package sold while WHMCS was bundled: its WHMCS key is free until the next renewal',
        params: IdParams,
        errors: [NotFound, AddonAlreadyActive],
        response: { 200: Subscription },
      },
    },
    async (req) => {
      req.audit = { targetType: 'hosting_subscription', targetId: req.params.id };
      return addons.grantBundledWhmcs(req.params.id);
    },
  );
};

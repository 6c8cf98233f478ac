// Plans, subscriptions, customers, usage and add-ons as the API shows them.
import { Type } from 'typebox';
import { Currency, DateTime, Int32, iso, Money, MoneyAmount, named, Page, Uuid } from '../../schemas.js';
import { panelPolicy } from './backend.js';
import { runningTerm, termBounds } from './terms.js';
import type { AddonProductRow, AddonRow, CustomerRow, HostingPlanRow, SubscriptionRow } from './store.js';

export const strict = { additionalProperties: false } as const;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** Bytes, or -1 for unlimited. */
export const Bytes = (description: string) =>
  Type.Integer({ minimum: -1, maximum: Number.MAX_SAFE_INTEGER, description: `${description}; -1: unlimited` });
export const Count = (description: string) => Int32({ minimum: -1, description: `${description}; -1: unlimited` });
export const UsedBytes = (description: string) =>
  Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description });

export const TermMonths = Type.Integer({
  enum: [1, 3, 6, 12],
  minimum: 1,
  maximum: 12,
  description: 'Months per term: 1, 3, 6 or 12',
});
export const OverusePolicy = Type.Enum(['not_allowed', 'disk_and_traffic_allowed', 'allowed'], {
  description:
    'R-PLAN-2: not_allowed: reaching the disk or traffic limit suspends the subscription and all its customers; disk_and_traffic_allowed: those two may be exceeded; allowed: any resource may be',
});
export const SubscriptionStatus = Type.Enum(['active', 'suspended', 'expired']);
export const SuspensionReason = Type.Enum(['overuse', 'operator', 'reseller', 'expired'], {
  description:
    'overuse: R-PLAN-2 (lifted when usage falls under the limit or the plan grows); operator: the provider; reseller: you (a customer); expired: not renewed',
});

export const Threshold = named(
  'HostingThreshold',
  Type.Object(
    {
      resource: Type.Enum(['disk', 'traffic']),
      percent: Type.Optional(Int32({ minimum: 1, maximum: 100, description: 'Of the plan limit' })),
      bytes: Type.Optional(UsedBytes('An absolute level')),
    },
    { ...strict, description: 'R-PLAN-3: notify when usage reaches this level (percent or bytes, one of them)' },
  ),
);

const LimitFields = {
  disk_bytes: Bytes('Disk space'),
  traffic_bytes: Bytes('Traffic per month'),
  customers: Count('Customer accounts'),
  domains: Count('Domains'),
  sites: Count('Sites'),
  mailboxes: Count('Mailboxes'),
  mailbox_bytes: Bytes('Size of one mailbox (outside the overuse policy, R-PLAN-4)'),
  databases: Count('Databases'),
};
export const PlanLimits = Type.Object(LimitFields, strict);

export const PlanPrice = Type.Object(
  {
    currency: Currency,
    monthly: Money,
    version: Int32({ minimum: 1, description: 'Prices are versioned: a change reaches a subscription at its renewal' }),
  },
  strict,
);

export const Plan = named(
  'HostingPlan',
  Type.Object(
    {
      id: Type.String(),
      name: Type.String(),
      active: Type.Boolean(),
      limits: PlanLimits,
      overuse: OverusePolicy,
      oversell: Type.Boolean({
        description: 'R-PLAN-5: true: only actual usage counts and allocations may exceed the plan',
      }),
      thresholds: Type.Array(Threshold),
      panel_overuse: Type.Enum(['block', 'not_suspend', 'not_suspend_notify', 'normal', 'notify'], {
        description: "The overuse value of Plesk's resource-policy this plan maps to",
      }),
      prices: Type.Array(PlanPrice),
    },
    strict,
  ),
);

export type PriceRow = { productId: string; currency: string; version: number; monthlyAmount: number };
const priceViews = (prices: PriceRow[], id: string) =>
  prices
    .filter((p) => p.productId === id)
    .map((p) => ({
      currency: p.currency,
      monthly: { amount: p.monthlyAmount, currency: p.currency },
      version: p.version,
    }));

export const planLimits = (p: HostingPlanRow) => ({
  disk_bytes: p.diskBytes,
  traffic_bytes: p.trafficBytes,
  customers: p.customers,
  domains: p.domains,
  sites: p.sites,
  mailboxes: p.mailboxes,
  mailbox_bytes: p.mailboxBytes,
  databases: p.databases,
});

export const planView = (p: HostingPlanRow, prices: PriceRow[]) => ({
  id: p.id,
  name: p.name,
  active: p.active,
  limits: planLimits(p),
  overuse: p.overuse as 'not_allowed' | 'disk_and_traffic_allowed' | 'allowed',
  oversell: p.oversell,
  thresholds: p.thresholds,
  panel_overuse: panelPolicy(p).overuse,
  prices: priceViews(prices, p.id),
});

export const AddonProduct = named(
  'HostingAddonProduct',
  Type.Object(
    {
      id: Type.String(),
      kind: Type.Enum(['license_key', 'ip_address', 'account_block'], {
        description:
          'license_key: a WHMCS license key; ip_address: a dedicated address from the pool; account_block: more customer accounts',
      }),
      name: Type.String(),
      accounts: Nullable(Int32({ minimum: 0, description: 'Customer accounts an account block adds' })),
      active: Type.Boolean(),
      prices: Type.Array(PlanPrice),
    },
    strict,
  ),
);

export const addonProductView = (p: AddonProductRow, prices: PriceRow[]) => ({
  id: p.id,
  kind: p.kind as 'license_key' | 'ip_address' | 'account_block',
  name: p.name,
  accounts: p.accounts,
  active: p.active,
  prices: priceViews(prices, p.id),
});

export const Subscription = named(
  'HostingSubscription',
  Type.Object(
    {
      id: Uuid,
      plan_id: Type.String(),
      plan_price_version: Int32({ minimum: 1, description: 'The plan price version charged for this term' }),
      pending_plan_id: Nullable(Type.String({ description: 'A downgrade that takes effect at the renewal' })),
      status: SubscriptionStatus,
      suspended_for: Type.Array(SuspensionReason),
      term_months: TermMonths,
      term_start: { ...DateTime, description: 'The running term' },
      term_end: DateTime,
      paid_through: {
        ...DateTime,
        description: 'The end of the last term paid: after term_end when the next term is renewed already',
      },
      autorenew: Type.Boolean(),
      whmcs_bundled: Type.Boolean({
        description: 'R-ADD-6: sold while WHMCS was bundled; its WHMCS is free until the next renewal',
      }),
      usage: Type.Object(
        {
          disk_bytes: UsedBytes('Disk used, over your own and your customers’ subscriptions'),
          traffic_bytes: UsedBytes('Traffic used in traffic_month'),
          traffic_month: Nullable(Type.String({ pattern: '^[0-9]{4}-[0-9]{2}$', examples: ['2026-03'] })),
          crossed_thresholds: Type.Array(Type.String(), { description: 'Thresholds currently reached' }),
        },
        strict,
      ),
      renewal_failed_at: Nullable(DateTime),
      created_at: DateTime,
    },
    strict,
  ),
);
export const SubscriptionList = Page(Subscription);

/** The subscription as the API shows it; `at`: show the term running then (one paid ahead may have begun). */
export const subscriptionView = (s: SubscriptionRow, at?: Date) => {
  const term = at ? runningTerm(s, at) : undefined;
  return {
    id: s.id,
    plan_id: s.planId,
    plan_price_version: s.planPriceVersion,
    pending_plan_id: s.pendingPlanId,
    status: s.status as 'active' | 'suspended' | 'expired',
    suspended_for: s.suspendedFor as ('overuse' | 'operator' | 'reseller' | 'expired')[],
    term_months: s.termMonths as 1 | 3 | 6 | 12,
    term_start: (term?.start ?? s.termStart).toISOString(),
    term_end: (term?.end ?? s.termEnd).toISOString(),
    paid_through: termBounds(s.termAnchor, s.termIndex + s.paidTermsAhead, s.termMonths).end.toISOString(),
    autorenew: s.autorenew,
    whmcs_bundled: s.whmcsBundled,
    usage: {
      disk_bytes: s.diskUsed,
      traffic_bytes: s.trafficUsed,
      traffic_month: s.trafficMonth,
      crossed_thresholds: s.crossed,
    },
    renewal_failed_at: iso(s.renewalFailedAt),
    created_at: s.createdAt.toISOString(),
  };
};

const AllocationFields = {
  disk_bytes: Bytes('Disk space'),
  traffic_bytes: Bytes('Traffic per month'),
  domains: Count('Domains'),
  sites: Count('Sites'),
  mailboxes: Count('Mailboxes'),
  databases: Count('Databases'),
};
export const Allocation = Type.Object(AllocationFields, strict);

export const Customer = named(
  'HostingCustomer',
  Type.Object(
    {
      id: Uuid,
      subscription_id: Uuid,
      name: Type.String(),
      status: Type.Enum(['active', 'suspended']),
      suspended_for: Type.Array(SuspensionReason),
      allocation: Allocation,
      created_at: DateTime,
    },
    strict,
  ),
);
export const CustomerList = Page(Customer);

export const customerView = (c: CustomerRow) => ({
  id: c.id,
  subscription_id: c.subscriptionId,
  name: c.name,
  status: c.status as 'active' | 'suspended',
  suspended_for: c.suspendedFor as ('overuse' | 'operator' | 'reseller' | 'expired')[],
  allocation: {
    disk_bytes: c.diskBytes,
    traffic_bytes: c.trafficBytes,
    domains: c.domains,
    sites: c.sites,
    mailboxes: c.mailboxes,
    databases: c.databases,
  },
  created_at: c.createdAt.toISOString(),
});

export const Addon = named(
  'HostingAddon',
  Type.Object(
    {
      id: Uuid,
      subscription_id: Uuid,
      product_id: Type.String(),
      kind: Type.Enum(['license_key', 'ip_address', 'account_block']),
      status: Type.Enum(['active', 'removed', 'expired']),
      bundled: Type.Boolean({ description: 'R-ADD-6: came with the package; free until its next renewal' }),
      license_key: Type.Optional(
        Nullable(Type.String({ description: 'The WHMCS license key (GET the add-on); null once removed (revoked)' })),
      ),
      ip_address: Nullable(Type.String()),
      charged: Money,
      bought_at: DateTime,
      ends_at: DateTime,
      removed_at: Nullable(DateTime),
    },
    strict,
  ),
);
export const AddonList = Page(Addon);

export const addonView = (
  a: AddonRow,
  kind: string,
  termEnd: Date,
  licenseKey?: string | null,
): {
  id: string;
  subscription_id: string;
  product_id: string;
  kind: 'license_key' | 'ip_address' | 'account_block';
  status: 'active' | 'removed' | 'expired';
  bundled: boolean;
  license_key?: string | null;
  ip_address: string | null;
  charged: { amount: number; currency: string };
  bought_at: string;
  ends_at: string;
  removed_at: string | null;
} => ({
  id: a.id,
  subscription_id: a.subscriptionId,
  product_id: a.productId,
  kind: kind as 'license_key' | 'ip_address' | 'account_block',
  status: a.status as 'active' | 'removed' | 'expired',
  bundled: a.bundled,
  ...(licenseKey !== undefined ? { license_key: licenseKey } : {}),
  ip_address: a.ipAddress,
  charged: { amount: a.chargedAmount, currency: a.currency },
  bought_at: a.boughtAt.toISOString(),
  ends_at: (a.removedAt ?? termEnd).toISOString(),
  removed_at: iso(a.removedAt),
});

export const MaxPrice = Type.Object(
  { amount: MoneyAmount({ minimum: 0 }), currency: Currency },
  { ...strict, description: 'Refuse (409 price_changed) if the charge would be higher' },
);

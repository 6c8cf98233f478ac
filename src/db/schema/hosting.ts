// Reseller hosting (R-PLAN, R-ADD): plans and add-on products (operator-edited data, prices
// versioned), the built-in hosting backend's panel state, reseller subscriptions with their
// customers, the latest usage of each, and add-ons bought on a subscription.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });

/** A notify-at level (R-PLAN-3): a percent of the plan's limit, or an absolute number of bytes. */
export interface HostingThreshold {
  resource: 'disk' | 'traffic';
  percent?: number;
  bytes?: number;
}

/** A reseller plan (R-PLAN-1): its limits (-1 unlimited), overuse and overselling policies, thresholds. */
export const hostingPlans = pgTable('hosting_plans', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  active: boolean('active').notNull().default(true),
  diskBytes: bigint('disk_bytes', { mode: 'number' }).notNull(),
  trafficBytes: bigint('traffic_bytes', { mode: 'number' }).notNull(),
  customers: integer('customers').notNull(),
  domains: integer('domains').notNull(),
  sites: integer('sites').notNull(),
  mailboxes: integer('mailboxes').notNull(),
  mailboxBytes: bigint('mailbox_bytes', { mode: 'number' }).notNull(),
  databases: integer('databases').notNull(),
  /** 'not_allowed' | 'disk_and_traffic_allowed' | 'allowed' (R-PLAN-2) */
  overuse: text('overuse').notNull(),
  oversell: boolean('oversell').notNull(),
  thresholds: jsonb('thresholds').$type<HostingThreshold[]>().notNull().default([]),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** Add-ons sold per hosting package (R-ADD-1). */
export const hostingAddonProducts = pgTable('hosting_addon_products', {
  id: text('id').primaryKey(),
  /** 'license_key' (WHMCS) | 'ip_address' (dedicated IP) | 'account_block' (cPanel accounts) */
  kind: text('kind').notNull(),
  name: text('name').notNull(),
  /** For an account block: how many customer accounts it adds to the plan's cap. */
  accounts: integer('accounts'),
  active: boolean('active').notNull().default(true),
  createdAt: ts('created_at').notNull().defaultNow(),
});

/**
 * Monthly prices of plans and add-ons, per currency, versioned: a new price is a new row with the
 * next version, and the newest row is the price in force. A subscription keeps the version it was
 * charged; a change reaches it at its next renewal.
 */
export const hostingPrices = pgTable(
  'hosting_prices',
  {
    /** 'plan' | 'addon' */
    kind: text('kind').notNull(),
    productId: text('product_id').notNull(),
    currency: text('currency').notNull(),
    version: integer('version').notNull(),
    monthlyAmount: bigint('monthly_amount', { mode: 'number' }).notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.productId, t.currency, t.version] })],
);

/** The built-in hosting backend's panel objects (what Plesk would hold): reseller and customer subscriptions. */
export const hostingPanelObjects = pgTable('hosting_panel_objects', {
  panelId: text('panel_id').primaryKey(),
  /** 'reseller' | 'customer' */
  kind: text('kind').notNull(),
  parentPanelId: text('parent_panel_id'),
  /** 'active' | 'suspended' | 'removed' */
  status: text('status').notNull(),
  /** The plan's resource policy as the panel holds it (Plesk's resource-policy: overuse, oversell, limits). */
  policy: jsonb('policy').$type<Record<string, unknown>>(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** A reseller subscription to a plan, for a term of 1, 3, 6 or 12 months. */
export const hostingSubscriptions = pgTable(
  'hosting_subscriptions',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    accountId: uuid('account_id').notNull(),
    planId: text('plan_id').notNull(),
    /** The plan price version charged for the current term. */
    planPriceVersion: integer('plan_price_version').notNull(),
    /** A downgrade waiting for the renewal. */
    pendingPlanId: text('pending_plan_id'),
    termMonths: integer('term_months').notNull(),
    /** Terms run from here: term k is [anchor + k×months, anchor + (k+1)×months), so a 31st stays the 31st. */
    termAnchor: ts('term_anchor').notNull(),
    termIndex: integer('term_index').notNull().default(0),
    /** The running term (term_index's), as last rolled forward. */
    termStart: ts('term_start').notNull(),
    termEnd: ts('term_end').notNull(),
    /** Terms paid beyond the running one (a renewal before the term ends): 0 or 1. */
    paidTermsAhead: integer('paid_terms_ahead').notNull().default(0),
    autorenew: boolean('autorenew').notNull().default(true),
    /** 'active' | 'suspended' | 'expired' */
    status: text('status').notNull().default('active'),
    /** Why it is suspended: 'overuse' (R-PLAN-2), 'operator', 'expired'; empty when active. */
    suspendedFor: text('suspended_for')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** R-ADD-6: a package sold while WHMCS was bundled; its WHMCS is free until the next renewal. */
    whmcsBundled: boolean('whmcs_bundled').notNull().default(false),
    panelId: text('panel_id').notNull(),
    /** Usage totals over the reseller's own and its customers' subscriptions (R-PLAN-2), kept on ingest. */
    diskUsed: bigint('disk_used', { mode: 'number' }).notNull().default(0),
    trafficUsed: bigint('traffic_used', { mode: 'number' }).notNull().default(0),
    /** The month (YYYY-MM, UTC) trafficUsed counts. */
    trafficMonth: text('traffic_month'),
    /** Threshold keys currently crossed (R-PLAN-3): a crossing notifies once, again only after falling back. */
    crossed: text('crossed')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    renewalFailedAt: ts('renewal_failed_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('hosting_subscriptions_account_idx').on(t.accountId, t.id),
    index('hosting_subscriptions_due_idx')
      .on(t.termEnd)
      .where(sql`${t.status} <> 'expired'`),
  ],
);

/** A customer of a reseller subscription, with its one service subscription's allocations (-1 unlimited). */
export const hostingCustomers = pgTable(
  'hosting_customers',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    subscriptionId: uuid('subscription_id')
      .notNull()
      .references(() => hostingSubscriptions.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    diskBytes: bigint('disk_bytes', { mode: 'number' }).notNull(),
    trafficBytes: bigint('traffic_bytes', { mode: 'number' }).notNull(),
    domains: integer('domains').notNull(),
    sites: integer('sites').notNull(),
    mailboxes: integer('mailboxes').notNull(),
    databases: integer('databases').notNull(),
    /** 'active' | 'suspended' */
    status: text('status').notNull().default('active'),
    /** Why it is suspended: 'overuse' (the reseller's, R-PLAN-2), 'reseller', 'operator'. */
    suspendedFor: text('suspended_for')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    panelId: text('panel_id').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [index('hosting_customers_subscription_idx').on(t.subscriptionId, t.id)],
);

/**
 * The latest usage measured for each subject of a subscription: its own ('own') or a customer's (the
 * customer id). A report older than the stored one changes nothing.
 */
export const hostingUsage = pgTable(
  'hosting_usage',
  {
    subscriptionId: uuid('subscription_id')
      .notNull()
      .references(() => hostingSubscriptions.id, { onDelete: 'cascade' }),
    subject: text('subject').notNull(),
    measuredAt: ts('measured_at').notNull(),
    diskBytes: bigint('disk_bytes', { mode: 'number' }).notNull(),
    /** Traffic this month (the month of measuredAt, UTC). */
    trafficBytes: bigint('traffic_bytes', { mode: 'number' }).notNull(),
    trafficMonth: text('traffic_month').notNull(),
    /** Mailbox sizes: outside the overuse policy (R-PLAN-4), shown against the plan's mailbox size. */
    mailboxes: integer('mailboxes').notNull().default(0),
    largestMailboxBytes: bigint('largest_mailbox_bytes', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.subscriptionId, t.subject] })],
);

/** An add-on bought on a subscription (R-ADD): it runs with the subscription's term and renews with it. */
export const hostingAddons = pgTable(
  'hosting_addons',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    subscriptionId: uuid('subscription_id')
      .notNull()
      .references(() => hostingSubscriptions.id, { onDelete: 'cascade' }),
    accountId: uuid('account_id').notNull(),
    productId: text('product_id').notNull(),
    /** 'active' | 'removed' | 'expired' */
    status: text('status').notNull().default('active'),
    /** R-ADD-6: WHMCS that came with the package, free until the next renewal. */
    bundled: boolean('bundled').notNull().default(false),
    /** The WHMCS license key, sealed; revoked on removal. */
    licenseKeySealed: text('license_key_sealed'),
    ipAddress: text('ip_address'),
    priceVersion: integer('price_version'),
    /** What was charged for the running term, covering [covered_from, term end): a removal refunds from it. */
    chargedAmount: bigint('charged_amount', { mode: 'number' }).notNull().default(0),
    coveredFrom: ts('covered_from'),
    /** What was charged for the term paid ahead (renewed early): refunded whole on removal. */
    aheadCharge: bigint('ahead_charge', { mode: 'number' }).notNull().default(0),
    currency: text('currency').notNull(),
    boughtAt: ts('bought_at').notNull(),
    removedAt: ts('removed_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('hosting_addons_subscription_idx').on(t.subscriptionId, t.id)],
);

/** Dedicated addresses the dedicated-IP add-on assigns from (operator-filled). */
export const hostingIpPool = pgTable('hosting_ip_pool', {
  address: text('address').primaryKey(),
  addonId: uuid('addon_id'),
  assignedAt: ts('assigned_at'),
});

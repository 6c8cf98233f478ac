// Hosting's reads and writes that are more than one Drizzle call: prices in force, the subscription
// locked for a change, allocations and counts, usage upserted only when newer, and the cascade of a
// suspension over every customer of a subscription in one statement.
import { and, desc, eq, sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../../db/client.js';
import {
  hostingAddonProducts,
  hostingAddons,
  hostingCustomers,
  hostingPlans,
  hostingPrices,
  hostingSubscriptions,
} from '../../db/schema/index.js';

export type HostingPlanRow = typeof hostingPlans.$inferSelect;
export type AddonProductRow = typeof hostingAddonProducts.$inferSelect;
export type SubscriptionRow = typeof hostingSubscriptions.$inferSelect;
export type CustomerRow = typeof hostingCustomers.$inferSelect;
export type AddonRow = typeof hostingAddons.$inferSelect;

export interface PriceInForce {
  version: number;
  monthlyAmount: number;
}

/** The newest price of a plan or add-on in `currency` (undefined: not sold in it). */
export async function priceInForce(
  tx: Tx,
  kind: 'plan' | 'addon',
  productId: string,
  currency: string,
): Promise<PriceInForce | undefined> {
  const [row] = await tx
    .select({ version: hostingPrices.version, monthlyAmount: hostingPrices.monthlyAmount })
    .from(hostingPrices)
    .where(
      and(eq(hostingPrices.kind, kind), eq(hostingPrices.productId, productId), eq(hostingPrices.currency, currency)),
    )
    .orderBy(desc(hostingPrices.version))
    .limit(1);
  return row;
}

/** Every price in force (the newest version per product and currency) of `kind`. */
export async function pricesInForce(
  tx: Tx,
  kind: 'plan' | 'addon',
): Promise<{ productId: string; currency: string; version: number; monthlyAmount: number }[]> {
  const rows = await queryRows<{
    product_id: string;
    currency: string;
    version: number;
    monthly_amount: string | number;
  }>(
    tx,
    sql`SELECT DISTINCT ON (product_id, currency) product_id, currency, version, monthly_amount
        FROM hosting_prices WHERE kind = ${kind}
        ORDER BY product_id, currency, version DESC`,
  );
  return rows.map((r) => ({
    productId: r.product_id,
    currency: r.currency,
    version: Number(r.version),
    monthlyAmount: Number(r.monthly_amount),
  }));
}

/** Sets a new price (the next version) unless it equals the one in force; answers the version in force. */
export async function setPrice(
  tx: Tx,
  kind: 'plan' | 'addon',
  productId: string,
  currency: string,
  monthlyAmount: number,
): Promise<number> {
  const current = await priceInForce(tx, kind, productId, currency);
  if (current && current.monthlyAmount === monthlyAmount) return current.version;
  const version = (current?.version ?? 0) + 1;
  await tx.insert(hostingPrices).values({ kind, productId, currency, version, monthlyAmount });
  return version;
}

export async function findPlan(tx: Tx, id: string): Promise<HostingPlanRow | undefined> {
  const [row] = await tx.select().from(hostingPlans).where(eq(hostingPlans.id, id));
  return row;
}

export async function findAddonProduct(tx: Tx, id: string): Promise<AddonProductRow | undefined> {
  const [row] = await tx.select().from(hostingAddonProducts).where(eq(hostingAddonProducts.id, id));
  return row;
}

/** The account's subscription, locked for a change when `lock`. */
export async function findSubscription(
  tx: Tx,
  accountId: string | null,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<SubscriptionRow | undefined> {
  const q = tx
    .select()
    .from(hostingSubscriptions)
    .where(and(eq(hostingSubscriptions.id, id), accountId ? eq(hostingSubscriptions.accountId, accountId) : undefined));
  const [row] = opts.lock ? await q.for('update') : await q;
  return row;
}

export async function findCustomer(tx: Tx, subscriptionId: string, id: string): Promise<CustomerRow | undefined> {
  const [row] = await tx
    .select()
    .from(hostingCustomers)
    .where(and(eq(hostingCustomers.subscriptionId, subscriptionId), eq(hostingCustomers.id, id)));
  return row;
}

export interface Allocations {
  customers: number;
  diskBytes: number;
  trafficBytes: number;
  domains: number;
  sites: number;
  mailboxes: number;
  databases: number;
  /** Customers whose allocation of a resource is unlimited (-1), per resource. */
  unlimited: Record<string, number>;
}

/** What the subscription's customers hold: their number and the sum of each allocation. */
export async function allocations(tx: Tx, subscriptionId: string): Promise<Allocations> {
  const [r] = await queryRows<Record<string, string | number | null>>(
    tx,
    sql`SELECT count(*) AS customers,
               coalesce(sum(disk_bytes) FILTER (WHERE disk_bytes >= 0), 0) AS disk_bytes,
               coalesce(sum(traffic_bytes) FILTER (WHERE traffic_bytes >= 0), 0) AS traffic_bytes,
               coalesce(sum(domains) FILTER (WHERE domains >= 0), 0) AS domains,
               coalesce(sum(sites) FILTER (WHERE sites >= 0), 0) AS sites,
               coalesce(sum(mailboxes) FILTER (WHERE mailboxes >= 0), 0) AS mailboxes,
               coalesce(sum(databases) FILTER (WHERE databases >= 0), 0) AS databases,
               count(*) FILTER (WHERE disk_bytes < 0) AS u_disk_bytes,
               count(*) FILTER (WHERE traffic_bytes < 0) AS u_traffic_bytes,
               count(*) FILTER (WHERE domains < 0) AS u_domains,
               count(*) FILTER (WHERE sites < 0) AS u_sites,
               count(*) FILTER (WHERE mailboxes < 0) AS u_mailboxes,
               count(*) FILTER (WHERE databases < 0) AS u_databases
        FROM hosting_customers WHERE subscription_id = ${subscriptionId}::uuid`,
  );
  const n = (k: string) => Number(r![k] ?? 0);
  return {
    customers: n('customers'),
    diskBytes: n('disk_bytes'),
    trafficBytes: n('traffic_bytes'),
    domains: n('domains'),
    sites: n('sites'),
    mailboxes: n('mailboxes'),
    databases: n('databases'),
    unlimited: Object.fromEntries(
      ['disk_bytes', 'traffic_bytes', 'domains', 'sites', 'mailboxes', 'databases'].map((k) => [k, n(`u_${k}`)]),
    ),
  };
}

/** Customer accounts the subscription's active account-block add-ons add to its plan's cap (R-PLAN-6). */
export async function extraCustomerAccounts(tx: Tx, subscriptionId: string): Promise<number> {
  const [r] = await queryRows<{ n: string | number | null }>(
    tx,
    sql`SELECT coalesce(sum(p.accounts), 0) AS n FROM hosting_addons a
        JOIN hosting_addon_products p ON p.id = a.product_id
        WHERE a.subscription_id = ${subscriptionId}::uuid AND a.status = 'active' AND p.kind = 'account_block'`,
  );
  return Number(r?.n ?? 0);
}

export interface UsageEntry {
  subject: string;
  diskBytes: number;
  trafficBytes: number;
  mailboxes: number;
  largestMailboxBytes: number;
}

export interface UsageTotals {
  diskBytes: number;
  trafficBytes: number;
  trafficMonth: string | null;
  /** How many rows the report changed (0: every entry was older than or as old as the stored one). */
  changed: number;
}

/**
 * Stores a report's entries, each only if it was measured after the stored one (a report arriving
 * late or twice changes nothing), and answers the subscription's totals: disk over every subject,
 * traffic over the subjects measured in the newest month.
 */
export async function upsertUsage(
  tx: Tx,
  subscriptionId: string,
  measuredAt: Date,
  entries: UsageEntry[],
): Promise<UsageTotals> {
  const month = measuredAt.toISOString().slice(0, 7);
  const [up] = await queryRows<{ changed: string | number }>(
    tx,
    sql`WITH input AS (
          SELECT * FROM jsonb_to_recordset(${JSON.stringify(entries)}::jsonb)
            AS i("subject" text, "diskBytes" bigint, "trafficBytes" bigint, "mailboxes" integer, "largestMailboxBytes" bigint)),
        up AS (
          INSERT INTO hosting_usage AS u (subscription_id, subject, measured_at, disk_bytes, traffic_bytes, traffic_month,
                                          mailboxes, largest_mailbox_bytes)
          SELECT ${subscriptionId}::uuid, i."subject", ${measuredAt.toISOString()}::timestamptz, i."diskBytes",
                 i."trafficBytes", ${month}, i."mailboxes", i."largestMailboxBytes"
          FROM input i
          ON CONFLICT (subscription_id, subject) DO UPDATE SET
            measured_at = excluded.measured_at, disk_bytes = excluded.disk_bytes,
            traffic_bytes = excluded.traffic_bytes, traffic_month = excluded.traffic_month,
            mailboxes = excluded.mailboxes, largest_mailbox_bytes = excluded.largest_mailbox_bytes
          WHERE u.measured_at < excluded.measured_at
          RETURNING subject)
        SELECT count(*) AS changed FROM up`,
  );
  return { changed: Number(up!.changed), ...(await usageTotals(tx, subscriptionId)) };
}

/** The subscription's totals: disk over every subject, traffic over those measured in the newest month. */
export async function usageTotals(tx: Tx, subscriptionId: string): Promise<Omit<UsageTotals, 'changed'>> {
  const [r] = await queryRows<{ disk: string | number; traffic: string | number; month: string | null }>(
    tx,
    sql`SELECT coalesce(sum(u.disk_bytes), 0) AS disk,
               coalesce(sum(u.traffic_bytes) FILTER (WHERE u.traffic_month = m.month), 0) AS traffic,
               m.month
        FROM (SELECT max(traffic_month) AS month FROM hosting_usage WHERE subscription_id = ${subscriptionId}::uuid) m
        LEFT JOIN hosting_usage u ON u.subscription_id = ${subscriptionId}::uuid
        GROUP BY m.month`,
  );
  return { diskBytes: Number(r!.disk), trafficBytes: Number(r!.traffic), trafficMonth: r!.month };
}

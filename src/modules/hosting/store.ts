// Hosting's reads and writes that are more than one Drizzle call: prices in force, the subscription
// locked for a change, allocations and counts, usage upserted only when newer, and the cascade of a
// suspension over every customer of a subscription in one statement.
import { and, desc, eq, sql } from 'drizzle-orm';
import { batched, preparedStatement, queryRows, STALLED_BATCH_MS, type Db, type Tx } from '../../db/client.js';
import { ValidationFailed } from '../../errors.js';
import { auditRowsInsert, jsonForPostgres, type AuditRow } from '../../plugins/audit.js';
import {
  guardChecks,
  guardProbeColumns,
  NO_GUARD_PROBE,
  type GuardCheckRow,
  type GuardProbe,
} from '../../plugins/repeated-failure-guard.js';
import {
  hostingAddonProducts,
  hostingAddons,
  hostingCustomers,
  hostingPlans,
  hostingPrices,
  hostingSubscriptions,
  type HostingThreshold,
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

/** The versions of a plan's or add-on's price in `currency`, newest first. */
const priceRows = (tx: Tx, kind: 'plan' | 'addon', productId: string, currency: string) =>
  tx
    .select({ version: hostingPrices.version, monthlyAmount: hostingPrices.monthlyAmount })
    .from(hostingPrices)
    .where(
      and(eq(hostingPrices.kind, kind), eq(hostingPrices.productId, productId), eq(hostingPrices.currency, currency)),
    )
    .orderBy(desc(hostingPrices.version));

/** The newest price of a plan or add-on in `currency` (undefined: not sold in it). */
export async function priceInForce(
  tx: Tx,
  kind: 'plan' | 'addon',
  productId: string,
  currency: string,
): Promise<PriceInForce | undefined> {
  const [row] = await priceRows(tx, kind, productId, currency).limit(1);
  return row;
}

/** Every version of a price, newest first. */
export const priceVersions = (
  tx: Tx,
  kind: 'plan' | 'addon',
  productId: string,
  currency: string,
): Promise<PriceInForce[]> => priceRows(tx, kind, productId, currency);

/** A price as it was at `version` (what a subscription paid), undefined when there is none. */
export async function priceOfVersion(
  tx: Tx,
  kind: 'plan' | 'addon',
  productId: string,
  currency: string,
  version: number,
): Promise<PriceInForce | undefined> {
  const [row] = await tx
    .select({ version: hostingPrices.version, monthlyAmount: hostingPrices.monthlyAmount })
    .from(hostingPrices)
    .where(
      and(
        eq(hostingPrices.kind, kind),
        eq(hostingPrices.productId, productId),
        eq(hostingPrices.currency, currency),
        eq(hostingPrices.version, version),
      ),
    );
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

/** The resources a customer's subscription is allocated (columns of hosting_customers and limits of a plan). */
export const RESOURCES = ['disk_bytes', 'traffic_bytes', 'domains', 'sites', 'mailboxes', 'databases'] as const;
export type Resource = (typeof RESOURCES)[number];

export interface Allocations {
  customers: number;
  /** The sum of each resource's limited allocations. */
  allocated: Record<Resource, number>;
  /** Customers whose allocation of a resource is unlimited (-1), per resource. */
  unlimited: Record<Resource, number>;
}

/** What the subscription's customers hold: their number and the sum of each allocation. */
export async function allocations(tx: Tx, subscriptionId: string): Promise<Allocations> {
  const [r] = await queryRows<Record<string, string | number | null>>(
    tx,
    sql`SELECT count(*) AS customers, ${sql.raw(
      RESOURCES.map(
        (c) => `coalesce(sum(${c}) FILTER (WHERE ${c} >= 0), 0) AS ${c}, count(*) FILTER (WHERE ${c} < 0) AS u_${c}`,
      ).join(', '),
    )}
        FROM hosting_customers WHERE subscription_id = ${subscriptionId}::uuid`,
  );
  const n = (k: string) => Number(r![k] ?? 0);
  const each = (prefix: string) =>
    Object.fromEntries(RESOURCES.map((k) => [k, n(`${prefix}${k}`)])) as Record<Resource, number>;
  return { customers: n('customers'), allocated: each(''), unlimited: each('u_') };
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

/**
 * The most a usage total (disk, or traffic in a month) of one subscription can be: the sum over its
 * own and all its customers' entries stays an exact JSON number (2^53 - 1 bytes, about 9 PB). A
 * report that would take a total past it is refused (ingestStatement), so the totals never lose
 * precision when they leave PostgreSQL.
 */
export const MAX_USAGE_TOTAL = Number.MAX_SAFE_INTEGER;

/** A byte total as PostgreSQL gives it (a numeric sum: text, or a number), exactly, or an error: never rounded. */
export function exactBytes(v: string | number | bigint | null | undefined): number {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n))
    throw new Error(`usage total ${String(v)} is above ${MAX_USAGE_TOTAL} bytes: it cannot be given exactly`);
  return n;
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
  return { diskBytes: exactBytes(r!.disk), trafficBytes: exactBytes(r!.traffic), trafficMonth: r!.month };
}

export interface IngestRow extends GuardCheckRow {
  ord: number | string;
  /** A subscription changed while the statement waited for its lock: nothing written, run it again. */
  stale: boolean | string;
  found: boolean;
  bad_subject: string | null;
  /** The report was refused: with it alone, a total would pass MAX_USAGE_TOTAL (its would-be totals). */
  over_disk: number | string | null;
  over_traffic: number | string | null;
  changed: number | string;
  disk: number | string;
  traffic: number | string;
  month: string | null;
  status: string | null;
  suspended_for: string[] | string | null;
  crossed: string[] | string | null;
  plan: Record<string, unknown> | string | null;
}

/**
 * Usage reports in one statement (the hot path of R-PLAN-2/3; reports arriving together share it,
 * and its one commit): the reports' subscriptions of the callers' accounts locked (in id order, so
 * two batches never deadlock), each entry of a report whose customers all belong to its subscription
 * stored only if measured later than the one kept, each subscription's totals recomputed from what
 * is kept with this batch's entries (a data-modifying CTE's rows are not visible to the rest of its
 * statement, so the kept rows it replaced are left out and its own added), written on the
 * subscription when something changed, and each stored report's audit row (R-SEC-7). A report
 * that carries the request's R-API-2 lookup writes nothing when it repeats a remembered failure
 * (the caller settles the lookup first): one statement, no round trip of its own. Answers, per
 * report, the totals, the subscription's suspension and crossed thresholds before the batch, and its
 * plan: the caller decides whether a threshold or the overuse verdict needs the full evaluation. A
 * report that, applied alone to what is kept, would take its subscription's disk total or its newest
 * month's traffic total past MAX_USAGE_TOTAL writes nothing and is answered with those totals
 * (`over`); should reports of one subscription that each fit pass it together, the statement fails
 * (`saved`) and usageRecorder sends them one by one, so the one that does not fit is refused. Two
 * reports of one customer cannot both update its row in one statement: usageRecorder sends them in
 * statements of their own (ingestRounds). The subscriptions and kept rows are found through
 * `= ANY (ARRAY(...))`: with `IN (SELECT ...)` the planner, expecting a hundred reports from
 * jsonb_to_recordset, read whole tables (a sequential scan of hosting_usage per batch).
 */
const ingestStatement = preparedStatement<IngestRow>(
  'hosting_usage_ingest',
  sql`WITH q AS (
        SELECT * FROM jsonb_to_recordset(${sql.placeholder('reports')}::jsonb)
          AS q(ord integer, sub uuid, account uuid, at timestamptz, month text, audit jsonb, entries jsonb,
               ${guardProbeColumns})),
      gc AS MATERIALIZED (${guardChecks('q')}),
      -- The reports that go on: not a repeat of a remembered failure (R-API-2).
      r AS MATERIALIZED (SELECT q.* FROM q JOIN gc ON gc.ord = q.ord WHERE gc.guard_failed_ms IS NULL),
      subs AS (
        SELECT s.id, s.account_id, s.plan_id, s.status, s.suspended_for, s.crossed, s.xmin::text AS v
        FROM hosting_subscriptions s
        WHERE s.id = ANY (ARRAY(SELECT sub FROM r)) ORDER BY s.id FOR UPDATE),
      -- A subscription another statement changed while this one waited for its lock: the lock gives
      -- its newest row, but every other read here is of the snapshot taken before the wait (READ
      -- COMMITTED), without that statement's usage. Nothing is written, and the caller runs it again.
      stale AS MATERIALIZED (
        SELECT EXISTS (
          SELECT 1 FROM subs JOIN hosting_subscriptions s0 ON s0.id = subs.id WHERE s0.xmin::text <> subs.v) AS yes),
      e AS (
        SELECT r.ord, r.sub, r.at, r.month, i.* FROM r JOIN subs ON subs.id = r.sub AND subs.account_id = r.account,
          jsonb_to_recordset(r.entries)
            AS i("subject" text, "diskBytes" bigint, "trafficBytes" bigint, "mailboxes" integer, "largestMailboxBytes" bigint)),
      bad AS (
        SELECT DISTINCT ON (e.ord) e.ord, e."subject" FROM e
        WHERE e."subject" <> 'own' AND NOT EXISTS (
          SELECT 1 FROM hosting_customers c
          WHERE c.id = CASE WHEN e."subject" = 'own' THEN NULL ELSE e."subject"::uuid END AND c.subscription_id = e.sub)
        ORDER BY e.ord),
      -- Each report's subscription as it would be after that report alone: its entries that are
      -- new or measured later than the kept row, and the kept rows it does not replace.
      cur AS (
        SELECT u.subscription_id, u.subject, u.measured_at, u.disk_bytes, u.traffic_bytes, u.traffic_month
        FROM hosting_usage u WHERE u.subscription_id = ANY (ARRAY(SELECT id FROM subs))),
      alone AS (
        SELECT e.ord, e."diskBytes" AS disk, e."trafficBytes" AS traffic, e.month FROM e
        LEFT JOIN cur ON cur.subscription_id = e.sub AND cur.subject = e."subject"
        WHERE cur.subject IS NULL OR cur.measured_at < e.at
        UNION ALL
        SELECT rs.ord, cur.disk_bytes, cur.traffic_bytes, cur.traffic_month
        FROM (SELECT DISTINCT ord, sub, at FROM e) rs JOIN cur ON cur.subscription_id = rs.sub
        WHERE NOT EXISTS (
          SELECT 1 FROM e x WHERE x.ord = rs.ord AND x."subject" = cur.subject AND cur.measured_at < x.at)),
      over AS (
        SELECT * FROM (
          SELECT a.ord, sum(a.disk) AS disk, coalesce(sum(a.traffic) FILTER (WHERE a.month = m.month), 0) AS traffic
          FROM alone a JOIN (SELECT ord, max(month) AS month FROM alone GROUP BY ord) m USING (ord)
          GROUP BY a.ord) w
        WHERE w.disk > ${sql.raw(String(MAX_USAGE_TOTAL))} OR w.traffic > ${sql.raw(String(MAX_USAGE_TOTAL))}),
      good AS (
        SELECT * FROM e WHERE e.ord NOT IN (SELECT ord FROM bad) AND e.ord NOT IN (SELECT ord FROM over)
          AND NOT (SELECT yes FROM stale)),
      up AS (
        INSERT INTO hosting_usage AS u (subscription_id, subject, measured_at, disk_bytes, traffic_bytes, traffic_month,
                                        mailboxes, largest_mailbox_bytes)
        SELECT g.sub, g."subject", g.at, g."diskBytes", g."trafficBytes", g.month, g."mailboxes", g."largestMailboxBytes"
        FROM good g
        ON CONFLICT (subscription_id, subject) DO UPDATE SET
          measured_at = excluded.measured_at, disk_bytes = excluded.disk_bytes,
          traffic_bytes = excluded.traffic_bytes, traffic_month = excluded.traffic_month,
          mailboxes = excluded.mailboxes, largest_mailbox_bytes = excluded.largest_mailbox_bytes
        WHERE u.measured_at < excluded.measured_at
        RETURNING subscription_id, subject, disk_bytes, traffic_bytes, traffic_month),
      kept AS (
        SELECT u.subscription_id, u.disk_bytes, u.traffic_bytes, u.traffic_month FROM hosting_usage u
        WHERE u.subscription_id = ANY (ARRAY(SELECT id FROM subs))
          AND NOT EXISTS (SELECT 1 FROM up WHERE up.subscription_id = u.subscription_id AND up.subject = u.subject)
        UNION ALL SELECT subscription_id, disk_bytes, traffic_bytes, traffic_month FROM up),
      totals AS (
        SELECT k.subscription_id AS sub, sum(k.disk_bytes) AS disk,
               coalesce(sum(k.traffic_bytes) FILTER (WHERE k.traffic_month = m.month), 0) AS traffic, m.month
        FROM kept k JOIN (SELECT subscription_id, max(traffic_month) AS month FROM kept GROUP BY subscription_id) m
          USING (subscription_id)
        GROUP BY k.subscription_id, m.month),
      saved AS (
        UPDATE hosting_subscriptions s
        -- Reports that each fit but together pass the bound: fail the statement (a cast that cannot
        -- succeed), and usageRecorder sends them one by one.
        SET disk_used = CASE WHEN t.disk > ${sql.raw(String(MAX_USAGE_TOTAL))} OR t.traffic > ${sql.raw(String(MAX_USAGE_TOTAL))}
                             THEN ('usage total above 2^53-1 for subscription ' || t.sub)::bigint ELSE t.disk END,
            traffic_used = t.traffic, traffic_month = t.month, updated_at = now()
        FROM totals t WHERE s.id = t.sub AND s.id = ANY (ARRAY(SELECT subscription_id FROM up))
        RETURNING s.id),
      audited AS (${auditRowsInsert(
        sql`(SELECT jsonb_agg(r.audit) FROM r JOIN subs ON subs.id = r.sub AND subs.account_id = r.account
             WHERE r.audit IS NOT NULL AND r.ord NOT IN (SELECT ord FROM bad) AND r.ord NOT IN (SELECT ord FROM over)
               AND NOT (SELECT yes FROM stale))`,
      )})
      SELECT gc.*, (SELECT yes FROM stale) AS stale, subs.id IS NOT NULL AS found, bad."subject" AS bad_subject,
             over.disk AS over_disk, over.traffic AS over_traffic,
             (SELECT count(*) FROM up JOIN good g ON g.sub = up.subscription_id AND g."subject" = up.subject
              WHERE g.ord = q.ord) AS changed,
             coalesce(t.disk, 0) AS disk, coalesce(t.traffic, 0) AS traffic, t.month,
             subs.status, subs.suspended_for, subs.crossed, row_to_json(p) AS plan
      FROM q JOIN gc ON gc.ord = q.ord LEFT JOIN subs ON subs.id = q.sub AND subs.account_id = q.account
        LEFT JOIN bad ON bad.ord = q.ord LEFT JOIN over ON over.ord = q.ord LEFT JOIN totals t ON t.sub = q.sub
        LEFT JOIN hosting_plans p ON p.id = subs.plan_id`,
);

/** A text[] as the driver gives it: an array (pg) or its literal (PGlite, raw queries); no quoting needed here. */
export const textArray = (v: unknown): string[] =>
  v === null || v === undefined
    ? []
    : Array.isArray(v)
      ? (v as string[])
      : String(v as string)
          .replace(/^\{|\}$/g, '')
          .split(',')
          .filter(Boolean);

/** A plan row as row_to_json gives it (snake_case, bigints as numbers) in Drizzle's shape. */
function planFromJson(p: Record<string, unknown>): HostingPlanRow {
  return {
    id: String(p.id),
    name: String(p.name),
    active: Boolean(p.active),
    diskBytes: Number(p.disk_bytes),
    trafficBytes: Number(p.traffic_bytes),
    customers: Number(p.customers),
    domains: Number(p.domains),
    sites: Number(p.sites),
    mailboxes: Number(p.mailboxes),
    mailboxBytes: Number(p.mailbox_bytes),
    databases: Number(p.databases),
    overuse: String(p.overuse),
    oversell: Boolean(p.oversell),
    thresholds: (p.thresholds ?? []) as HostingThreshold[],
    createdAt: new Date(p.created_at as string),
    updatedAt: new Date(p.updated_at as string),
  };
}

export interface Ingested {
  /** The R-API-2 lookup's answer, for the caller to settle before anything else. */
  guard: GuardCheckRow;
  found: boolean;
  badSubject: string | null;
  /** Refused: with this report, the totals would be these, and one passes MAX_USAGE_TOTAL (nothing was written). */
  over: { diskBytes: string; trafficBytes: string } | null;
  changed: number;
  totals: Omit<UsageTotals, 'changed'>;
  status: string;
  suspendedFor: string[];
  crossed: string[];
  plan: HostingPlanRow | null;
}

export interface IngestInput {
  subscriptionId: string;
  accountId: string;
  measuredAt: Date;
  entries: UsageEntry[];
  audit: AuditRow | null;
  /** The request's R-API-2 lookup, made by the report's statement. */
  guard?: GuardProbe | null;
}

/**
 * The batch in statements that each name a customer (or a reseller's own usage) once: the upsert
 * cannot change one row twice in a statement, and a batch that failed for it would be retried
 * report by report while every other account's reports waited. Usually one statement.
 */
export function ingestRounds(items: readonly Pick<IngestInput, 'subscriptionId' | 'entries'>[]): number[][] {
  const out: number[][] = [];
  const seen = new Map<string, number>();
  items.forEach((r, i) => {
    let round = 0;
    for (const e of r.entries) {
      round = Math.max(round, seen.get(`${r.subscriptionId} ${e.subject}`) ?? 0);
    }
    for (const e of r.entries) seen.set(`${r.subscriptionId} ${e.subject}`, round + 1);
    (out[round] ??= []).push(i);
  });
  return out;
}

/** Records usage reports, those made at the same moment in one statement (see above). */
export function usageRecorder(db: Db): (report: IngestInput) => Promise<Ingested> {
  const record = batched<IngestInput, Ingested | { failed: unknown }>(
    async (items) => {
      const out = new Array<Ingested | { failed: unknown }>(items.length);
      for (const round of ingestRounds(items)) {
        try {
          const answers = await ingest(
            db,
            round.map((i) => items[i]!),
          );
          round.forEach((i, k) => (out[i] = answers[k]!));
        } catch (err) {
          // A statement that fails (a customer deleted meanwhile...) is retried report by report, so
          // one bad report fails only itself; the rounds already written are not written again.
          if (round.length === 1) out[round[0]!] = { failed: err };
          else
            for (const i of round) {
              try {
                out[i] = (await ingest(db, [items[i]!]))[0]!;
              } catch (e) {
                out[i] = { failed: e };
              }
            }
        }
      }
      return out;
    },
    // One batch in flight: the reports that arrive meanwhile share the next, larger one (cheaper per
    // report for the app and PostgreSQL; bench/RESULTS.md, twelfth session); another starts beside a
    // batch that has stalled (a subscription locked by a long change).
    { maxItems: 200, concurrency: 1, extraLaneAfterMs: STALLED_BATCH_MS },
  );
  return async (report) => {
    const r = await record(report);
    if ('failed' in r) throw r.failed;
    if (r.found && r.badSubject === null && r.over) refuseOverTotal(r.over);
    return r;
  };
}

/**
 * 422 for a report that would take a total past MAX_USAGE_TOTAL (nothing of it was kept). Before
 * the caller settles the R-API-2 lookup: a report the statement refused as a repeat is never `over`,
 * and the failure is looked up again on the way out.
 */
function refuseOverTotal(over: { diskBytes: string; trafficBytes: string }): never {
  const errors = (['disk', 'traffic'] as const)
    .map((resource) => ({ resource, total: resource === 'disk' ? over.diskBytes : over.trafficBytes }))
    .filter(({ total }) => BigInt(total) > BigInt(MAX_USAGE_TOTAL))
    .map(({ resource, total }) => ({
      pointer: '/body/entries',
      code: 'usage_total_too_large',
      message: `With this report the subscription's ${resource === 'disk' ? 'disk' : "newest month's traffic"} total (your own and your customers' entries) would be ${total} bytes, above ${MAX_USAGE_TOTAL}, the most a total can be`,
    }));
  throw new ValidationFailed(errors[0]!.message, { errors });
}

/** Runs of a statement that found a subscription changed under it before giving up (each waits only for a lock). */
const STALE_RUNS = 10;

async function ingest(db: Db, items: IngestInput[]): Promise<Ingested[]> {
  const reports = jsonForPostgres(
    items.map((r, ord) => ({
      ord,
      sub: r.subscriptionId,
      account: r.accountId,
      at: r.measuredAt.toISOString(),
      month: r.measuredAt.toISOString().slice(0, 7),
      audit: r.audit,
      entries: r.entries,
      ...(r.guard ?? NO_GUARD_PROBE),
    })),
  );
  let rows = await ingestStatement(db, { reports });
  for (let run = 1; rows.some((r) => r.stale === true || r.stale === 't'); run++) {
    if (run >= STALE_RUNS) throw new Error(`usage report: subscriptions changed under ${STALE_RUNS} runs in a row`);
    rows = await ingestStatement(db, { reports });
  }
  const byOrd = new Map(rows.map((row) => [Number(row.ord), row]));
  return items.map((_, ord) => {
    const r = byOrd.get(ord)!;
    const plan =
      r.plan === null ? null : typeof r.plan === 'string' ? (JSON.parse(r.plan) as Record<string, unknown>) : r.plan;
    return {
      guard: r,
      found: r.found === true || (r.found as unknown) === 't',
      badSubject: r.bad_subject,
      over:
        r.over_disk === null || r.over_disk === undefined
          ? null
          : { diskBytes: String(r.over_disk), trafficBytes: String(r.over_traffic) },
      changed: Number(r.changed),
      totals: { diskBytes: exactBytes(r.disk), trafficBytes: exactBytes(r.traffic), trafficMonth: r.month },
      status: r.status ?? 'active',
      suspendedFor: textArray(r.suspended_for),
      crossed: textArray(r.crossed),
      plan: plan ? planFromJson(plan) : null,
    };
  });
}

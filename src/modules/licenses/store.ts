// SQL of the licenses area that is not a rule: servers, the catalogue and policies, a license with
// everything its view shows (extra addresses, charges, transitions, policies, rebinds this period).
import { and, asc, desc, eq, gt, inArray, lt, ne, sql } from 'drizzle-orm';
import { queryRows, type Db, type Tx } from '../../db/client.js';
import {
  licenseAddresses,
  licenseMultiUseCharges,
  licensePrices,
  licenseProducts,
  licenseTransitions,
  pleskLicenses,
  servers,
  vendorPolicies,
} from '../../db/schema/index.js';
import { forgetFailuresNamingCte } from '../../plugins/repeated-failure-guard.js';
import { periodAt } from './periods.js';
import type { ChargeRow, LicenseRow, PolicyRow, ServerRow } from './schemas.js';

// ---- servers ---------------------------------------------------------------------------------

export async function listServers(db: Db, accountId: string, after: string | undefined, limit: number) {
  return db
    .select()
    .from(servers)
    .where(and(eq(servers.accountId, accountId), after ? gt(servers.id, after) : undefined))
    .orderBy(asc(servers.id))
    .limit(limit + 1);
}

export async function findServer(tx: Tx, accountId: string, id: string): Promise<ServerRow | undefined> {
  const [row] = await tx
    .select()
    .from(servers)
    .where(and(eq(servers.accountId, accountId), eq(servers.id, id)));
  return row;
}

/** Licenses on the server that are not terminated. */
export async function liveLicensesOn(tx: Tx, serverId: string): Promise<number> {
  const rows = await tx
    .select({ id: pleskLicenses.id })
    .from(pleskLicenses)
    .where(and(eq(pleskLicenses.serverId, serverId), ne(pleskLicenses.status, 'terminated')));
  return rows.length;
}

// ---- catalogue and policies --------------------------------------------------------------------

export interface ProductRow {
  id: string;
  kind: string;
  name: string;
  active: boolean;
  prices: { period_months: number; currency: string; amount: number }[];
}

export async function listProducts(db: Tx, ids?: string[]): Promise<ProductRow[]> {
  const products = await db
    .select()
    .from(licenseProducts)
    .where(ids ? inArray(licenseProducts.id, ids) : undefined)
    .orderBy(asc(licenseProducts.kind), asc(licenseProducts.id));
  if (products.length === 0) return [];
  const prices = await db
    .select()
    .from(licensePrices)
    .where(
      inArray(
        licensePrices.productId,
        products.map((p) => p.id),
      ),
    )
    .orderBy(asc(licensePrices.periodMonths), asc(licensePrices.currency));
  return products.map((p) => ({
    id: p.id,
    kind: p.kind,
    name: p.name,
    active: p.active,
    prices: prices
      .filter((x) => x.productId === p.id)
      .map((x) => ({ period_months: x.periodMonths, currency: x.currency, amount: x.amount })),
  }));
}

/** The current version of each policy kind of `vendor` (the newest published). */
export async function currentPolicies(db: Tx, vendor: string): Promise<PolicyRow[]> {
  const rows = await queryRows<{ vendor: string; kind: string; version: string; url: string; published_at: unknown }>(
    db,
    sql`SELECT DISTINCT ON (kind) vendor, kind, version, url, published_at FROM vendor_policies
        WHERE vendor = ${vendor} ORDER BY kind, published_at DESC, id`,
  );
  return rows.map((r) => ({
    vendor: r.vendor,
    kind: r.kind,
    version: r.version,
    url: r.url,
    publishedAt: new Date(String(r.published_at)),
  }));
}

export async function listPolicies(db: Tx): Promise<PolicyRow[]> {
  return db
    .select()
    .from(vendorPolicies)
    .orderBy(asc(vendorPolicies.vendor), asc(vendorPolicies.kind), desc(vendorPolicies.publishedAt));
}

// ---- a license and its view ----------------------------------------------------------------------

export interface LicenseDetails {
  license: LicenseRow;
  addresses: (typeof licenseAddresses.$inferSelect)[];
  charges: ChargeRow[];
  history: (typeof licenseTransitions.$inferSelect)[];
  policies: PolicyRow[];
  rebindsThisPeriod: number;
}

export async function findLicense(
  tx: Tx,
  id: string,
  opts: { accountId?: string; lock?: boolean } = {},
): Promise<LicenseRow | undefined> {
  const q = tx
    .select()
    .from(pleskLicenses)
    .where(and(eq(pleskLicenses.id, id), opts.accountId ? eq(pleskLicenses.accountId, opts.accountId) : undefined));
  const [row] = opts.lock ? await q.for('update') : await q;
  return row;
}

export async function licenseDetails(tx: Tx, license: LicenseRow, now: Date): Promise<LicenseDetails> {
  const period = periodAt(license.periodAnchor, license.periodMonths, now);
  // One after another: a transaction is one connection.
  const addresses = await tx
    .select()
    .from(licenseAddresses)
    .where(eq(licenseAddresses.licenseId, license.id))
    .orderBy(asc(licenseAddresses.firstSeen), asc(licenseAddresses.address));
  const charges = await tx
    .select()
    .from(licenseMultiUseCharges)
    .where(eq(licenseMultiUseCharges.licenseId, license.id))
    .orderBy(asc(licenseMultiUseCharges.id));
  const history = await tx
    .select()
    .from(licenseTransitions)
    .where(eq(licenseTransitions.licenseId, license.id))
    .orderBy(asc(licenseTransitions.id));
  const policies = await currentPolicies(tx, 'plesk');
  const rebindsThisPeriod = history.filter(
    (h) => h.kind === 'rebound' && h.at >= period.start && h.at < period.end,
  ).length;
  return { license, addresses, charges, history, policies, rebindsThisPeriod };
}

export async function addTransition(
  tx: Tx,
  t: { licenseId: string; at: Date; kind: string; note?: string | null; evidence?: Record<string, unknown> },
): Promise<void> {
  await tx.insert(licenseTransitions).values({
    licenseId: t.licenseId,
    at: t.at,
    kind: t.kind,
    note: t.note ?? null,
    evidence: t.evidence ?? {},
  });
}

/** Licenses in a multi-use state (operators), newest detection first. */
export async function listByMultiUse(
  db: Db,
  state: 'potential' | 'confirmed' | undefined,
  limit: number,
  before?: string,
) {
  return db
    .select()
    .from(pleskLicenses)
    .where(
      and(
        state ? eq(pleskLicenses.multiUse, state) : ne(pleskLicenses.multiUse, 'none'),
        before ? lt(pleskLicenses.id, before) : undefined,
      ),
    )
    .orderBy(desc(pleskLicenses.id))
    .limit(limit + 1);
}

/**
 * R-API-2: a license terminated or rebound changes what a refused change of its server depended on
 * (deleting it, removing an address): the identical command is new again.
 */
export async function forgetServerFailures(tx: Tx, accountId: string, serverId: string): Promise<void> {
  await tx.execute(
    sql`with ${forgetFailuresNamingCte('forgotten', 'servers', sql`(select ${accountId}::uuid as account_id, ${serverId}::text as identifier) named`)} select 1`,
  );
}

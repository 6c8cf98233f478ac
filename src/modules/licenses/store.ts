// SQL of the licenses area that is not a rule: servers, the catalogue and policies, a license with
// everything its view shows (extra addresses, charges, transitions, policies, rebinds this period).
import { and, asc, desc, eq, gt, inArray, lt, ne, sql } from 'drizzle-orm';
import { batched, preparedStatement, queryRows, STALLED_BATCH_MS, type Db, type Tx } from '../../db/client.js';
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
import { jsonForPostgres, type AuditRow, type AuditSource } from '../../plugins/audit.js';
import {
  forgetFailuresNamingCte,
  guardChecks,
  guardProbeColumns,
  NO_GUARD_PROBE,
  type GuardCheckRow,
  type GuardProbe,
} from '../../plugins/repeated-failure-guard.js';
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
  return (await licensesDetails(tx, [license], now))[0]!;
}

/** What the views of several licenses show, in four statements whatever their number (a page of a list). */
export async function licensesDetails(tx: Tx, licenses: LicenseRow[], now: Date): Promise<LicenseDetails[]> {
  if (licenses.length === 0) return [];
  const ids = licenses.map((l) => l.id);
  // One after another: a transaction is one connection.
  const addresses = await tx
    .select()
    .from(licenseAddresses)
    .where(inArray(licenseAddresses.licenseId, ids))
    .orderBy(asc(licenseAddresses.firstSeen), asc(licenseAddresses.address));
  const charges = await tx
    .select()
    .from(licenseMultiUseCharges)
    .where(inArray(licenseMultiUseCharges.licenseId, ids))
    .orderBy(asc(licenseMultiUseCharges.id));
  const history = await tx
    .select()
    .from(licenseTransitions)
    .where(inArray(licenseTransitions.licenseId, ids))
    .orderBy(asc(licenseTransitions.id));
  const policies = await currentPolicies(tx, 'plesk');
  const byLicense = <T extends { licenseId: string }>(rows: T[]) => {
    const out = new Map<string, T[]>();
    for (const r of rows) {
      const list = out.get(r.licenseId);
      if (list) list.push(r);
      else out.set(r.licenseId, [r]);
    }
    return (id: string) => out.get(id) ?? [];
  };
  const addressesOf = byLicense(addresses);
  const chargesOf = byLicense(charges);
  const historyOf = byLicense(history);
  return licenses.map((license) => {
    const period = periodAt(license.periodAnchor, license.periodMonths, now);
    const own = historyOf(license.id);
    const rebindsThisPeriod = own.filter(
      (h) => h.kind === 'rebound' && h.at >= period.start && h.at < period.end,
    ).length;
    return {
      license,
      addresses: addressesOf(license.id),
      charges: chargesOf(license.id),
      history: own,
      policies,
      rebindsThisPeriod,
    };
  });
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

export interface ReportOutcome {
  license_id: string;
  status: string;
  multi_use: string;
  multi_use_since: string | null;
  notice_until: string | null;
  /** Null when the license was not found (or is another account's), or is terminated. */
  report_id: number | null;
  /** The reported addresses besides the bound one that are open (not resolved). */
  open: string[] | null;
}

/** A report's answer: the R-API-2 lookup it carried, and its outcome (undefined: no such license, or refused as a repeat). */
export interface ReportAnswer {
  guard: GuardCheckRow;
  outcome: ReportOutcome | undefined;
}

/**
 * Licenses' address reports in one statement (the check-in is the hot path of R-LIC-2; reports
 * arriving together share it): each report stored as evidence and each extra address counted (a
 * resolved one seen again after its resolution opens again, counted from this report), for a license
 * of the account that is not terminated. Answers, per report, the license's state and which of its
 * reported extra addresses are open; the caller then moves a license in state none with open
 * addresses to potential (detectMultiUse). The request's audit row is written with its report, when
 * the report is stored (a refused report is audited by the plugin, with its failure). Two reports of
 * one license in a batch count as two: the extra addresses are summed per license and address
 * before the upsert. A report that carries the request's R-API-2 lookup (a check-in) writes nothing
 * when its command is a repeat of a remembered failure; the caller settles the lookup first.
 */
interface ReportRow extends GuardCheckRow {
  ord: number;
  license_id: string | null;
  status: string | null;
  multi_use: string | null;
  multi_use_since: string | Date | null;
  notice_until: string | Date | null;
  report_id: string | number | null;
  open: string[] | string | null;
}
const at = (v: string | Date | null): string | null => (v === null ? null : new Date(v).toISOString());

const reportStatement = preparedStatement<ReportRow>(
  'license_ip_reports',
  sql`WITH q AS (
        SELECT * FROM jsonb_to_recordset(${sql.placeholder('reports')}::jsonb)
          AS q(ord integer, id uuid, account uuid, addresses text[], source text, at timestamptz,
               request_account_id uuid, request_user_id uuid, request_credential_type text,
               request_credential_id text, request_address text, request_id text, ${guardProbeColumns})),
      g AS MATERIALIZED (${guardChecks('q')}),
      l AS MATERIALIZED (
        SELECT q.ord, q.addresses, q.source, q.at, q.request_account_id, q.request_user_id,
               q.request_credential_type, q.request_credential_id, q.request_address, q.request_id,
               p.id, p.bound_address, p.status, p.multi_use, p.multi_use_since, p.notice_until,
               CASE WHEN p.status <> 'terminated' THEN nextval('audit_events_id_seq') END AS report_id
        -- LATERAL ... LIMIT 1: one primary-key lookup per report; joined plainly, the planner takes
        -- the function's 100-row guess and scans every license. A repeat of a remembered failure
        -- (R-API-2) finds no license: it writes nothing. FOR SHARE: a report that waits for a
        -- license another transaction holds (a resolution of potential multi-use) reads the row
        -- that transaction left, not this statement's older snapshot (READ COMMITTED); the address
        -- rows are then read through the upsert, newest too. Reports do not block one another.
        FROM q JOIN g ON g.ord = q.ord AND g.guard_failed_ms IS NULL CROSS JOIN LATERAL (
          SELECT * FROM plesk_licenses p
          WHERE p.id = q.id AND (q.account IS NULL OR p.account_id = q.account) LIMIT 1 FOR SHARE) p),
      rep AS (
        INSERT INTO license_ip_reports (id, license_id, addresses, source, seen_at, request_account_id,
          request_user_id, request_credential_type, request_credential_id, request_address, request_id)
        SELECT report_id, id, addresses, source, at, request_account_id, request_user_id,
               request_credential_type, request_credential_id, request_address, request_id
        FROM l WHERE report_id IS NOT NULL),
      seen AS (
        SELECT l.id AS license_id, a AS address, count(*)::integer AS n, min(l.at) AS first, max(l.at) AS last
        FROM l, unnest(l.addresses) AS a
        WHERE l.report_id IS NOT NULL AND a <> l.bound_address
        GROUP BY l.id, a),
      up AS (
        INSERT INTO license_addresses (license_id, address, first_seen, last_seen, reports)
        SELECT license_id, address, first, last, n FROM seen
        ON CONFLICT (license_id, address) DO UPDATE SET
          reports = license_addresses.reports + excluded.reports,
          last_seen = greatest(license_addresses.last_seen, excluded.last_seen),
          first_seen = CASE WHEN license_addresses.resolved_at < excluded.last_seen THEN excluded.first_seen
                            ELSE license_addresses.first_seen END,
          resolution = CASE WHEN license_addresses.resolved_at < excluded.last_seen THEN NULL
                            ELSE license_addresses.resolution END,
          resolved_at = CASE WHEN license_addresses.resolved_at < excluded.last_seen THEN NULL
                             ELSE license_addresses.resolved_at END
        RETURNING license_id, address, resolved_at)
      SELECT g.*, l.id AS license_id, l.status, l.multi_use, l.multi_use_since, l.notice_until, l.report_id,
             (SELECT array_agg(up.address ORDER BY up.address) FROM up
               WHERE up.license_id = l.id AND up.address = ANY (l.addresses) AND up.resolved_at IS NULL) AS open
      FROM g LEFT JOIN l ON l.ord = g.ord`,
);

export interface ReportInput {
  id: string;
  accountId: string | null;
  addresses: string[];
  source: string;
  at: Date;
  /** The request's audit row, written with the report (R-SEC-7): the check-in's one statement. */
  audit?: AuditRow | null;
  /** The request's R-API-2 lookup, made by the report's statement (the check-in's one statement). */
  guard?: GuardProbe | null;
}

/**
 * Check-ins in the audit trail (R-SEC-7): a report made through the API is its own audit record
 * (its request's account, user, credential, address and id are on the report), shown as the
 * request's row would be; its details give the report itself. A report an operator imported in bulk
 * has no request columns: that request has its own audit row.
 */
export const checkInAuditSource: AuditSource = {
  name: 'license check-ins',
  select: sql`
    SELECT r.id, r.created_at AS at, r.request_account_id AS account_id, r.request_user_id AS user_id,
           r.request_credential_type AS credential_type, r.request_credential_id AS credential_id,
           r.request_address AS address, 'reportPleskLicenseAddresses'::text AS operation,
           'POST'::text AS method, '/v1/licenses/plesk/' || r.license_id::text || '/ip-reports' AS path,
           'license'::text AS target_type, r.license_id::text AS target_id, 200 AS status_code,
           'success'::text AS result, NULL::text AS error_code, r.request_id,
           jsonb_build_object('params', jsonb_build_object('id', r.license_id),
                              'report', jsonb_build_object('id', r.id, 'addresses', r.addresses,
                                                           'seen_at', r.seen_at)) AS details
    FROM license_ip_reports r`,
};

/** The report's columns that make it the check-in's audit record (R-SEC-7); null without a request. */
const requestColumns = (a: AuditRow | null | undefined) => ({
  request_account_id: a?.account_id ?? null,
  request_user_id: a?.user_id ?? null,
  request_credential_type: a?.credential_type ?? null,
  request_credential_id: a?.credential_id ?? null,
  request_address: a?.address ?? null,
  request_id: a?.request_id ?? null,
});

/** Records address reports, the ones made at the same moment in one statement (see above). */
export function reportRecorder(db: Db): (r: ReportInput) => Promise<ReportAnswer> {
  return batched<ReportInput, ReportAnswer>(
    async (items) => {
      const rows = await reportStatement(db, {
        reports: jsonForPostgres(
          items.map((r, ord) => ({
            ord,
            id: r.id,
            account: r.accountId,
            addresses: r.addresses,
            source: r.source,
            at: r.at.toISOString(),
            ...requestColumns(r.audit),
            ...(r.guard ?? NO_GUARD_PROBE),
          })),
        ),
      });
      const byOrd = new Map(rows.map((row) => [Number(row.ord), row]));
      return items.map((_, ord) => {
        const row = byOrd.get(ord)!;
        return { guard: row, outcome: outcomeOf(row) };
      });
    },
    // A batch that fails (a report of a license deleted meanwhile...) is retried report by report.
    // One batch in flight: the reports that arrive meanwhile wait for the next, so batches are
    // larger and each report costs the app and PostgreSQL less (bench/RESULTS.md, twelfth session:
    // 52-56% of the bare route against 48% with two in flight). Another starts beside a batch that
    // has stalled (a lock wait), so one slow license does not hold back every account's check-ins.
    { retryAlone: true, maxItems: 200, concurrency: 1, extraLaneAfterMs: STALLED_BATCH_MS },
  );
}

function outcomeOf(row: ReportRow): ReportOutcome | undefined {
  if (row.license_id === null) return undefined;
  const open = row.open;
  return {
    license_id: row.license_id,
    status: row.status!,
    multi_use: row.multi_use!,
    multi_use_since: at(row.multi_use_since),
    notice_until: at(row.notice_until),
    report_id: row.report_id === null ? null : Number(row.report_id),
    open:
      open === null || open === undefined
        ? null
        : Array.isArray(open)
          ? open.map(String)
          : parseTextArray(String(open)),
  };
}

/** A text[] literal as PGlite may hand it back ({a,b}); addresses need no quoting. */
const parseTextArray = (v: string): string[] =>
  v === '{}'
    ? []
    : v
        .slice(1, -1)
        .split(',')
        .map((x) => x.replace(/^"|"$/g, ''));

// A Plesk license as the API (and its events) show it: the license, its current billing period, its
// multi-use state with the extra addresses and charges, the vendor's policies and its history.
import type { Tx } from '../../db/client.js';
import { iso } from '../../schemas.js';
import { periodAt } from './periods.js';
import { chargeView, policyView, type LicenseRow } from './schemas.js';
import { findLicense, licenseDetails, licensesDetails, type LicenseDetails } from './store.js';
import { itemOf } from './vendor.js';

export function licenseView(d: LicenseDetails, rebindsPerPeriod: number, now: Date) {
  const l = d.license;
  const period = periodAt(l.periodAnchor, l.periodMonths, now);
  return {
    id: l.id,
    key_number: l.keyNumber,
    product: l.product,
    extras: l.extras,
    item: itemOf(l.product, l.periodMonths),
    period_months: l.periodMonths as 1 | 12,
    server_id: l.serverId,
    bound_address: l.boundAddress,
    binding_mode: l.bindingMode as 'lookup' | 'lookup_and_restrict',
    status: l.status as 'active' | 'suspended' | 'terminated',
    autorenew: l.autorenew,
    expires_at: l.expiresAt.toISOString(),
    current_period: { start: period.start.toISOString(), end: period.end.toISOString() },
    rebinds_left_this_period: Math.max(0, rebindsPerPeriod - d.rebindsThisPeriod),
    multi_use: {
      state: l.multiUse as 'none' | 'potential' | 'confirmed',
      since: iso(l.multiUseSince),
      notice_until: iso(l.noticeUntil),
      confirmed_at: iso(l.confirmedAt),
      extra_addresses: d.addresses.map((a) => ({
        address: a.address,
        first_seen: a.firstSeen.toISOString(),
        last_seen: a.lastSeen.toISOString(),
        reports: a.reports,
        resolved_at: iso(a.resolvedAt),
        resolution: a.resolution as 'stopped' | 'rebound' | 'cleared' | null,
      })),
      charges: d.charges.map(chargeView),
    },
    policies: d.policies.map(policyView),
    history: d.history.map((h) => ({
      at: h.at.toISOString(),
      kind: h.kind,
      note: h.note,
      evidence: h.evidence as Record<string, unknown>,
    })),
    created_at: l.createdAt.toISOString(),
    suspended_at: iso(l.suspendedAt),
    terminated_at: iso(l.terminatedAt),
    terminated_reason: l.terminatedReason,
  };
}

export type LicenseView = ReturnType<typeof licenseView>;

/** The view of a license (a row, or its id: read again after a change) with what it shows, read in `tx`. */
export async function loadLicenseView(
  tx: Tx,
  license: LicenseRow | string,
  rebindsPerPeriod: number,
  now: Date,
): Promise<LicenseView> {
  const row = typeof license === 'string' ? (await findLicense(tx, license))! : license;
  return licenseView(await licenseDetails(tx, row, now), rebindsPerPeriod, now);
}

/** The views of a page of licenses, read in a fixed number of statements. */
export async function loadLicenseViews(
  tx: Tx,
  licenses: LicenseRow[],
  rebindsPerPeriod: number,
  now: Date,
): Promise<LicenseView[]> {
  return (await licensesDetails(tx, licenses, now)).map((d) => licenseView(d, rebindsPerPeriod, now));
}

// The multi-use ladder of R-LIC-2 after detection (license-service.ts detects it from a report):
//   potential -> (confirmation period over, an extra address still seen) confirmed, charged
//             -> (no extra address seen any more) none again
//   confirmed -> each billing period: one license fee per extra address still seen, exactly once per
//                address and period (a unique key, whatever the number of reports or instances);
//                after the set number of charged periods, still seen: terminated
//             -> no extra address seen any more: none again
// An address is "still seen" while its last report is at most LICENSE_SEEN_DAYS old. The job takes
// each license under a row lock (SKIP LOCKED: two instances never work on one license at once).
// Operators clear a false detection (with a note) and waive a charge (refunded, audited).
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { queryRows, type Db, type Tx } from '../../db/client.js';
import { licenseMultiUseCharges, pleskLicenses } from '../../db/schema/index.js';
import { NotFound } from '../../errors.js';
import { charge, InsufficientFunds, refund } from '../billing/api.js';
import { emitEvent } from '../events/api.js';
import {
  LicenseMultiUseChargeWaived,
  LicenseMultiUseCharged,
  LicenseMultiUseCleared,
  LicenseMultiUseConfirmed,
  LicenseMultiUseResolved,
  LicenseTerminated,
} from './events.js';
import {
  LicenseStateConflict,
  resolvePotential,
  price,
  terminateOrSwitch,
  type LicenseSettings,
} from './license-service.js';
import { loadLicenseView } from './license-view.js';
import { DAY, periodAt } from './periods.js';
import { chargeView, type ChargeRow, type LicenseRow } from './schemas.js';
import { addTransition, findLicense } from './store.js';
import type { LicenseVendor } from './vendor.js';

export interface MultiUseDeps {
  db: Db;
  vendor: LicenseVendor;
  settings: LicenseSettings;
  /** The account's billing currency. */
  currencyOf: (accountId: string) => Promise<string>;
  log: FastifyBaseLogger;
}

const licenseData = (tx: Tx, id: string, settings: LicenseSettings, now: Date) =>
  loadLicenseView(tx, id, settings.rebindsPerPeriod, now);

async function emitLicense(
  tx: Tx,
  type: typeof LicenseMultiUseConfirmed,
  l: LicenseRow,
  deps: MultiUseDeps,
  now: Date,
) {
  const data = await licenseData(tx, l.id, deps.settings, now);
  await emitEvent(tx, type, { accountId: l.accountId, objectId: l.id, data });
}

/** One fee: charged now, or left unpaid (and retried) when the balance does not cover it. */
async function collect(tx: Tx, c: ChargeRow & { accountId: string }, keyNumber: string): Promise<'charged' | 'unpaid'> {
  try {
    await tx.transaction((sp) =>
      charge(sp, {
        accountId: c.accountId,
        money: { amount: c.amount, currency: c.currency },
        reason: `Multi-use of Plesk license ${keyNumber} on ${c.address}, ${c.periodStart.toISOString().slice(0, 10)} to ${c.periodEnd.toISOString().slice(0, 10)} (R-LIC-2)`,
        reference: `license-multi-use:${c.id}`,
      }),
    );
    return 'charged';
  } catch (err) {
    if (err instanceof InsufficientFunds) return 'unpaid';
    throw err;
  }
}

/** Moves one license along the ladder at `now`; what it did, or null when there was nothing to do. */
async function step(deps: MultiUseDeps, id: string, currency: string, now: Date): Promise<string | null> {
  const { settings } = deps;
  return deps.db.transaction(async (tx) => {
    const [l] = await tx
      .select()
      .from(pleskLicenses)
      .where(sql`id = ${id}::uuid AND multi_use <> 'none' AND status <> 'terminated'`)
      .for('update', { skipLocked: true });
    if (!l) return null;
    const seenSince = new Date(now.getTime() - settings.seenDays * DAY);
    const active = await queryRows<{ address: string }>(
      tx,
      sql`SELECT address FROM license_addresses WHERE license_id = ${l.id}::uuid AND resolved_at IS NULL
            AND last_seen >= ${seenSince.toISOString()}::timestamptz ORDER BY address`,
    );
    const addresses = active.map((a) => a.address);
    if (l.multiUse === 'potential') {
      if (now.getTime() < l.multiUseSince!.getTime() + settings.confirmDays * DAY) return null;
      if (addresses.length === 0) return noLongerSeen(tx, l, now, deps);
      const reports = await queryRows<{ id: number }>(
        tx,
        sql`SELECT id FROM license_ip_reports WHERE license_id = ${l.id}::uuid AND addresses && ${sql.param(addresses)}::text[]
            ORDER BY id DESC LIMIT 50`,
      );
      await tx
        .update(pleskLicenses)
        .set({ multiUse: 'confirmed', confirmedAt: now, updatedAt: now })
        .where(sql`id = ${l.id}`);
      await addTransition(tx, {
        licenseId: l.id,
        at: now,
        kind: 'multi_use_confirmed',
        evidence: {
          extra_addresses: addresses,
          report_ids: reports.map((r) => r.id).reverse(),
          detected_at: l.multiUseSince!.toISOString(),
        },
      });
      await emitLicense(tx, LicenseMultiUseConfirmed, l, deps, now);
      await chargePeriod(tx, { ...l, multiUse: 'confirmed' }, addresses, currency, now, deps);
      return 'confirmed';
    }
    // confirmed
    if (addresses.length === 0) return noLongerSeen(tx, l, now, deps);
    return chargePeriod(tx, l, addresses, currency, now, deps);
  });
}

async function noLongerSeen(tx: Tx, l: LicenseRow, now: Date, deps: MultiUseDeps): Promise<string> {
  await resolvePotential(tx, l, now, 'stopped', `no extra address reported in the last ${deps.settings.seenDays} days`);
  await emitLicense(tx, LicenseMultiUseResolved, l, deps, now);
  return 'resolved';
}

/** The current period's fees of a confirmed multi-use, or its termination after the set number of periods. */
async function chargePeriod(
  tx: Tx,
  l: LicenseRow,
  addresses: string[],
  currency: string,
  now: Date,
  deps: MultiUseDeps,
): Promise<string | null> {
  const period = periodAt(l.periodAnchor, l.periodMonths, now);
  const periods = await queryRows<{ period_start: unknown; current: boolean }>(
    tx,
    sql`SELECT DISTINCT period_start, period_start = ${period.start.toISOString()}::timestamptz AS current
        FROM license_multi_use_charges WHERE license_id = ${l.id}::uuid AND status <> 'waived'`,
  );
  const thisPeriodCharged = periods.some((p) => p.current);
  if (!thisPeriodCharged && periods.length >= deps.settings.terminateAfterPeriods) {
    await deps.vendor.modify(tx, l.keyNumber, 'terminate');
    await terminateOrSwitch(
      tx,
      l,
      'terminate',
      now,
      `multi-use confirmed in ${periods.length} billing periods (R-LIC-2)`,
    );
    await addTransition(tx, {
      licenseId: l.id,
      at: now,
      kind: 'terminated_for_multi_use',
      evidence: { charged_periods: periods.length, extra_addresses: addresses },
    });
    await emitLicense(tx, LicenseTerminated, l, deps, now);
    return 'terminated';
  }
  const amount = await feeOf(tx, l, currency);
  let did: string | null = null;
  for (const address of addresses) {
    const [row] = await tx
      .insert(licenseMultiUseCharges)
      .values({
        licenseId: l.id,
        accountId: l.accountId,
        address,
        periodStart: period.start,
        periodEnd: period.end,
        amount,
        currency,
        status: 'unpaid',
      })
      .onConflictDoNothing()
      .returning();
    if (!row) continue;
    const status = await collect(tx, { ...row, accountId: l.accountId }, l.keyNumber);
    await tx
      .update(licenseMultiUseCharges)
      .set({ status })
      .where(sql`id = ${row.id}`);
    await addTransition(tx, {
      licenseId: l.id,
      at: now,
      kind: 'multi_use_charged',
      evidence: {
        charge_id: row.id,
        address,
        period_start: period.start.toISOString(),
        amount: { amount, currency },
        status,
      },
    });
    const license = await licenseData(tx, l.id, deps.settings, now);
    await emitEvent(tx, LicenseMultiUseCharged, {
      accountId: l.accountId,
      objectId: l.id,
      data: { license, charge: chargeView({ ...row, status }) },
    });
    did = 'charged';
  }
  // Fees the balance did not cover when due: charged as soon as it does.
  const unpaid = await tx
    .select()
    .from(licenseMultiUseCharges)
    .where(sql`license_id = ${l.id}::uuid AND status = 'unpaid'`);
  for (const u of unpaid) {
    if ((await collect(tx, { ...u, accountId: l.accountId }, l.keyNumber)) === 'charged') {
      await tx
        .update(licenseMultiUseCharges)
        .set({ status: 'charged' })
        .where(sql`id = ${u.id}`);
      did = 'charged';
    }
  }
  return did;
}

/** One full license fee for one term: the edition and its extras, in the account's currency. */
const feeOf = (tx: Tx, l: LicenseRow, currency: string): Promise<number> => price(tx, l, currency, true);

/** The job: every license in a multi-use state, one step each. Returns how many moved. */
export async function runMultiUse(deps: MultiUseDeps, now: Date): Promise<number> {
  const ids = await queryRows<{ id: string; account_id: string }>(
    deps.db,
    sql`SELECT id, account_id FROM plesk_licenses WHERE multi_use <> 'none' AND status <> 'terminated' ORDER BY id`,
  );
  let moved = 0;
  for (const { id, account_id } of ids) {
    try {
      // The account's currency before the transaction: PGlite has one connection, which it holds.
      if (await step(deps, id, await deps.currencyOf(account_id), now)) moved++;
    } catch (err) {
      deps.log.error({ err, license: id }, 'license multi-use step failed');
    }
  }
  return moved;
}

/** An operator clears a detection as false: the extra addresses resolved ('cleared'), the state none. */
export async function clearMultiUse(deps: MultiUseDeps, id: string, note: string, now: Date) {
  return deps.db.transaction(async (tx) => {
    const l = await findLicense(tx, id, { lock: true });
    if (!l) throw new NotFound('No such license');
    if (l.multiUse === 'none') throw new LicenseStateConflict('The license has no multi-use detection to clear');
    await resolvePotential(tx, l, now, 'cleared', note);
    const data = await licenseData(tx, l.id, deps.settings, now);
    await emitEvent(tx, LicenseMultiUseCleared, { accountId: l.accountId, objectId: l.id, data });
    return data;
  });
}

/** An operator waives a charge: refunded when it was collected, never collected when it was not. */
export async function waiveCharge(deps: MultiUseDeps, chargeId: number, by: string, note: string, now: Date) {
  return deps.db.transaction(async (tx) => {
    const [c] = await tx
      .select()
      .from(licenseMultiUseCharges)
      .where(sql`id = ${chargeId}`)
      .for('update');
    if (!c) throw new NotFound('No such charge');
    if (c.status === 'waived') throw new LicenseStateConflict('The charge is waived already');
    if (c.status === 'charged')
      await refund(tx, {
        accountId: c.accountId,
        money: { amount: c.amount, currency: c.currency },
        reason: `Multi-use charge ${c.id} waived: ${note}`,
        reference: `license-multi-use:${c.id}`,
        createdBy: by,
      });
    const [row] = await tx
      .update(licenseMultiUseCharges)
      .set({ status: 'waived', waivedAt: now, waivedBy: by, waiveNote: note })
      .where(sql`id = ${c.id}`)
      .returning();
    await addTransition(tx, {
      licenseId: c.licenseId,
      at: now,
      kind: 'multi_use_charge_waived',
      note,
      evidence: {
        charge_id: c.id,
        refunded: c.status === 'charged' ? { amount: c.amount, currency: c.currency } : null,
      },
    });
    const license = await licenseData(tx, c.licenseId, deps.settings, now);
    const charged = chargeView(row!);
    await emitEvent(tx, LicenseMultiUseChargeWaived, {
      accountId: c.accountId,
      objectId: c.licenseId,
      data: { license, charge: charged },
    });
    return charged;
  });
}

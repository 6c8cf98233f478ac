// What operators do to licenses: the multi-use lists, clearing a false detection, waiving a charge
// (multi-use.ts has the rules of both), the catalogue and the vendors' policies.
import { sql } from 'drizzle-orm';
import { isUniqueViolation, queryRows } from '../../db/client.js';
import { licensePrices, licenseProducts, vendorPolicies } from '../../db/schema/index.js';
import { emitEvent } from '../events/api.js';
import { VendorPolicyPublished } from './events.js';
import { LicenseStateConflict, type LicenseSettings } from './license-service.js';
import { loadLicenseViews } from './license-view.js';
import { clearMultiUse, waiveCharge, type MultiUseDeps } from './multi-use.js';
import { policyView } from './schemas.js';
import { listByMultiUse, listProducts } from './store.js';

export function createLicenseAdmin(deps: MultiUseDeps & { settings: LicenseSettings; now: () => Date }) {
  const { db } = deps;
  return {
    async listByMultiUse(state: 'potential' | 'confirmed' | undefined, limit: number, before?: string) {
      const rows = await listByMultiUse(db, state, limit, before);
      const views = await loadLicenseViews(db, rows, deps.settings.rebindsPerPeriod, deps.now());
      return rows.map((l, i) => ({ account_id: l.accountId, license: views[i]! }));
    },
    clear: (id: string, note: string) => clearMultiUse(deps, id, note, deps.now()),
    waive: (chargeId: number, by: string, note: string) => waiveCharge(deps, chargeId, by, note, deps.now()),
    async setProduct(
      id: string,
      p: {
        kind: 'edition' | 'extra' | 'overage';
        name: string;
        active: boolean;
        prices: { period_months: number; currency: string; amount: number }[];
      },
    ) {
      await db.transaction(async (tx) => {
        const now = deps.now();
        await tx
          .insert(licenseProducts)
          .values({ id, kind: p.kind, name: p.name, active: p.active, updatedAt: now })
          .onConflictDoUpdate({
            target: licenseProducts.id,
            set: { kind: p.kind, name: p.name, active: p.active, updatedAt: now },
          });
        await tx.delete(licensePrices).where(sql`product_id = ${id}`);
        if (p.prices.length)
          await tx.insert(licensePrices).values(
            p.prices.map((x) => ({
              productId: id,
              periodMonths: x.period_months,
              currency: x.currency,
              amount: x.amount,
            })),
          );
      });
      return (await listProducts(db, [id]))[0]!;
    },
    /** A new version of a policy; announced to every account holding a live license of the vendor. */
    async publishPolicy(p: {
      vendor: 'plesk' | 'spamexperts';
      kind: 'eula' | 'terms_of_use' | 'fair_use';
      version: string;
      url: string;
    }) {
      return db.transaction(async (tx) => {
        const now = deps.now();
        const row = await tx
          .transaction(
            async (sp) =>
              (
                await sp
                  .insert(vendorPolicies)
                  .values({ ...p, publishedAt: now })
                  .returning()
              )[0]!,
          )
          .catch((err: unknown) => {
            if (isUniqueViolation(err))
              throw new LicenseStateConflict(`${p.vendor} ${p.kind} version ${p.version} is published already`);
            throw err;
          });
        const data = policyView(row);
        const accounts =
          p.vendor === 'plesk'
            ? await queryRows<{ account_id: string }>(
                tx,
                sql`SELECT DISTINCT account_id FROM plesk_licenses WHERE status <> 'terminated'`,
              )
            : [];
        for (const a of accounts)
          await emitEvent(tx, VendorPolicyPublished, { accountId: a.account_id, objectId: row.id, data });
        return data;
      });
    },
  };
}

export type LicenseAdmin = ReturnType<typeof createLicenseAdmin>;

// The hosting catalogue, operator-edited data: reseller plans (R-PLAN-1) and add-on products
// (R-ADD-1), each with monthly prices per currency kept as versions (store.setPrice).
import { and, eq, ne } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import {
  hostingAddonProducts,
  hostingAddons,
  hostingPlans,
  hostingSubscriptions,
  type HostingThreshold,
} from '../../db/schema/index.js';
import { defineError } from '../../errors.js';
import { panelPolicy, type HostingBackend } from './backend.js';
import { addonProductView, planView } from './schemas.js';
import { pricesInForce, setPrice } from './store.js';

export const AddonProductInUse = defineError(
  'addon_product_in_use',
  409,
  'Active add-ons of this product exist: its kind cannot change',
);

export interface PlanInput {
  name: string;
  active: boolean;
  diskBytes: number;
  trafficBytes: number;
  customers: number;
  domains: number;
  sites: number;
  mailboxes: number;
  mailboxBytes: number;
  databases: number;
  overuse: 'not_allowed' | 'disk_and_traffic_allowed' | 'allowed';
  oversell: boolean;
  thresholds: HostingThreshold[];
  prices: { currency: string; monthly_amount: number }[];
}

export function createCatalogue(db: Db, backend: HostingBackend, now: () => Date) {
  return {
    async plans(all = false) {
      const [plans, prices] = await Promise.all([
        db.select().from(hostingPlans).orderBy(hostingPlans.id),
        pricesInForce(db, 'plan'),
      ]);
      return plans.filter((p) => all || p.active).map((p) => planView(p, prices));
    },

    async addonProducts(all = false) {
      const [products, prices] = await Promise.all([
        db.select().from(hostingAddonProducts).orderBy(hostingAddonProducts.id),
        pricesInForce(db, 'addon'),
      ]);
      return products.filter((p) => all || p.active).map((p) => addonProductView(p, prices));
    },

    async setPlan(id: string, input: PlanInput) {
      const { prices, ...plan } = input;
      await db.transaction(async (tx) => {
        const [row] = await tx
          .insert(hostingPlans)
          .values({ id, ...plan })
          .onConflictDoUpdate({ target: hostingPlans.id, set: { ...plan, updatedAt: now() } })
          .returning();
        for (const p of prices) await setPrice(tx, 'plan', id, p.currency, p.monthly_amount);
        // The panel holds each reseller's resource policy: the plan's subscriptions get the new one now.
        const holders = await tx
          .select({ panelId: hostingSubscriptions.panelId })
          .from(hostingSubscriptions)
          .where(and(eq(hostingSubscriptions.planId, id), ne(hostingSubscriptions.status, 'expired')));
        await backend.setPolicy(
          tx,
          holders.map((h) => h.panelId),
          panelPolicy(row!),
        );
      });
      const [row] = await db.select().from(hostingPlans).where(eq(hostingPlans.id, id));
      return planView(row!, await pricesInForce(db, 'plan'));
    },

    async setAddonProduct(
      id: string,
      input: {
        kind: 'license_key' | 'ip_address' | 'account_block';
        name: string;
        accounts?: number;
        active: boolean;
        prices: { currency: string; monthly_amount: number }[];
      },
    ) {
      const { prices, accounts, ...product } = input;
      const values = { ...product, accounts: product.kind === 'account_block' ? (accounts ?? 0) : null };
      await db.transaction(async (tx) => {
        // What an add-on held is (a key, an address, accounts) follows from its kind: it cannot change under it.
        const [held] = await tx
          .select({ kind: hostingAddonProducts.kind })
          .from(hostingAddonProducts)
          .where(eq(hostingAddonProducts.id, id));
        if (held && held.kind !== product.kind) {
          const [live] = await tx
            .select({ id: hostingAddons.id })
            .from(hostingAddons)
            .where(and(eq(hostingAddons.productId, id), eq(hostingAddons.status, 'active')))
            .limit(1);
          if (live)
            throw new AddonProductInUse(`Active add-ons are ${held.kind}s: ${id} cannot become ${product.kind}`);
        }
        await tx
          .insert(hostingAddonProducts)
          .values({ id, ...values })
          .onConflictDoUpdate({ target: hostingAddonProducts.id, set: values });
        for (const p of prices) await setPrice(tx, 'addon', id, p.currency, p.monthly_amount);
      });
      const [row] = await db.select().from(hostingAddonProducts).where(eq(hostingAddonProducts.id, id));
      return addonProductView(row!, await pricesInForce(db, 'addon'));
    },
  };
}

export type HostingCatalogue = ReturnType<typeof createCatalogue>;

// The hosting panel behind one interface, as the registry is for domains and the license vendor for
// licenses. The built-in backend keeps the panel's state (reseller and customer subscriptions, their
// status and resource policy) in our database, in the caller's transaction, and is what `npm start`
// uses. A client of Plesk's XML API implements the same interface: `reseller add` with a
// `resource-policy` (overuse, oversell, limits), `customer add` with its subscription, `set` of the
// status (16 = suspended by the administrator, 0 = active) for many ids in one packet; its calls made
// before commit and compensated if the commit fails, as an EPP registry's would be. The routes and
// services do not change.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import type { HostingPlanRow } from './store.js';

/** A plan's resource policy in Plesk's terms (what a reseller plan's `resource-policy` holds). */
export interface PanelPolicy {
  /** Plesk's `overuse`: block | not_suspend | not_suspend_notify | normal | notify (see README). */
  overuse: 'block' | 'not_suspend' | 'not_suspend_notify' | 'normal' | 'notify';
  oversell: boolean;
  limits: Record<string, number>;
}

/** R-PLAN-2's policies in Plesk's terms: the README's table. */
export function panelPolicy(plan: HostingPlanRow): PanelPolicy {
  const notify = plan.thresholds.length > 0;
  const overuse =
    plan.overuse === 'not_allowed'
      ? 'block'
      : plan.overuse === 'disk_and_traffic_allowed'
        ? notify
          ? 'not_suspend_notify'
          : 'not_suspend'
        : notify
          ? 'notify'
          : 'normal';
  return {
    overuse,
    oversell: plan.oversell,
    limits: {
      disk_space: plan.diskBytes,
      max_traffic: plan.trafficBytes,
      max_cl: plan.customers,
      max_dom: plan.domains,
      max_site: plan.sites,
      max_box: plan.mailboxes,
      mbox_quota: plan.mailboxBytes,
      max_db: plan.databases,
    },
  };
}

export interface HostingBackend {
  /** Creates the reseller's panel account with its plan's resource policy; answers its panel id. */
  createReseller(tx: Tx, policy: PanelPolicy): Promise<string>;
  /** Applies a resource policy to reseller accounts (a plan change, or an operator's edit of a plan), many at once. */
  setPolicy(tx: Tx, panelIds: string[], policy: PanelPolicy): Promise<void>;
  /** Creates a customer's subscription under a reseller; answers its panel id. */
  createCustomer(tx: Tx, resellerPanelId: string): Promise<string>;
  /** Suspends or activates panel objects, many at once (a cascade is one call). */
  setStatus(tx: Tx, panelIds: string[], status: 'active' | 'suspended'): Promise<void>;
  /** Removes a customer's subscription and its data. */
  remove(tx: Tx, panelId: string): Promise<void>;
}

export const builtInBackend: HostingBackend = {
  async createReseller(tx, policy) {
    const panelId = `r-${randomUUID()}`;
    await tx.execute(
      sql`INSERT INTO hosting_panel_objects (panel_id, kind, status, policy)
          VALUES (${panelId}, 'reseller', 'active', ${JSON.stringify(policy)}::jsonb)`,
    );
    return panelId;
  },
  async setPolicy(tx, panelIds, policy) {
    if (panelIds.length === 0) return;
    await tx.execute(
      sql`UPDATE hosting_panel_objects SET policy = ${JSON.stringify(policy)}::jsonb, updated_at = now()
          WHERE panel_id = ANY(${sql.param(panelIds)}::text[])`,
    );
  },
  async createCustomer(tx, resellerPanelId) {
    const panelId = `c-${randomUUID()}`;
    await tx.execute(
      sql`INSERT INTO hosting_panel_objects (panel_id, kind, parent_panel_id, status)
          VALUES (${panelId}, 'customer', ${resellerPanelId}, 'active')`,
    );
    return panelId;
  },
  async setStatus(tx, panelIds, status) {
    if (panelIds.length === 0) return;
    await tx.execute(
      sql`UPDATE hosting_panel_objects SET status = ${status}, updated_at = now()
          WHERE panel_id = ANY(${sql.param(panelIds)}::text[]) AND status <> 'removed'`,
    );
  },
  async remove(tx, panelId) {
    await tx.execute(
      sql`UPDATE hosting_panel_objects SET status = 'removed', updated_at = now() WHERE panel_id = ${panelId}`,
    );
  },
};

// A term paid ahead begins when the running one ends; the locked subscription is rolled forward in
// every write path (and by the renewal job), so what is stored is the running term: its bounds, the
// downgrade it was renewed for, and each add-on's charge for it.
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { hostingAddons, hostingSubscriptions } from '../../db/schema/index.js';
import { emitEvent } from '../events/api.js';
import { panelPolicy, type HostingBackend } from './backend.js';
import { SubscriptionPlanChanged } from './events.js';
import { subscriptionView } from './schemas.js';
import { findPlan, type AddonRow, type SubscriptionRow } from './store.js';
import { runningTerm, type Term } from './terms.js';

export async function rollTermForward(
  tx: Tx,
  backend: HostingBackend,
  sub: SubscriptionRow,
  at: Date,
): Promise<SubscriptionRow> {
  const term = runningTerm(sub, at);
  if (term.index === sub.termIndex) return sub;
  const planId = sub.pendingPlanId ?? sub.planId;
  if (sub.pendingPlanId) await backend.setPolicy(tx, [sub.panelId], panelPolicy((await findPlan(tx, planId))!));
  const [row] = await tx
    .update(hostingSubscriptions)
    .set({
      termIndex: term.index,
      termStart: term.start,
      termEnd: term.end,
      paidTermsAhead: term.ahead,
      planId,
      pendingPlanId: null,
      updatedAt: at,
    })
    .where(eq(hostingSubscriptions.id, sub.id))
    .returning();
  // What was paid ahead is now what pays the running term (add-ons bought before it began).
  await tx
    .update(hostingAddons)
    .set({ chargedAmount: sql`ahead_charge`, aheadCharge: 0, coveredFrom: term.start })
    .where(
      and(
        eq(hostingAddons.subscriptionId, sub.id),
        eq(hostingAddons.status, 'active'),
        or(isNull(hostingAddons.coveredFrom), lt(hostingAddons.coveredFrom, term.start)),
      ),
    );
  const after = row!;
  if (sub.pendingPlanId)
    await emitEvent(tx, SubscriptionPlanChanged, {
      accountId: sub.accountId,
      objectId: sub.id,
      data: subscriptionView(after),
    });
  return after;
}

/**
 * An add-on as a read shows it when `term`, a term paid ahead, has begun but no write has rolled its
 * subscription forward yet: what the add-ons' UPDATE in rollTermForward will make of it.
 */
export function addonInTerm(a: AddonRow, term: Term): AddonRow {
  if (a.status !== 'active' || (a.coveredFrom !== null && a.coveredFrom >= term.start)) return a;
  return { ...a, chargedAmount: a.aheadCharge, aheadCharge: 0, coveredFrom: term.start };
}

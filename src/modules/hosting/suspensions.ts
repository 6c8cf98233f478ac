// Suspension as a set of reasons (R-PLAN-2): a subscription or customer is suspended while it holds
// any reason ('overuse', 'operator', 'reseller', 'expired') and active when it holds none. A reason
// added to a subscription reaches every customer of it in one statement; lifting it removes only that
// reason, so a customer suspended for another one (by the operator, by its reseller) stays
// suspended. Each status change goes to the panel in one call and is an event.
import { sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../../db/client.js';
import { hostingCustomers, hostingSubscriptions } from '../../db/schema/index.js';
import { emitEvent, emitEvents } from '../events/api.js';
import type { HostingBackend } from './backend.js';
import { CustomerResumed, CustomerSuspended, SubscriptionResumed, SubscriptionSuspended } from './events.js';
import { customerView, subscriptionView } from './schemas.js';
import { textArray, type CustomerRow, type SubscriptionRow } from './store.js';

export type Reason = 'overuse' | 'operator' | 'reseller' | 'expired';

type CustomerChange = Record<string, unknown> & { was: string };

/** Drizzle's row from a raw RETURNING of hosting_customers (snake_case, driver types). */
function customerRow(r: Record<string, unknown>): CustomerRow {
  return {
    id: String(r.id),
    subscriptionId: String(r.subscription_id),
    name: String(r.name),
    diskBytes: Number(r.disk_bytes),
    trafficBytes: Number(r.traffic_bytes),
    domains: Number(r.domains),
    sites: Number(r.sites),
    mailboxes: Number(r.mailboxes),
    databases: Number(r.databases),
    status: String(r.status),
    suspendedFor: textArray(r.suspended_for),
    panelId: String(r.panel_id),
    createdAt: new Date(r.created_at as string),
    updatedAt: new Date(r.updated_at as string),
  };
}

/**
 * Adds (`add`) or lifts (`!add`) `reason` on the subscription and all its customers; answers the
 * subscription after the change. Events: the subscription's suspension or resumption when its
 * status changed, and one per customer whose status changed.
 */
export async function cascade(
  tx: Tx,
  backend: HostingBackend,
  sub: SubscriptionRow,
  reason: Reason,
  add: boolean,
  now: Date,
): Promise<SubscriptionRow> {
  const [updated] = await tx
    .update(hostingSubscriptions)
    .set({
      suspendedFor: add
        ? sql`CASE WHEN ${reason} = ANY(suspended_for) THEN suspended_for ELSE array_append(suspended_for, ${reason}) END`
        : sql`array_remove(suspended_for, ${reason})`,
      status: add
        ? sql`CASE WHEN ${reason} = 'expired' OR 'expired' = ANY(suspended_for) THEN 'expired' ELSE 'suspended' END`
        : sql`CASE WHEN cardinality(array_remove(suspended_for, ${reason})) = 0 THEN 'active'
                   WHEN 'expired' = ANY(array_remove(suspended_for, ${reason})) THEN 'expired' ELSE 'suspended' END`,
      updatedAt: now,
    })
    .where(sql`id = ${sub.id}`)
    .returning();
  const after = updated!;
  const changed = await queryRows<CustomerChange>(
    tx,
    add
      ? sql`WITH before AS (
              SELECT id, status FROM hosting_customers
              WHERE subscription_id = ${sub.id}::uuid AND NOT (${reason} = ANY(suspended_for)) FOR UPDATE)
            UPDATE hosting_customers c
            SET suspended_for = array_append(c.suspended_for, ${reason}), status = 'suspended', updated_at = ${now.toISOString()}::timestamptz
            FROM before WHERE c.id = before.id
            RETURNING c.*, before.status AS was`
      : sql`WITH before AS (
              SELECT id, status FROM hosting_customers
              WHERE subscription_id = ${sub.id}::uuid AND ${reason} = ANY(suspended_for) FOR UPDATE)
            UPDATE hosting_customers c
            SET suspended_for = array_remove(c.suspended_for, ${reason}),
                status = CASE WHEN cardinality(array_remove(c.suspended_for, ${reason})) = 0 THEN 'active' ELSE 'suspended' END,
                updated_at = ${now.toISOString()}::timestamptz
            FROM before WHERE c.id = before.id
            RETURNING c.*, before.status AS was`,
  );
  const moved = changed.filter((c) => c.was !== c.status).map(customerRow);
  if (after.status !== sub.status) {
    await backend.setStatus(tx, [sub.panelId], after.status === 'active' ? 'active' : 'suspended');
  }
  // An expiry is its own event (hosting.subscription.expired, from the caller).
  if (after.status !== sub.status && after.status !== 'expired') {
    await emitEvent(tx, after.status === 'active' ? SubscriptionResumed : SubscriptionSuspended, {
      accountId: sub.accountId,
      objectId: sub.id,
      data: subscriptionView(after),
    });
  }
  if (moved.length > 0) {
    await backend.setStatus(
      tx,
      moved.map((c) => c.panelId),
      add ? 'suspended' : 'active',
    );
    await emitEvents(
      tx,
      add ? CustomerSuspended : CustomerResumed,
      moved.map((c) => ({ accountId: sub.accountId, objectId: c.id, data: customerView(c) })),
    );
  }
  return after;
}

/** Adds or lifts `reason` on one customer (its reseller's or the operator's own suspension). */
export async function suspendCustomer(
  tx: Tx,
  backend: HostingBackend,
  accountId: string,
  customer: CustomerRow,
  reason: Reason,
  add: boolean,
  now: Date,
): Promise<CustomerRow> {
  const [row] = await tx
    .update(hostingCustomers)
    .set({
      suspendedFor: add
        ? sql`CASE WHEN ${reason} = ANY(suspended_for) THEN suspended_for ELSE array_append(suspended_for, ${reason}) END`
        : sql`array_remove(suspended_for, ${reason})`,
      status: add
        ? 'suspended'
        : sql`CASE WHEN cardinality(array_remove(suspended_for, ${reason})) = 0 THEN 'active' ELSE 'suspended' END`,
      updatedAt: now,
    })
    .where(sql`id = ${customer.id}`)
    .returning();
  const after = row!;
  if (after.status !== customer.status) {
    await backend.setStatus(tx, [after.panelId], after.status === 'active' ? 'active' : 'suspended');
    await emitEvent(tx, after.status === 'active' ? CustomerResumed : CustomerSuspended, {
      accountId,
      objectId: after.id,
      data: customerView(after),
    });
  }
  return after;
}

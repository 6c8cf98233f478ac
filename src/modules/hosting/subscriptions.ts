// Reseller subscriptions (R-PLAN): bought for a term, quoted first, renewed with their add-ons at the
// prices then in force (R-ADD-5, R-ADD-6), moved to another plan (an upgrade at once and prorated, a
// downgrade at the renewal if everything fits); their customers, capped by the plan (R-PLAN-6) and
// allocated within it unless it oversells (R-PLAN-5); and usage evaluated on ingest: thresholds once
// per crossing (R-PLAN-3), and the overuse policy suspending and resuming the whole subscription
// (R-PLAN-2; mailbox sizes never count, R-PLAN-4). Each change, its panel call, its charge and its
// events commit together.
import { Type } from 'typebox';
import { and, eq, gt, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { hostingAddons, hostingCustomers, hostingSubscriptions, hostingUsage } from '../../db/schema/index.js';
import type { HostingThreshold } from '../../db/schema/index.js';
import { defineError, NotFound, ValidationFailed } from '../../errors.js';
import type { AuditRow } from '../../plugins/audit.js';
import { addMonths } from '../../lib/months.js';
import { assertMaxPrice, charge, InsufficientFunds, type Money } from '../billing/api.js';
import { emitEvent } from '../events/api.js';
import { panelPolicy, type HostingBackend } from './backend.js';
import {
  SubscriptionExpired,
  SubscriptionPlanChanged,
  SubscriptionPurchased,
  SubscriptionRenewalFailed,
  SubscriptionRenewed,
  ThresholdCrossed,
} from './events.js';
import { prorate, type Proration } from './proration.js';
import { redeemQuote, signQuote, type Signer } from './quotes.js';
import { customerView, subscriptionView } from './schemas.js';
import {
  allocations,
  extraCustomerAccounts,
  findCustomer,
  findPlan,
  findSubscription,
  priceInForce,
  ingestUsage,
  usageTotals,
  type CustomerRow,
  type HostingPlanRow,
  type SubscriptionRow,
  type UsageEntry,
} from './store.js';
import { cascade, suspendCustomer } from './suspensions.js';

export const PlanNotFound = defineError('plan_not_found', 422, 'No such plan on sale');
export const NotSoldInCurrency = defineError(
  'not_sold_in_currency',
  422,
  'This plan or add-on has no price in your account’s currency',
);
export const SubscriptionSuspendedError = defineError(
  'subscription_suspended',
  409,
  'The subscription is suspended or expired: it can read its usage, upgrade, renew and remove data, nothing else',
  Type.Object({ suspended_for: Type.Array(Type.String()) }),
);
export const CustomerLimitReached = defineError(
  'customer_limit_reached',
  409,
  'The plan’s customer accounts are all in use (R-PLAN-6)',
  Type.Object({ limit: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }) }),
);
export const AllocationExceedsPlan = defineError(
  'allocation_exceeds_plan',
  409,
  'The allocations together would exceed the plan, which does not oversell (R-PLAN-5)',
  Type.Object({
    resource: Type.String(),
    plan_limit: Type.Integer({ minimum: -1, maximum: Number.MAX_SAFE_INTEGER }),
    allocated: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    requested: Type.Integer({ minimum: -1, maximum: Number.MAX_SAFE_INTEGER }),
  }),
);
export const PlanDoesNotFit = defineError(
  'plan_does_not_fit',
  409,
  'The smaller plan does not hold what the subscription uses or has allocated',
  Type.Object({ misfits: Type.Array(Type.String()) }),
);
export const SamePlan = defineError('same_plan', 409, 'The subscription is already on this plan');

export interface HostingDeps {
  db: Db;
  backend: HostingBackend;
  quotes: Signer;
  quoteTtlS: number;
  now: () => Date;
}

export interface Caller {
  accountId: string;
  currency: string;
}

const invalid = (pointer: string, code: string, message: string): never => {
  throw new ValidationFailed(message, { errors: [{ pointer, code, message }] });
};

/** Terms start on a whole second, so a term's length and what is left of it are whole seconds. */
const wholeSecond = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);
const RESOURCES = ['disk_bytes', 'traffic_bytes', 'domains', 'sites', 'mailboxes', 'databases'] as const;
type Resource = (typeof RESOURCES)[number];
const planLimit = (p: HostingPlanRow, r: Resource): number =>
  ({
    disk_bytes: p.diskBytes,
    traffic_bytes: p.trafficBytes,
    domains: p.domains,
    sites: p.sites,
    mailboxes: p.mailboxes,
    databases: p.databases,
  })[r];
const allocationOf = (
  c: Pick<CustomerRow, 'diskBytes' | 'trafficBytes' | 'domains' | 'sites' | 'mailboxes' | 'databases'>,
  r: Resource,
) =>
  ({
    disk_bytes: c.diskBytes,
    traffic_bytes: c.trafficBytes,
    domains: c.domains,
    sites: c.sites,
    mailboxes: c.mailboxes,
    databases: c.databases,
  })[r];

/** The key of a threshold in `crossed`: disk:80% or traffic:1000000000B. */
const thresholdKey = (t: HostingThreshold) =>
  `${t.resource}:${t.percent !== undefined ? `${t.percent}%` : `${t.bytes}B`}`;
/** The level of a threshold in bytes (null: a percent of an unlimited resource, which never fires). */
function thresholdLevel(t: HostingThreshold, plan: HostingPlanRow): number | null {
  if (t.bytes !== undefined) return t.bytes;
  const limit = t.resource === 'disk' ? plan.diskBytes : plan.trafficBytes;
  return limit < 0 ? null : Math.floor((limit * (t.percent ?? 100)) / 100);
}

/** R-PLAN-2: is the subscription over what its plan lets it use without suspension? */
export function overuses(plan: HostingPlanRow, usage: { disk: number; traffic: number }): boolean {
  if (plan.overuse !== 'not_allowed') return false;
  return (
    (plan.diskBytes >= 0 && usage.disk >= plan.diskBytes) ||
    (plan.trafficBytes >= 0 && usage.traffic >= plan.trafficBytes)
  );
}

/** The thresholds (their keys) that the totals reach (R-PLAN-3). */
function crossedKeys(plan: HostingPlanRow, totals: { diskBytes: number; trafficBytes: number }): string[] {
  return plan.thresholds
    .filter((t) => {
      const level = thresholdLevel(t, plan);
      return level !== null && (t.resource === 'disk' ? totals.diskBytes : totals.trafficBytes) >= level;
    })
    .map(thresholdKey);
}

/** Where a subscription stands against its plan: totals, limits, thresholds, suspension. */
function usageSummary(
  plan: HostingPlanRow,
  s: Pick<SubscriptionRow, 'id' | 'status' | 'suspendedFor' | 'crossed' | 'diskUsed' | 'trafficUsed' | 'trafficMonth'>,
) {
  return {
    subscription_id: s.id,
    status: s.status as 'active' | 'suspended' | 'expired',
    suspended_for: s.suspendedFor as ('overuse' | 'operator' | 'reseller' | 'expired')[],
    overuse: plan.overuse as 'not_allowed' | 'disk_and_traffic_allowed' | 'allowed',
    disk: { used_bytes: s.diskUsed, limit_bytes: plan.diskBytes },
    traffic: { used_bytes: s.trafficUsed, limit_bytes: plan.trafficBytes, month: s.trafficMonth },
    thresholds: plan.thresholds.map((t) => ({
      resource: t.resource,
      threshold: t.percent !== undefined ? `${t.percent}%` : `${t.bytes} bytes`,
      level_bytes: thresholdLevel(t, plan),
      crossed: s.crossed.includes(thresholdKey(t)),
    })),
  };
}

export type NewCustomer = Pick<
  CustomerRow,
  'name' | 'diskBytes' | 'trafficBytes' | 'domains' | 'sites' | 'mailboxes' | 'databases'
>;

export function createSubscriptionService(deps: HostingDeps) {
  const { db, backend } = deps;

  async function planOnSale(tx: Tx, planId: string, pointer: string): Promise<HostingPlanRow> {
    const plan = await findPlan(tx, planId);
    if (!plan || !plan.active)
      throw new PlanNotFound(`${planId} is not a plan on sale (GET /v1/plans)`, {
        errors: [{ pointer, code: 'plan_not_found', message: `${planId} is not on sale` }],
      });
    return plan;
  }

  async function monthly(tx: Tx, kind: 'plan' | 'addon', id: string, currency: string) {
    const p = await priceInForce(tx, kind, id, currency);
    if (!p) throw new NotSoldInCurrency(`${id} is not sold in ${currency}`);
    return p;
  }

  async function owned(tx: Tx, accountId: string, id: string, lock = false): Promise<SubscriptionRow> {
    const s = await findSubscription(tx, accountId, id, { lock });
    if (!s) throw new NotFound('No such hosting subscription');
    return s;
  }

  const assertUsable = (s: SubscriptionRow) => {
    if (s.status !== 'active')
      throw new SubscriptionSuspendedError(`The subscription is ${s.status} (${s.suspendedFor.join(', ')})`, {
        extensions: { suspended_for: s.suspendedFor },
      });
  };

  /**
   * Re-evaluates thresholds and the overuse policy for the totals now stored, and applies what
   * changed: the totals on the subscription, one event per new crossing, suspension or resumption.
   */
  async function evaluate(
    tx: Tx,
    sub: SubscriptionRow,
    plan: HostingPlanRow,
    totals: { diskBytes: number; trafficBytes: number; trafficMonth: string | null },
    measuredAt: Date,
  ): Promise<SubscriptionRow> {
    const crossed: string[] = [];
    const fresh: { t: HostingThreshold; level: number; used: number }[] = [];
    for (const t of plan.thresholds) {
      const level = thresholdLevel(t, plan);
      const used = t.resource === 'disk' ? totals.diskBytes : totals.trafficBytes;
      if (level === null || used < level) continue;
      crossed.push(thresholdKey(t));
      if (!sub.crossed.includes(thresholdKey(t))) fresh.push({ t, level, used });
    }
    const [row] = await tx
      .update(hostingSubscriptions)
      .set({
        diskUsed: totals.diskBytes,
        trafficUsed: totals.trafficBytes,
        trafficMonth: totals.trafficMonth,
        crossed,
        updatedAt: deps.now(),
      })
      .where(eq(hostingSubscriptions.id, sub.id))
      .returning();
    let after = row!;
    for (const { t, level, used } of fresh)
      await emitEvent(tx, ThresholdCrossed, {
        accountId: sub.accountId,
        objectId: sub.id,
        data: {
          subscription_id: sub.id,
          resource: t.resource,
          threshold: t.percent !== undefined ? `${t.percent}%` : `${t.bytes} bytes`,
          level_bytes: level,
          used_bytes: used,
          limit_bytes: t.resource === 'disk' ? plan.diskBytes : plan.trafficBytes,
          measured_at: measuredAt.toISOString(),
        },
      });
    const over = overuses(plan, { disk: totals.diskBytes, traffic: totals.trafficBytes });
    const held = after.suspendedFor.includes('overuse');
    if (over !== held) after = await cascade(tx, backend, after, 'overuse', over, deps.now());
    return after;
  }

  /** Whether the subscription's usage, customers and allocations fit `plan`: what does not. */
  async function misfits(tx: Tx, sub: SubscriptionRow, plan: HostingPlanRow): Promise<string[]> {
    const out: string[] = [];
    if (plan.diskBytes >= 0 && sub.diskUsed > plan.diskBytes)
      out.push(`disk: ${sub.diskUsed} bytes used, the plan holds ${plan.diskBytes}`);
    if (plan.trafficBytes >= 0 && sub.trafficUsed > plan.trafficBytes)
      out.push(`traffic: ${sub.trafficUsed} bytes used this month, the plan holds ${plan.trafficBytes}`);
    const a = await allocations(tx, sub.id);
    const cap = plan.customers < 0 ? Infinity : plan.customers + (await extraCustomerAccounts(tx, sub.id));
    if (a.customers > cap) out.push(`customers: ${a.customers}, the plan holds ${cap}`);
    if (!plan.oversell)
      for (const r of RESOURCES) {
        const limit = planLimit(plan, r);
        if (limit < 0) continue;
        const sum = {
          disk_bytes: a.diskBytes,
          traffic_bytes: a.trafficBytes,
          domains: a.domains,
          sites: a.sites,
          mailboxes: a.mailboxes,
          databases: a.databases,
        }[r];
        if ((a.unlimited[r] ?? 0) > 0)
          out.push(`${r}: ${a.unlimited[r]} customer(s) allocated unlimited, the plan holds ${limit}`);
        else if (sum > limit) out.push(`${r}: ${sum} allocated, the plan holds ${limit}`);
      }
    return out;
  }

  /** The renewal's lines: the plan (or the pending downgrade) and every active add-on, at the prices in force. */
  async function renewalLines(tx: Tx, sub: SubscriptionRow, currency: string) {
    const planId = sub.pendingPlanId ?? sub.planId;
    const planPrice = await monthly(tx, 'plan', planId, currency);
    const lines: {
      item: string;
      monthly: Money;
      months: number;
      amount: number;
      version: number;
      note: string | null;
    }[] = [
      {
        item: `plan:${planId}`,
        monthly: { amount: planPrice.monthlyAmount, currency },
        months: sub.termMonths,
        amount: planPrice.monthlyAmount * sub.termMonths,
        version: planPrice.version,
        note: sub.pendingPlanId ? `downgrade from ${sub.planId} takes effect` : null,
      },
    ];
    const addons = await tx
      .select()
      .from(hostingAddons)
      .where(and(eq(hostingAddons.subscriptionId, sub.id), eq(hostingAddons.status, 'active')));
    for (const a of addons) {
      const p = await monthly(tx, 'addon', a.productId, currency);
      lines.push({
        item: `addon:${a.productId}:${a.id}`,
        monthly: { amount: p.monthlyAmount, currency },
        months: sub.termMonths,
        amount: p.monthlyAmount * sub.termMonths,
        version: p.version,
        note: a.bundled
          ? `R-ADD-6: bundled with the package until now (free); charged from this renewal unless removed before it`
          : null,
      });
    }
    return { lines, total: lines.reduce((s, l) => s + l.amount, 0), addons };
  }

  async function renewIn(tx: Tx, sub: SubscriptionRow, currency: string, at: Date, maxPrice?: Money, quoted?: number) {
    const { lines, total, addons } = await renewalLines(tx, sub, currency);
    const amount = quoted ?? total;
    assertMaxPrice({ amount, currency }, maxPrice, 'The renewal');
    const expired = sub.status === 'expired' || sub.termEnd <= at;
    const start = expired ? wholeSecond(at) : sub.termEnd;
    const end = addMonths(start, sub.termMonths);
    if (amount > 0)
      await charge(tx, {
        accountId: sub.accountId,
        money: { amount, currency },
        reason: `Hosting renewal: ${lines.map((l) => l.item.split(':').slice(0, 2).join(' ')).join(', ')} (${sub.termMonths} months)`,
        reference: `hosting:${sub.id}`,
      });
    const planId = sub.pendingPlanId ?? sub.planId;
    const planVersion = lines[0]!.version;
    if (sub.pendingPlanId) {
      const plan = (await findPlan(tx, planId))!;
      await backend.setPolicy(tx, sub.panelId, panelPolicy(plan));
    }
    await tx
      .update(hostingSubscriptions)
      .set({
        planId,
        pendingPlanId: null,
        planPriceVersion: planVersion,
        termStart: start,
        termEnd: end,
        whmcsBundled: false,
        renewalFailedAt: null,
        updatedAt: at,
      })
      .where(eq(hostingSubscriptions.id, sub.id));
    for (const [i, a] of addons.entries())
      await tx
        .update(hostingAddons)
        .set({ bundled: false, priceVersion: lines[i + 1]!.version })
        .where(eq(hostingAddons.id, a.id));
    let after = (await findSubscription(tx, null, sub.id))!;
    if (after.suspendedFor.includes('expired')) after = await cascade(tx, backend, after, 'expired', false, at);
    await emitEvent(tx, SubscriptionRenewed, {
      accountId: sub.accountId,
      objectId: sub.id,
      data: subscriptionView(after),
    });
    return { subscription: subscriptionView(after), charged: { amount, currency }, lines };
  }

  return {
    async quote(caller: Caller, input: { planId: string; termMonths: number }) {
      const now = deps.now();
      await planOnSale(db, input.planId, '/body/plan_id');
      const p = await monthly(db, 'plan', input.planId, caller.currency);
      const amount = p.monthlyAmount * input.termMonths;
      const expiresAt = new Date(now.getTime() + deps.quoteTtlS * 1000);
      return {
        quote_id: signQuote(deps.quotes, {
          kind: 'subscription',
          accountId: caller.accountId,
          subscriptionId: '',
          product: input.planId,
          months: input.termMonths,
          currency: caller.currency,
          amount,
          expiresAt,
        }),
        price: { amount, currency: caller.currency },
        monthly: { amount: p.monthlyAmount, currency: caller.currency },
        months: input.termMonths,
        price_version: p.version,
        expires_at: expiresAt.toISOString(),
      };
    },

    async purchase(
      caller: Caller,
      input: { planId: string; termMonths: number; autorenew?: boolean; quoteId?: string; maxPrice?: Money },
    ) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const plan = await planOnSale(tx, input.planId, '/body/plan_id');
        const p = await monthly(tx, 'plan', plan.id, caller.currency);
        let amount = p.monthlyAmount * input.termMonths;
        if (input.quoteId)
          amount = redeemQuote(
            deps.quotes,
            input.quoteId,
            {
              kind: 'subscription',
              accountId: caller.accountId,
              subscriptionId: '',
              product: plan.id,
              months: input.termMonths,
              currency: caller.currency,
            },
            now,
          ).amount;
        const total = { amount, currency: caller.currency };
        assertMaxPrice(total, input.maxPrice, 'The subscription');
        const panelId = await backend.createReseller(tx, panelPolicy(plan));
        const start = wholeSecond(now);
        const [row] = await tx
          .insert(hostingSubscriptions)
          .values({
            accountId: caller.accountId,
            planId: plan.id,
            planPriceVersion: p.version,
            termMonths: input.termMonths,
            termStart: start,
            termEnd: addMonths(start, input.termMonths),
            autorenew: input.autorenew ?? true,
            panelId,
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        const sub = row!;
        await charge(tx, {
          accountId: caller.accountId,
          money: total,
          reason: `Hosting plan ${plan.name}, ${input.termMonths} month(s)`,
          reference: `hosting:${sub.id}`,
        });
        const view = subscriptionView(sub);
        await emitEvent(tx, SubscriptionPurchased, { accountId: caller.accountId, objectId: sub.id, data: view });
        return { subscription: view, charged: total };
      });
    },

    async get(accountId: string, id: string) {
      return subscriptionView(await owned(db, accountId, id));
    },

    async list(accountId: string, after: string | undefined, limit: number) {
      const rows = await db
        .select()
        .from(hostingSubscriptions)
        .where(
          and(eq(hostingSubscriptions.accountId, accountId), after ? gt(hostingSubscriptions.id, after) : undefined),
        )
        .orderBy(hostingSubscriptions.id)
        .limit(limit + 1);
      return rows.map(subscriptionView);
    },

    async setAutorenew(accountId: string, id: string, autorenew: boolean) {
      return db.transaction(async (tx) => {
        await owned(tx, accountId, id, true);
        const [row] = await tx
          .update(hostingSubscriptions)
          .set({ autorenew, updatedAt: deps.now() })
          .where(eq(hostingSubscriptions.id, id))
          .returning();
        return subscriptionView(row!);
      });
    },

    // ---- renewal (R-ADD-5, R-ADD-6) ---------------------------------------------------------

    async renewalQuote(caller: Caller, id: string) {
      const now = deps.now();
      const sub = await owned(db, caller.accountId, id);
      const { lines, total } = await renewalLines(db, sub, caller.currency);
      const expiresAt = new Date(now.getTime() + deps.quoteTtlS * 1000);
      const start = sub.status === 'expired' || sub.termEnd <= now ? wholeSecond(now) : sub.termEnd;
      const current = sub.whmcsBundled
        ? lines.filter((l) => !l.note?.startsWith('R-ADD-6')).reduce((s, l) => s + l.amount, 0)
        : total;
      return {
        quote_id: signQuote(deps.quotes, {
          kind: 'renewal',
          accountId: caller.accountId,
          subscriptionId: sub.id,
          product: `${sub.pendingPlanId ?? sub.planId}@${sub.termEnd.getTime()}`,
          months: sub.termMonths,
          currency: caller.currency,
          amount: total,
          expiresAt,
        }),
        price: { amount: total, currency: caller.currency },
        lines: lines.map((l) => ({
          item: l.item,
          monthly: l.monthly,
          months: l.months,
          amount: { amount: l.amount, currency: caller.currency },
          note: l.note,
        })),
        difference_from_current_term: { amount: total - current, currency: caller.currency },
        term_start: start.toISOString(),
        term_end: addMonths(start, sub.termMonths).toISOString(),
        expires_at: expiresAt.toISOString(),
      };
    },

    async renew(caller: Caller, id: string, input: { quoteId?: string; maxPrice?: Money }) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const sub = await owned(tx, caller.accountId, id, true);
        const quoted = input.quoteId
          ? redeemQuote(
              deps.quotes,
              input.quoteId,
              {
                kind: 'renewal',
                accountId: caller.accountId,
                subscriptionId: sub.id,
                product: `${sub.pendingPlanId ?? sub.planId}@${sub.termEnd.getTime()}`,
                months: sub.termMonths,
                currency: caller.currency,
              },
              now,
            ).amount
          : undefined;
        return renewIn(tx, sub, caller.currency, now, input.maxPrice, quoted);
      });
    },

    /**
     * The job: subscriptions with autorenew are renewed from a day before their term ends; a failed
     * charge is an event (once a day) and is tried again; a term that ends unrenewed expires, which
     * suspends the subscription and its customers.
     */
    async runRenewals(at: Date, currencyOf: (accountId: string) => Promise<string>) {
      const due = await db
        .select({ id: hostingSubscriptions.id, accountId: hostingSubscriptions.accountId })
        .from(hostingSubscriptions)
        .where(
          sql`status <> 'expired' AND term_end <= ${new Date(at.getTime() + 86_400_000).toISOString()}::timestamptz`,
        )
        .limit(500);
      let renewed = 0;
      for (const d of due) {
        const currency = await currencyOf(d.accountId);
        try {
          await db.transaction(async (tx) => {
            const sub = (await findSubscription(tx, null, d.id, { lock: true }))!;
            if (sub.status === 'expired' || sub.termEnd.getTime() > at.getTime() + 86_400_000) return;
            if (sub.autorenew) {
              try {
                await tx.transaction(async (inner) => {
                  await renewIn(inner, sub, currency, at);
                });
                renewed++;
                return;
              } catch (err) {
                if (!(err instanceof InsufficientFunds)) throw err;
                if (!sub.renewalFailedAt || at.getTime() - sub.renewalFailedAt.getTime() >= 86_400_000) {
                  const [row] = await tx
                    .update(hostingSubscriptions)
                    .set({ renewalFailedAt: at })
                    .where(eq(hostingSubscriptions.id, sub.id))
                    .returning();
                  const required = (err.extensions as { required?: Money } | undefined)?.required ?? {
                    amount: 0,
                    currency,
                  };
                  await emitEvent(tx, SubscriptionRenewalFailed, {
                    accountId: sub.accountId,
                    objectId: sub.id,
                    data: { subscription: subscriptionView(row!), required, reason: err.message },
                  });
                }
              }
            }
            if (sub.termEnd <= at) {
              const after = await cascade(tx, backend, sub, 'expired', true, at);
              await emitEvent(tx, SubscriptionExpired, {
                accountId: sub.accountId,
                objectId: sub.id,
                data: subscriptionView(after),
              });
            }
          });
        } catch (err) {
          // One subscription's failure never stops the others; the next run tries it again.
          void err;
        }
      }
      return renewed;
    },

    // ---- plan change ---------------------------------------------------------------------------

    async planChangeQuote(caller: Caller, id: string, planId: string) {
      const now = deps.now();
      const sub = await owned(db, caller.accountId, id);
      const r = await priceChange(db, sub, planId, caller.currency, now);
      const expiresAt = new Date(now.getTime() + deps.quoteTtlS * 1000);
      return {
        quote_id: signQuote(deps.quotes, {
          kind: 'plan_change',
          accountId: caller.accountId,
          subscriptionId: sub.id,
          product: `${planId}@${sub.termEnd.getTime()}`,
          months: sub.termMonths,
          currency: caller.currency,
          amount: r.amount,
          expiresAt,
        }),
        effective: r.upgrade ? ('now' as const) : ('at_renewal' as const),
        price: { amount: r.amount, currency: caller.currency },
        proration: r.proration,
        expires_at: expiresAt.toISOString(),
      };
    },

    async changePlan(caller: Caller, id: string, input: { planId: string; quoteId?: string; maxPrice?: Money }) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        let sub = await owned(tx, caller.accountId, id, true);
        const r = await priceChange(tx, sub, input.planId, caller.currency, now);
        let amount = r.amount;
        if (input.quoteId)
          amount = redeemQuote(
            deps.quotes,
            input.quoteId,
            {
              kind: 'plan_change',
              accountId: caller.accountId,
              subscriptionId: sub.id,
              product: `${input.planId}@${sub.termEnd.getTime()}`,
              months: sub.termMonths,
              currency: caller.currency,
            },
            now,
          ).amount;
        assertMaxPrice({ amount, currency: caller.currency }, input.maxPrice, 'The plan change');
        if (!r.upgrade) {
          const wrong = await misfits(tx, sub, r.plan);
          if (wrong.length > 0)
            throw new PlanDoesNotFit(`${r.plan.name} does not hold: ${wrong.join('; ')}`, {
              extensions: { misfits: wrong },
            });
          const [row] = await tx
            .update(hostingSubscriptions)
            .set({ pendingPlanId: r.plan.id, updatedAt: now })
            .where(eq(hostingSubscriptions.id, sub.id))
            .returning();
          const view = subscriptionView(row!);
          await emitEvent(tx, SubscriptionPlanChanged, { accountId: sub.accountId, objectId: sub.id, data: view });
          return {
            subscription: view,
            charged: { amount: 0, currency: caller.currency },
            effective: 'at_renewal' as const,
            proration: r.proration,
          };
        }
        if (amount > 0)
          await charge(tx, {
            accountId: sub.accountId,
            money: { amount, currency: caller.currency },
            reason: `Hosting plan upgrade ${sub.planId} -> ${r.plan.id}, pro rata for the rest of the term`,
            reference: `hosting:${sub.id}`,
          });
        await backend.setPolicy(tx, sub.panelId, panelPolicy(r.plan));
        const [row] = await tx
          .update(hostingSubscriptions)
          .set({ planId: r.plan.id, pendingPlanId: null, planPriceVersion: r.version, updatedAt: now })
          .where(eq(hostingSubscriptions.id, sub.id))
          .returning();
        sub = row!;
        // The new plan's limits and thresholds apply at once: an overuse suspension may lift (R-PLAN-2).
        sub = await evaluate(tx, sub, r.plan, await usageTotals(tx, sub.id), now);
        const view = subscriptionView(sub);
        await emitEvent(tx, SubscriptionPlanChanged, { accountId: sub.accountId, objectId: sub.id, data: view });
        return {
          subscription: view,
          charged: { amount, currency: caller.currency },
          effective: 'now' as const,
          proration: r.proration,
        };
      });
    },

    // ---- customers (R-PLAN-5, R-PLAN-6) -----------------------------------------------------

    async createCustomer(accountId: string, id: string, input: NewCustomer) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const sub = await owned(tx, accountId, id, true);
        assertUsable(sub);
        const plan = (await findPlan(tx, sub.planId))!;
        const a = await allocations(tx, sub.id);
        if (plan.customers >= 0) {
          const cap = plan.customers + (await extraCustomerAccounts(tx, sub.id));
          if (a.customers >= cap)
            throw new CustomerLimitReached(`The plan holds ${cap} customer accounts, all in use`, {
              extensions: { limit: cap },
            });
        }
        if (!plan.oversell)
          for (const r of RESOURCES) {
            const limit = planLimit(plan, r);
            if (limit < 0) continue;
            const requested = allocationOf(input, r);
            const allocated = {
              disk_bytes: a.diskBytes,
              traffic_bytes: a.trafficBytes,
              domains: a.domains,
              sites: a.sites,
              mailboxes: a.mailboxes,
              databases: a.databases,
            }[r];
            if (requested < 0 || allocated + requested > limit)
              throw new AllocationExceedsPlan(
                requested < 0
                  ? `${r}: unlimited does not fit a plan of ${limit} that does not oversell`
                  : `${r}: ${allocated} allocated + ${requested} requested is over the plan's ${limit}`,
                { extensions: { resource: r, plan_limit: limit, allocated, requested } },
              );
          }
        const panelId = await backend.createCustomer(tx, sub.panelId);
        const [row] = await tx
          .insert(hostingCustomers)
          .values({ ...input, subscriptionId: sub.id, panelId, createdAt: now, updatedAt: now })
          .returning();
        return customerView(row!);
      });
    },

    async listCustomers(accountId: string, id: string, after: string | undefined, limit: number) {
      await owned(db, accountId, id);
      const rows = await db
        .select()
        .from(hostingCustomers)
        .where(and(eq(hostingCustomers.subscriptionId, id), after ? gt(hostingCustomers.id, after) : undefined))
        .orderBy(hostingCustomers.id)
        .limit(limit + 1);
      return rows.map(customerView);
    },

    async getCustomer(accountId: string, id: string, customerId: string) {
      await owned(db, accountId, id);
      const c = await findCustomer(db, id, customerId);
      if (!c) throw new NotFound('No such customer');
      return customerView(c);
    },

    /** Removes a customer and its data: allowed while suspended, and its usage leaves the totals. */
    async removeCustomer(accountId: string, id: string, customerId: string) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const sub = await owned(tx, accountId, id, true);
        const c = await findCustomer(tx, id, customerId);
        if (!c) throw new NotFound('No such customer');
        await backend.remove(tx, c.panelId);
        await tx.delete(hostingUsage).where(and(eq(hostingUsage.subscriptionId, id), eq(hostingUsage.subject, c.id)));
        await tx.delete(hostingCustomers).where(eq(hostingCustomers.id, c.id));
        const plan = (await findPlan(tx, sub.planId))!;
        await evaluate(tx, sub, plan, await usageTotals(tx, sub.id), now);
      });
    },

    /** The reseller suspends or resumes one of its customers (reason 'reseller'). */
    async setCustomerSuspended(accountId: string, id: string, customerId: string, suspended: boolean) {
      return db.transaction(async (tx) => {
        await owned(tx, accountId, id, true);
        const c = await findCustomer(tx, id, customerId);
        if (!c) throw new NotFound('No such customer');
        return customerView(await suspendCustomer(tx, backend, accountId, c, 'reseller', suspended, deps.now()));
      });
    },

    // ---- usage (R-PLAN-2, R-PLAN-3, R-PLAN-4) -----------------------------------------------

    /**
     * A report in one statement (store.ingestUsage); only when it moves a threshold or the overuse
     * verdict does a transaction follow that evaluates the totals under the subscription's lock
     * (events, the cascade). Two reports racing both find the change, and the second evaluation
     * finds it done.
     */
    async reportUsage(
      accountId: string,
      id: string,
      input: { measuredAt: Date; entries: (Omit<UsageEntry, 'subject'> & { customerId: string | null })[] },
      audit: AuditRow | null = null,
    ) {
      const now = deps.now();
      // A measurement from the future counts as now: it cannot hold back the reports that follow.
      const measuredAt = input.measuredAt > now ? now : input.measuredAt;
      const subjects = input.entries.map((e) => e.customerId ?? 'own');
      if (new Set(subjects).size !== subjects.length)
        invalid('/body/entries', 'duplicate_subject', 'One entry per customer (and one for your own) in a report');
      const r = await ingestUsage(db, {
        subscriptionId: id,
        accountId,
        measuredAt,
        audit,
        entries: input.entries.map((e, i) => ({
          subject: subjects[i]!,
          diskBytes: e.diskBytes,
          trafficBytes: e.trafficBytes,
          mailboxes: e.mailboxes,
          largestMailboxBytes: e.largestMailboxBytes,
        })),
      });
      if (!r.found || !r.plan) throw new NotFound('No such hosting subscription');
      if (r.badSubject !== null)
        invalid(
          `/body/entries/${subjects.indexOf(r.badSubject)}/customer_id`,
          'unknown_customer',
          'Not a customer of this subscription',
        );
      let state = {
        id,
        status: r.status,
        suspendedFor: r.suspendedFor,
        crossed: r.crossed,
        diskUsed: r.totals.diskBytes,
        trafficUsed: r.totals.trafficBytes,
        trafficMonth: r.totals.trafficMonth,
      };
      let plan = r.plan;
      const crossed = crossedKeys(plan, r.totals);
      const moved =
        crossed.length !== r.crossed.length ||
        crossed.some((k) => !r.crossed.includes(k)) ||
        overuses(plan, { disk: r.totals.diskBytes, traffic: r.totals.trafficBytes }) !==
          r.suspendedFor.includes('overuse');
      if (r.changed > 0 && moved) {
        const sub = await db.transaction(async (tx) => {
          const locked = (await findSubscription(tx, accountId, id, { lock: true }))!;
          plan = (await findPlan(tx, locked.planId))!;
          return evaluate(tx, locked, plan, await usageTotals(tx, id), measuredAt);
        });
        state = sub;
      }
      return { accepted: r.changed, ...usageSummary(plan, state) };
    },

    async usage(accountId: string, id: string) {
      return usageView(db, await owned(db, accountId, id));
    },

    // ---- operators -----------------------------------------------------------------------------

    async operatorSuspend(id: string, suspended: boolean) {
      return db.transaction(async (tx) => {
        const sub = await findSubscription(tx, null, id, { lock: true });
        if (!sub) throw new NotFound('No such hosting subscription');
        return subscriptionView(await cascade(tx, backend, sub, 'operator', suspended, deps.now()));
      });
    },
  };

  async function priceChange(tx: Tx, sub: SubscriptionRow, planId: string, currency: string, now: Date) {
    const plan = await planOnSale(tx, planId, '/body/plan_id');
    if (plan.id === sub.planId) throw new SamePlan(`Already on ${plan.name}`);
    const next = await monthly(tx, 'plan', plan.id, currency);
    const current = await monthly(tx, 'plan', sub.planId, currency);
    const upgrade = next.monthlyAmount >= current.monthlyAmount;
    const proration: Proration = prorate({
      monthlyPrice: upgrade ? next.monthlyAmount - current.monthlyAmount : 0,
      months: sub.termMonths,
      termStart: sub.termStart,
      termEnd: sub.termEnd,
      at: now,
    });
    return { plan, upgrade, amount: upgrade ? proration.amount : 0, proration, version: next.version };
  }

  async function usageView(tx: Tx, sub: SubscriptionRow) {
    const plan = (await findPlan(tx, sub.planId))!;
    const rows = await tx.select().from(hostingUsage).where(eq(hostingUsage.subscriptionId, sub.id));
    return {
      ...usageSummary(plan, sub),
      subjects: rows
        .sort((a, b) => (a.subject === 'own' ? -1 : b.subject === 'own' ? 1 : a.subject.localeCompare(b.subject)))
        .map((u) => ({
          customer_id: u.subject === 'own' ? null : u.subject,
          measured_at: u.measuredAt.toISOString(),
          disk_bytes: u.diskBytes,
          traffic_bytes: u.trafficBytes,
          traffic_month: u.trafficMonth,
          mailboxes: u.mailboxes,
          largest_mailbox_bytes: u.largestMailboxBytes,
          mailbox_over_size: plan.mailboxBytes >= 0 && u.largestMailboxBytes > plan.mailboxBytes,
        })),
    };
  }
}

export type SubscriptionService = ReturnType<typeof createSubscriptionService>;

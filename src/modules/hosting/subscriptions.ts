// Reseller subscriptions (R-PLAN): bought for a term, quoted first, renewed with their add-ons at the
// prices then in force (R-ADD-5, R-ADD-6), moved to another plan (an upgrade at once and prorated, a
// downgrade at the renewal if everything fits); their customers, capped by the plan (R-PLAN-6) and
// allocated within it unless it oversells (R-PLAN-5); and usage evaluated on ingest: thresholds once
// per crossing (R-PLAN-3), and the overuse policy suspending and resuming the whole subscription
// (R-PLAN-2; mailbox sizes never count, R-PLAN-4). Each change, its panel call, its charge and its
// events commit together.
import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import { and, eq, gt, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import {
  hostingAddons,
  hostingCustomers,
  hostingIpPool,
  hostingSubscriptions,
  hostingUsage,
} from '../../db/schema/index.js';
import type { HostingThreshold } from '../../db/schema/index.js';
import { defineError, invalidField, NotFound } from '../../errors.js';
import type { AuditRow } from '../../plugins/audit.js';
import type { DeferredGuard } from '../../plugins/repeated-failure-guard.js';
import { addMonths } from '../../lib/months.js';
import { AlreadyRenewed, assertMaxPrice, charge, InsufficientFunds, type Money } from '../billing/api.js';
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
  priceVersions,
  RESOURCES,
  type Resource,
  priceOfVersion,
  usageRecorder,
  usageTotals,
  type CustomerRow,
  type HostingPlanRow,
  type SubscriptionRow,
  type UsageEntry,
} from './store.js';
import { cascade, suspendCustomer } from './suspensions.js';
import { rollTermForward } from './rollover.js';
import { runningTerm, termBounds } from './terms.js';

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
/** One term paid ahead at most (billing's rule, shared with licenses). */
export { AlreadyRenewed };

export interface HostingDeps {
  db: Db;
  backend: HostingBackend;
  quotes: Signer;
  quoteTtlS: number;
  now: () => Date;
  log?: { error: (obj: unknown, msg: string) => void };
}

export interface Caller {
  accountId: string;
  currency: string;
}

const invalid = invalidField;

/** Terms start on a whole second, so a term's length and what is left of it are whole seconds. */
const wholeSecond = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);
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

/** The thresholds that the totals reach (R-PLAN-3), with their level and the usage that reached it. */
function reachedThresholds(plan: HostingPlanRow, totals: { diskBytes: number; trafficBytes: number }) {
  return plan.thresholds.flatMap((t) => {
    const level = thresholdLevel(t, plan);
    const used = t.resource === 'disk' ? totals.diskBytes : totals.trafficBytes;
    return level !== null && used >= level ? [{ t, key: thresholdKey(t), level, used }] : [];
  });
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
  const recordUsage = usageRecorder(db);

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
    return lock ? rollForward(tx, s, deps.now()) : s;
  }

  const rollForward = (tx: Tx, sub: SubscriptionRow, at: Date) => rollTermForward(tx, backend, sub, at);

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
    const hits = reachedThresholds(plan, totals);
    const crossed = hits.map((h) => h.key);
    const fresh = hits.filter((h) => !sub.crossed.includes(h.key));
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
        const sum = a.allocated[r];
        if (a.unlimited[r] > 0)
          out.push(`${r}: ${a.unlimited[r]} customer(s) allocated unlimited, the plan holds ${limit}`);
        else if (sum > limit) out.push(`${r}: ${sum} allocated, the plan holds ${limit}`);
      }
    return out;
  }

  /**
   * The renewal's lines: the plan (the pending downgrade when it fits, else the current plan) and
   * every active add-on, at the prices in force; and the quote's binding of exactly these lines.
   */
  async function renewalLines(tx: Tx, sub: SubscriptionRow, currency: string) {
    let planId = sub.planId;
    let note: string | null = null;
    if (sub.pendingPlanId) {
      const wrong = await misfits(tx, sub, (await findPlan(tx, sub.pendingPlanId))!);
      if (wrong.length === 0) {
        planId = sub.pendingPlanId;
        note = `the downgrade from ${sub.planId} takes effect with this term`;
      } else
        note = `the downgrade to ${sub.pendingPlanId} does not fit (${wrong.join('; ')}): renewed on ${sub.planId}`;
    }
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
        note,
      },
    ];
    const addons = await tx
      .select()
      .from(hostingAddons)
      .where(and(eq(hostingAddons.subscriptionId, sub.id), eq(hostingAddons.status, 'active')))
      .orderBy(hostingAddons.id);
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
    const total = lines.reduce((sum, l) => sum + l.amount, 0);
    // The quote prices these lines: another add-on, one removed or another price makes it another order.
    const binding = createHash('sha256')
      .update(
        `${sub.termIndex}:${sub.paidTermsAhead}:${lines.map((l) => `${l.item}=${l.version}:${l.amount}`).join(',')}`,
      )
      .digest('base64url')
      .slice(0, 22);
    return { lines, total, addons, planId, binding };
  }

  /** Whether the subscription's term has ended with nothing paid ahead (it expires, or has). */
  const lapsed = (sub: SubscriptionRow, at: Date) => sub.status === 'expired' || runningTerm(sub, at).end <= at;

  async function renewIn(
    tx: Tx,
    sub: SubscriptionRow,
    currency: string,
    at: Date,
    maxPrice?: Money,
    quote?: { id: string; now: Date },
  ) {
    if (sub.paidTermsAhead > 0)
      throw new AlreadyRenewed(`The term from ${sub.termEnd.toISOString()} is paid: renew again once it has begun`);
    const { lines, total, addons, planId, binding } = await renewalLines(tx, sub, currency);
    // A quote is for exactly the lines that renew now (its binding), and charges its amount.
    const quoted = quote
      ? redeemQuote(
          deps.quotes,
          quote.id,
          {
            kind: 'renewal',
            accountId: sub.accountId,
            subscriptionId: sub.id,
            product: binding,
            months: sub.termMonths,
            currency,
          },
          quote.now,
        ).amount
      : undefined;
    const amount = quoted ?? total;
    assertMaxPrice({ amount, currency }, maxPrice, 'The renewal');
    if (amount > 0)
      await charge(tx, {
        accountId: sub.accountId,
        money: { amount, currency },
        reason: `Hosting renewal: ${lines.map((l) => l.item.split(':').slice(0, 2).join(' ')).join(', ')} (${sub.termMonths} months)`,
        reference: `hosting:${sub.id}`,
      });
    const restart = lapsed(sub, at);
    const anchor = restart ? wholeSecond(at) : sub.termAnchor;
    const bounds = restart ? termBounds(anchor, 0, sub.termMonths) : null;
    // A lapsed subscription starts a new term now, on the renewed plan; a running one pays the next
    // term ahead, which begins (with the downgrade, if any) when this one ends.
    await tx
      .update(hostingSubscriptions)
      .set({
        ...(restart
          ? {
              termAnchor: anchor,
              termIndex: 0,
              termStart: bounds!.start,
              termEnd: bounds!.end,
              paidTermsAhead: 0,
              planId,
              pendingPlanId: null,
            }
          : { paidTermsAhead: 1, pendingPlanId: planId === sub.planId ? null : planId }),
        planPriceVersion: lines[0]!.version,
        whmcsBundled: false,
        renewalFailedAt: null,
        updatedAt: at,
      })
      .where(eq(hostingSubscriptions.id, sub.id));
    if (restart && planId !== sub.planId)
      await backend.setPolicy(tx, [sub.panelId], panelPolicy((await findPlan(tx, planId))!));
    for (const [i, a] of addons.entries())
      await tx
        .update(hostingAddons)
        .set({
          bundled: false,
          priceVersion: lines[i + 1]!.version,
          ...(restart
            ? { chargedAmount: lines[i + 1]!.amount, coveredFrom: bounds!.start, aheadCharge: 0 }
            : { aheadCharge: lines[i + 1]!.amount }),
        })
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

  /** Add-ons end with a term that ends unrenewed: keys revoked, addresses back in the pool. */
  async function endAddons(tx: Tx, subscriptionId: string, at: Date) {
    const ended = await tx
      .update(hostingAddons)
      .set({ status: 'expired', removedAt: at })
      .where(and(eq(hostingAddons.subscriptionId, subscriptionId), eq(hostingAddons.status, 'active')))
      .returning({ id: hostingAddons.id });
    if (ended.length > 0)
      await tx
        .update(hostingIpPool)
        .set({ addonId: null, assignedAt: null })
        .where(sql`addon_id = ANY(${sql.param(ended.map((e) => e.id))}::uuid[])`);
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
        // The price version the subscription pays (what an upgrade is priced against): today's, or
        // with a quote the one it was given at (a quote is honoured after a price change).
        let version = p.version;
        if (input.quoteId) {
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
          // The newest version whose price gives the quote's amount (a valid quote always has one).
          const quoted = (await priceVersions(tx, 'plan', plan.id, caller.currency)).find(
            (v) => v.monthlyAmount * input.termMonths === amount,
          );
          if (quoted) version = quoted.version;
        }
        const total = { amount, currency: caller.currency };
        assertMaxPrice(total, input.maxPrice, 'The subscription');
        const panelId = await backend.createReseller(tx, panelPolicy(plan));
        const start = wholeSecond(now);
        const [row] = await tx
          .insert(hostingSubscriptions)
          .values({
            accountId: caller.accountId,
            planId: plan.id,
            planPriceVersion: version,
            termMonths: input.termMonths,
            termAnchor: start,
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
      return subscriptionView(await owned(db, accountId, id), deps.now());
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
      const now = deps.now();
      return rows.map((r) => subscriptionView(r, now));
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
      // The term paid ahead that has begun is made the running one first, as the renewal itself
      // does: the quote prices (and binds) the term the renewal will see.
      const { sub, lines, total, binding } = await db.transaction(async (tx) => {
        const sub = await owned(tx, caller.accountId, id, true);
        if (sub.paidTermsAhead > 0 && runningTerm(sub, now).ahead > 0)
          throw new AlreadyRenewed(`The term from ${sub.termEnd.toISOString()} is paid: renew again once it has begun`);
        return { sub, ...(await renewalLines(tx, sub, caller.currency)) };
      });
      const expiresAt = new Date(now.getTime() + deps.quoteTtlS * 1000);
      const restart = lapsed(sub, now);
      const term = runningTerm(sub, now);
      // The term the renewal pays, counted from the anchor as every term is (31 January, 28
      // February, 31 March), or a new term from now when this one lapsed.
      const next = restart
        ? termBounds(wholeSecond(now), 0, sub.termMonths)
        : termBounds(sub.termAnchor, term.index + 1, sub.termMonths);
      const current = lines.filter((l) => !l.note?.startsWith('R-ADD-6')).reduce((sum, l) => sum + l.amount, 0);
      return {
        quote_id: signQuote(deps.quotes, {
          kind: 'renewal',
          accountId: caller.accountId,
          subscriptionId: sub.id,
          product: binding,
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
        term_start: next.start.toISOString(),
        term_end: next.end.toISOString(),
        expires_at: expiresAt.toISOString(),
      };
    },

    async renew(caller: Caller, id: string, input: { quoteId?: string; maxPrice?: Money }) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const sub = await owned(tx, caller.accountId, id, true);
        const quote = input.quoteId ? { id: input.quoteId, now } : undefined;
        return renewIn(tx, sub, caller.currency, now, input.maxPrice, quote);
      });
    },

    /**
     * The job, safe on several instances (each subscription under its row lock, re-read there):
     * subscriptions with autorenew pay the next term from a day before theirs ends; a failed charge
     * is an event (at most once a day) and is tried again each run; a term paid ahead begins when
     * the running one ends; a term that ends unrenewed expires, which suspends the subscription and
     * its customers and ends its add-ons.
     */
    async runRenewals(at: Date, currencyOf: (accountId: string) => Promise<string>) {
      const soon = new Date(at.getTime() + 86_400_000).toISOString();
      const due = await db
        .select({ id: hostingSubscriptions.id, accountId: hostingSubscriptions.accountId })
        .from(hostingSubscriptions)
        .where(
          sql`status <> 'expired' AND (term_end <= ${at.toISOString()}::timestamptz
              OR (autorenew AND paid_terms_ahead = 0 AND term_end <= ${soon}::timestamptz))`,
        )
        .orderBy(sql`renewal_failed_at NULLS FIRST`, hostingSubscriptions.termEnd)
        .limit(500);
      let renewed = 0;
      for (const d of due) {
        const currency = await currencyOf(d.accountId);
        try {
          await db.transaction(async (tx) => {
            let sub = (await findSubscription(tx, null, d.id, { lock: true }))!;
            if (sub.status === 'expired') return;
            sub = await rollForward(tx, sub, at);
            if (sub.autorenew && sub.paidTermsAhead === 0 && sub.termEnd.getTime() <= at.getTime() + 86_400_000) {
              try {
                await tx.transaction(async (sp) => {
                  await renewIn(sp, sub, currency, at);
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
                  sub = row!;
                  const required = (err.extensions as { required?: Money } | undefined)?.required ?? {
                    amount: 0,
                    currency,
                  };
                  await emitEvent(tx, SubscriptionRenewalFailed, {
                    accountId: sub.accountId,
                    objectId: sub.id,
                    data: { subscription: subscriptionView(sub), required, reason: err.message },
                  });
                }
              }
            }
            if (sub.termEnd <= at && sub.paidTermsAhead === 0) {
              await endAddons(tx, sub.id, at);
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
          deps.log?.error({ err, subscription: d.id }, 'hosting renewal failed');
        }
      }
      return renewed;
    },

    // ---- plan change ---------------------------------------------------------------------------

    async planChangeQuote(caller: Caller, id: string, planId: string) {
      const now = deps.now();
      // As the change itself does, a term paid ahead that has begun is made the running one first.
      const { sub, r } = await db.transaction(async (tx) => {
        const sub = await owned(tx, caller.accountId, id, true);
        return { sub, r: await priceChange(tx, sub, planId, caller.currency, now) };
      });
      const expiresAt = new Date(now.getTime() + deps.quoteTtlS * 1000);
      return {
        quote_id: signQuote(deps.quotes, {
          ...planChangeOrder(caller, sub, r.binding),
          amount: r.amount,
          expiresAt,
          quotedAt: now,
        }),
        effective: r.effective,
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
        const quote = input.quoteId
          ? redeemQuote(deps.quotes, input.quoteId, planChangeOrder(caller, sub, r.binding), now)
          : null;
        const amount = quote ? quote.amount : r.amount;
        // The answer shows the inputs the charge came from: the quote's second (the binding holds
        // both plans' price versions), else this one.
        const quoted = quote?.quotedAt
          ? await priceChange(tx, sub, input.planId, caller.currency, quote.quotedAt)
          : null;
        const proration = quoted && quoted.amount === amount ? quoted.proration : r.proration;
        assertMaxPrice({ amount, currency: caller.currency }, input.maxPrice, 'The plan change');
        if (r.effective !== 'now') {
          if (r.effective === 'at_renewal') {
            const wrong = await misfits(tx, sub, r.plan);
            if (wrong.length > 0)
              throw new PlanDoesNotFit(`${r.plan.name} does not hold: ${wrong.join('; ')}`, {
                extensions: { misfits: wrong },
              });
          }
          const [row] = await tx
            .update(hostingSubscriptions)
            .set({ pendingPlanId: r.effective === 'at_renewal' ? r.plan.id : null, updatedAt: now })
            .where(eq(hostingSubscriptions.id, sub.id))
            .returning();
          const view = subscriptionView(row!);
          await emitEvent(tx, SubscriptionPlanChanged, { accountId: sub.accountId, objectId: sub.id, data: view });
          return {
            subscription: view,
            charged: { amount: 0, currency: caller.currency },
            effective: r.effective,
            proration,
          };
        }
        if (amount > 0)
          await charge(tx, {
            accountId: sub.accountId,
            money: { amount, currency: caller.currency },
            reason: `Hosting plan upgrade ${sub.planId} -> ${r.plan.id}, pro rata for the rest of the term`,
            reference: `hosting:${sub.id}`,
          });
        await backend.setPolicy(tx, [sub.panelId], panelPolicy(r.plan));
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
          proration,
        };
      });
    },

    // ---- customers (R-PLAN-5, R-PLAN-6) -----------------------------------------------------

    async createCustomer(accountId: string, id: string, input: NewCustomer) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const sub = await owned(tx, accountId, id, true);
        assertUsable(sub);
        // A scheduled downgrade must still hold the customers when it takes effect: both plans are checked.
        const plans = [(await findPlan(tx, sub.planId))!];
        if (sub.pendingPlanId) plans.push((await findPlan(tx, sub.pendingPlanId))!);
        const a = await allocations(tx, sub.id);
        for (const plan of plans) {
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
              const allocated = a.allocated[r];
              if (requested < 0 || allocated + requested > limit)
                throw new AllocationExceedsPlan(
                  requested < 0
                    ? `${r}: unlimited does not fit a plan of ${limit} that does not oversell`
                    : `${r}: ${allocated} allocated + ${requested} requested is over the plan's ${limit}`,
                  { extensions: { resource: r, plan_limit: limit, allocated, requested } },
                );
            }
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
      opts: {
        /** The request's audit row, written with the report. */
        audit?: AuditRow | null;
        /** The request's R-API-2 lookup, made by the report's statement. */
        guard?: DeferredGuard | null;
      } = {},
    ) {
      const now = deps.now();
      // A measurement from the future counts as now: it cannot hold back the reports that follow.
      const measuredAt = input.measuredAt > now ? now : input.measuredAt;
      const subjects = input.entries.map((e) => e.customerId ?? 'own');
      if (new Set(subjects).size !== subjects.length)
        invalid('/body/entries', 'duplicate_subject', 'One entry per customer (and one for your own) in a report');
      const r = await recordUsage({
        subscriptionId: id,
        accountId,
        measuredAt,
        audit: opts.audit ?? null,
        guard: opts.guard?.probe ?? null,
        entries: input.entries.map((e, i) => ({
          subject: subjects[i]!,
          diskBytes: e.diskBytes,
          trafficBytes: e.trafficBytes,
          mailboxes: e.mailboxes,
          largestMailboxBytes: e.largestMailboxBytes,
        })),
      });
      // R-API-2: a repeat of a remembered failure is refused before anything else (nothing was written).
      await opts.guard?.settle(r.guard);
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
      const crossed = reachedThresholds(plan, r.totals).map((h) => h.key);
      const moved =
        crossed.length !== r.crossed.length ||
        crossed.some((k) => !r.crossed.includes(k)) ||
        overuses(plan, { disk: r.totals.diskBytes, traffic: r.totals.trafficBytes }) !==
          r.suspendedFor.includes('overuse');
      // Also when this report changed nothing: an evaluation that failed after its report was kept is made now.
      if (moved) {
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

  /** The order a plan-change quote prices (`binding`: priceChange's term, plans and price versions). */
  function planChangeOrder(caller: Caller, sub: SubscriptionRow, binding: string) {
    return {
      kind: 'plan_change',
      accountId: caller.accountId,
      subscriptionId: sub.id,
      product: binding,
      months: sub.termMonths,
      currency: caller.currency,
    };
  }

  /**
   * What moving to `planId` means now: a plan with a higher monthly price than the one paid for this
   * term is an upgrade, charged (new − paid) monthly for the rest of the term; any other plan is a
   * downgrade at the renewal; the current plan cancels a scheduled downgrade. The quote binds the
   * term, both plans and both price versions.
   */
  async function priceChange(tx: Tx, sub: SubscriptionRow, planId: string, currency: string, now: Date) {
    const term = runningTerm(sub, now);
    if (term.ahead > 0 || term.index !== sub.termIndex)
      throw new AlreadyRenewed('The next term is paid already: change the plan once it has begun');
    if (planId === sub.planId && !sub.pendingPlanId) throw new SamePlan(`Already on ${sub.planId}`);
    const plan = planId === sub.planId ? (await findPlan(tx, planId))! : await planOnSale(tx, planId, '/body/plan_id');
    const next = await monthly(tx, 'plan', plan.id, currency);
    const paid =
      (await priceOfVersion(tx, 'plan', sub.planId, currency, sub.planPriceVersion)) ??
      (await monthly(tx, 'plan', sub.planId, currency));
    const effective: 'now' | 'at_renewal' | 'cancelled' =
      planId === sub.planId ? 'cancelled' : next.monthlyAmount > paid.monthlyAmount ? 'now' : 'at_renewal';
    // An upgrade is for the rest of a paid term: once the term has ended (expired, or not yet by the job)
    // there is none left, and it would change the plan for nothing. Renew first.
    if (effective === 'now' && lapsed(sub, now))
      throw new SubscriptionSuspendedError(
        `The term ended at ${term.end.toISOString()} (the subscription is ${sub.status}): renew it first, then upgrade`,
        { extensions: { suspended_for: sub.suspendedFor } },
      );
    const proration: Proration = prorate({
      monthlyPrice: effective === 'now' ? next.monthlyAmount - paid.monthlyAmount : 0,
      months: sub.termMonths,
      termStart: term.start,
      termEnd: term.end,
      at: now,
    });
    const binding = `${planId}@${term.index}:${sub.planId}:${sub.planPriceVersion}:${next.version}:${sub.pendingPlanId ?? ''}`;
    return { plan, effective, amount: proration.amount, proration, version: next.version, binding };
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

// Add-ons on a reseller subscription (R-ADD): quoted pro rata to the second for the rest of the
// term (proration.ts) with a signed quote the purchase charges exactly; a WHMCS license key issued,
// a dedicated address assigned from the pool, or customer accounts added; shown with the key or the
// address; removed at once and for good after a confirmation that says what will happen, the WHMCS
// key revoked and never refunded (R-ADD-4). They end with the term and renew with it (R-ADD-5,
// subscriptions.ts).
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import { and, eq, gt, sql } from 'drizzle-orm';
import { queryRows, type Db, type Tx } from '../../db/client.js';
import { hostingAddonProducts, hostingAddons, hostingIpPool, hostingSubscriptions } from '../../db/schema/index.js';
import { defineError, NotFound } from '../../errors.js';
import { Money as MoneySchema } from '../../schemas.js';
import { assertMaxPrice, charge, refund, type Money } from '../billing/api.js';
import { emitEvent } from '../events/api.js';
import type { HostingBackend } from './backend.js';
import { AddonPurchased, AddonRemoved } from './events.js';
import { prorate } from './proration.js';
import { addonInTerm, rollTermForward } from './rollover.js';
import { runningTerm } from './terms.js';
import { redeemQuote, signQuote, type Signer } from './quotes.js';
import { addonView, subscriptionView } from './schemas.js';
import {
  allocations,
  extraCustomerAccounts,
  findAddonProduct,
  findPlan,
  findSubscription,
  priceInForce,
  priceVersions,
  type AddonProductRow,
  type AddonRow,
  type PriceInForce,
  type SubscriptionRow,
} from './store.js';
import { NotSoldInCurrency, SubscriptionSuspendedError } from './subscriptions.js';

export const AddonNotFound = defineError('addon_product_not_found', 422, 'No such add-on on sale');
export const AddonAlreadyActive = defineError(
  'addon_already_active',
  409,
  'The subscription already has this add-on (one WHMCS license per package)',
);
export const IpPoolExhausted = defineError(
  'ip_pool_exhausted',
  409,
  'No dedicated address is free: try again later or ask support',
);
export const AddonStateConflict = defineError('addon_state_conflict', 409, 'The add-on is already removed or expired');
export const AddonInUse = defineError(
  'addon_in_use',
  409,
  'Removing this account block would leave more customers than the plan then holds: remove customers first',
);
export const RemovalConfirmationRequired = defineError(
  'removal_confirmation_required',
  422,
  'Removing an add-on is immediate and irreversible: send confirm=true',
  Type.Object({
    effects: Type.Array(Type.String(), { description: 'Exactly what the removal does' }),
    refund: Type.Union([MoneySchema, Type.Null()], { description: 'What would be refunded (never for WHMCS)' }),
    license_key_revoked: Type.Boolean(),
  }),
);

export interface AddonDeps {
  db: Db;
  backend: HostingBackend;
  quotes: Signer;
  quoteTtlS: number;
  now: () => Date;
  seal: (plaintext: string) => string;
  open: (sealed: string) => string;
  /** The account's billing currency (read outside a transaction: PGlite has one connection). */
  currencyOf: (accountId: string) => Promise<string>;
}

export interface Caller {
  accountId: string;
  currency: string;
}

/** A WHMCS-style license key: Owned-<20 hex>, as the vendor issues them. */
const newLicenseKey = () => `Owned-${randomBytes(10).toString('hex')}`;

export function createAddonService(deps: AddonDeps) {
  const { db } = deps;

  async function subscriptionFor(tx: Tx, accountId: string, id: string, lock = false): Promise<SubscriptionRow> {
    const s = await findSubscription(tx, accountId, id, { lock });
    if (!s) throw new NotFound('No such hosting subscription');
    // Locked for a change: the stored term is made the running one first.
    return lock ? rollTermForward(tx, deps.backend, s, deps.now()) : s;
  }

  async function productOnSale(tx: Tx, id: string): Promise<AddonProductRow> {
    const p = await findAddonProduct(tx, id);
    if (!p || !p.active)
      throw new AddonNotFound(`${id} is not an add-on on sale (GET /v1/hosting/addon-products)`, {
        errors: [{ pointer: '/body/product', code: 'addon_product_not_found', message: `${id} is not on sale` }],
      });
    return p;
  }

  /**
   * The charge for the rest of the running term, with its inputs (R-ADD-2), plus the whole next
   * term when it is paid ahead already (the add-on renews with the package, and that renewal is paid).
   */
  async function proration(
    tx: Tx,
    sub: SubscriptionRow,
    product: AddonProductRow,
    currency: string,
    at: Date,
    inForce?: PriceInForce,
  ) {
    const price = inForce ?? (await priceInForce(tx, 'addon', product.id, currency));
    if (!price) throw new NotSoldInCurrency(`${product.id} is not sold in ${currency}`);
    const term = runningTerm(sub, at);
    const p = prorate({
      monthlyPrice: price.monthlyAmount,
      months: sub.termMonths,
      termStart: term.start,
      termEnd: term.end,
      at,
    });
    const ahead = term.ahead * price.monthlyAmount * sub.termMonths;
    return { version: price.version, proration: p, ahead, amount: p.amount + ahead, term };
  }

  /** Add-ons are bought on a subscription that is active and within its term. */
  const assertOpen = (s: SubscriptionRow, at: Date) => {
    if (s.status !== 'active')
      throw new SubscriptionSuspendedError(`The subscription is ${s.status}: add-ons are bought on an active one`, {
        extensions: { suspended_for: s.suspendedFor },
      });
    if (runningTerm(s, at).end <= at)
      throw new SubscriptionSuspendedError('The term has ended: renew the subscription first', {
        extensions: { suspended_for: s.suspendedFor },
      });
  };
  // The quote names the term it prices (and whether the next one is paid): a renewal in between
  // makes it another order.
  /** The order an add-on quote prices: the product on this subscription's running term (and the one paid ahead). */
  const quotedOrder = (caller: Caller, productId: string, sub: SubscriptionRow, at: Date) => {
    const term = runningTerm(sub, at);
    return {
      kind: 'addon',
      accountId: caller.accountId,
      subscriptionId: sub.id,
      product: `${productId}@${term.index}+${term.ahead}`,
      months: sub.termMonths,
      currency: caller.currency,
    };
  };

  /**
   * What a redeemed quote was computed from: the charge at its second under the price version that
   * gives its amount (the newest such; none when no version does, which a valid quote cannot be).
   */
  async function quotedBasis(
    tx: Tx,
    sub: SubscriptionRow,
    product: AddonProductRow,
    currency: string,
    amount: number,
    quotedAt: Date,
  ) {
    for (const price of await priceVersions(tx, 'addon', product.id, currency)) {
      const r = await proration(tx, sub, product, currency, quotedAt, price);
      if (r.amount === amount) return r;
    }
    return null;
  }

  /** Add-ons as the API shows them (the key only when asked for), their subscription and products read once. */
  async function views(subscriptionId: string, rows: AddonRow[], withKey: boolean) {
    const sub = (await findSubscription(db, null, subscriptionId))!;
    // A term paid ahead may have begun since the last write: shown as it is running.
    const term = runningTerm(sub, deps.now());
    const rolled = term.index !== sub.termIndex;
    const kinds = new Map<string, string>();
    for (const id of new Set(rows.map((a) => a.productId))) kinds.set(id, (await findAddonProduct(db, id))!.kind);
    return rows.map((a) => {
      const kind = kinds.get(a.productId)!;
      const key =
        !withKey || kind !== 'license_key'
          ? undefined
          : a.status === 'active' && a.licenseKeySealed
            ? deps.open(a.licenseKeySealed)
            : null;
      return addonView(rolled ? addonInTerm(a, term) : a, kind, term.end, key);
    });
  }

  return {
    async quote(caller: Caller, subscriptionId: string, productId: string) {
      const now = deps.now();
      const sub = await subscriptionFor(db, caller.accountId, subscriptionId);
      assertOpen(sub, now);
      const product = await productOnSale(db, productId);
      const { proration: p, version, ahead, amount } = await proration(db, sub, product, caller.currency, now);
      const expiresAt = new Date(now.getTime() + deps.quoteTtlS * 1000);
      return {
        quote_id: signQuote(deps.quotes, {
          ...quotedOrder(caller, product.id, sub, now),
          amount,
          expiresAt,
          quotedAt: now,
        }),
        product: product.id,
        price: { amount, currency: caller.currency },
        next_term: { amount: ahead, currency: caller.currency },
        monthly_price: { amount: p.monthly_price, currency: caller.currency },
        price_version: version,
        formula: 'monthly_price × months × seconds_remaining ÷ term_seconds, rounded half up once to the minor unit',
        months: p.months,
        term_start: p.term_start,
        term_end: p.term_end,
        term_seconds: p.term_seconds,
        seconds_remaining: p.seconds_remaining,
        quoted_at: now.toISOString(),
        expires_at: expiresAt.toISOString(),
      };
    },

    async buy(caller: Caller, subscriptionId: string, input: { product: string; quoteId?: string; maxPrice?: Money }) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const sub = await subscriptionFor(tx, caller.accountId, subscriptionId, true);
        assertOpen(sub, now);
        const product = await productOnSale(tx, input.product);
        const {
          proration: p,
          version,
          ahead,
          amount: current,
        } = await proration(tx, sub, product, caller.currency, now);
        // R-ADD-2: the quoted amount exactly (its seconds were counted when it was given).
        const quote = input.quoteId
          ? redeemQuote(deps.quotes, input.quoteId, quotedOrder(caller, product.id, sub, now), now)
          : null;
        const amount = quote ? quote.amount : current;
        // The answer, the ledger and the add-on show the inputs the charge came from: the quote's
        // second and the price it was given at (a quote is honoured after a price change), else this one.
        const quoted = quote?.quotedAt
          ? await quotedBasis(tx, sub, product, caller.currency, quote.amount, quote.quotedAt)
          : null;
        const basis = quoted?.proration ?? p;
        // The next term's part of the charge as it was computed: at the quote's price, else today's.
        const aheadPart = Math.min(quoted?.ahead ?? ahead, amount);
        const total = { amount, currency: caller.currency };
        assertMaxPrice(total, input.maxPrice, 'The add-on');
        if (product.kind === 'license_key') {
          const [held] = await tx
            .select({ id: hostingAddons.id })
            .from(hostingAddons)
            .where(
              and(
                eq(hostingAddons.subscriptionId, sub.id),
                eq(hostingAddons.productId, product.id),
                eq(hostingAddons.status, 'active'),
              ),
            );
          if (held) throw new AddonAlreadyActive(`Add-on ${held.id} is this package's ${product.name}`);
        }
        const licenseKey = product.kind === 'license_key' ? newLicenseKey() : null;
        const [row] = await tx
          .insert(hostingAddons)
          .values({
            subscriptionId: sub.id,
            accountId: caller.accountId,
            productId: product.id,
            licenseKeySealed: licenseKey ? deps.seal(licenseKey) : null,
            priceVersion: quoted?.version ?? version,
            // The quote's amount (if any) split as it was computed: the rest of this term, then the next.
            chargedAmount: amount - aheadPart,
            coveredFrom: new Date(Math.ceil(now.getTime() / 1000) * 1000),
            aheadCharge: aheadPart,
            currency: caller.currency,
            boughtAt: now,
          })
          .returning();
        let addon: AddonRow = row!;
        if (product.kind === 'ip_address') {
          const [free] = await queryRows<{ address: string }>(
            tx,
            sql`SELECT address FROM hosting_ip_pool WHERE addon_id IS NULL ORDER BY address LIMIT 1 FOR UPDATE SKIP LOCKED`,
          );
          if (!free) throw new IpPoolExhausted();
          await tx
            .update(hostingIpPool)
            .set({ addonId: addon.id, assignedAt: now })
            .where(eq(hostingIpPool.address, free.address));
          const [assigned] = await tx
            .update(hostingAddons)
            .set({ ipAddress: free.address })
            .where(eq(hostingAddons.id, addon.id))
            .returning();
          addon = assigned!;
        }
        if (amount > 0)
          await charge(tx, {
            accountId: caller.accountId,
            money: total,
            reason: `Hosting add-on ${product.name}, pro rata for ${basis.seconds_remaining} of ${basis.term_seconds} seconds of the term`,
            reference: `hosting-addon:${addon.id}`,
          });
        const shown = addonView(addon, product.kind, sub.termEnd, licenseKey ?? undefined);
        const { license_key: _key, ...event } = shown;
        await emitEvent(tx, AddonPurchased, { accountId: caller.accountId, objectId: addon.id, data: event });
        return { addon: shown, charged: total, proration: basis };
      });
    },

    async list(accountId: string, subscriptionId: string, after: string | undefined, limit: number) {
      await subscriptionFor(db, accountId, subscriptionId);
      const rows = await db
        .select()
        .from(hostingAddons)
        .where(and(eq(hostingAddons.subscriptionId, subscriptionId), after ? gt(hostingAddons.id, after) : undefined))
        .orderBy(hostingAddons.id)
        .limit(limit + 1);
      return views(subscriptionId, rows, false);
    },

    async get(accountId: string, subscriptionId: string, addonId: string) {
      await subscriptionFor(db, accountId, subscriptionId);
      const [a] = await db
        .select()
        .from(hostingAddons)
        .where(and(eq(hostingAddons.subscriptionId, subscriptionId), eq(hostingAddons.id, addonId)));
      if (!a) throw new NotFound('No such add-on');
      return (await views(subscriptionId, [a], true))[0]!;
    },

    /**
     * R-ADD-6: a package sold while WHMCS was bundled (an operator's import of the old sales): the
     * subscription is flagged and holds a WHMCS add-on charged nothing, which its next renewal
     * charges unless the reseller removes it before.
     */
    async grantBundledWhmcs(subscriptionId: string) {
      const now = deps.now();
      const found = await findSubscription(db, null, subscriptionId);
      if (!found) throw new NotFound('No such hosting subscription');
      const currency = await deps.currencyOf(found.accountId);
      return db.transaction(async (tx) => {
        const sub = (await findSubscription(tx, null, subscriptionId, { lock: true }))!;
        const [held] = await tx
          .select({ id: hostingAddons.id })
          .from(hostingAddons)
          .innerJoin(hostingAddonProducts, eq(hostingAddonProducts.id, hostingAddons.productId))
          .where(
            and(
              eq(hostingAddons.subscriptionId, sub.id),
              eq(hostingAddons.status, 'active'),
              eq(hostingAddonProducts.kind, 'license_key'),
            ),
          );
        if (held) throw new AddonAlreadyActive(`Add-on ${held.id} is this package's WHMCS license`);
        const [product] = await tx
          .select()
          .from(hostingAddonProducts)
          .where(eq(hostingAddonProducts.kind, 'license_key'))
          .limit(1);
        if (!product) throw new NotFound('No WHMCS add-on in the catalogue');
        await tx.insert(hostingAddons).values({
          subscriptionId: sub.id,
          accountId: sub.accountId,
          productId: product.id,
          bundled: true,
          licenseKeySealed: deps.seal(newLicenseKey()),
          chargedAmount: 0,
          currency,
          boughtAt: sub.termStart,
        });
        const [row] = await tx
          .update(hostingSubscriptions)
          .set({ whmcsBundled: true, updatedAt: now })
          .where(eq(hostingSubscriptions.id, sub.id))
          .returning();
        return subscriptionView(row!);
      });
    },

    /** R-ADD-4: immediate and irreversible; unconfirmed, the answer says exactly what would happen. */
    async remove(caller: Caller, subscriptionId: string, addonId: string, confirm: boolean) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const sub = await subscriptionFor(tx, caller.accountId, subscriptionId, true);
        const [a] = await tx
          .select()
          .from(hostingAddons)
          .where(and(eq(hostingAddons.subscriptionId, sub.id), eq(hostingAddons.id, addonId)))
          .for('update');
        if (!a) throw new NotFound('No such add-on');
        if (a.status !== 'active') throw new AddonStateConflict(`The add-on is ${a.status}`);
        const product = (await findAddonProduct(tx, a.productId))!;
        // WHMCS is never refunded (R-ADD-4). An address or an account block is: what was charged for
        // the running term, for the share of the time it covered that is left (the purchase's
        // formula on what was paid, never more), and a term paid ahead in full.
        const term = runningTerm(sub, now);
        const rolled = term.index !== sub.termIndex;
        const paidNow = rolled ? a.aheadCharge : a.chargedAmount;
        const coveredFrom = rolled ? term.start : (a.coveredFrom ?? a.boughtAt);
        const share =
          paidNow > 0 && term.end > coveredFrom
            ? prorate({ monthlyPrice: paidNow, months: 1, termStart: coveredFrom, termEnd: term.end, at: now }).amount
            : 0;
        const refundable =
          product.kind === 'license_key' || a.bundled ? 0 : Math.min(paidNow, share) + (rolled ? 0 : a.aheadCharge);
        if (product.kind === 'account_block') {
          const plan = (await findPlan(tx, sub.planId))!;
          if (plan.customers >= 0) {
            const cap = plan.customers + (await extraCustomerAccounts(tx, sub.id)) - (product.accounts ?? 0);
            const { customers } = await allocations(tx, sub.id);
            if (customers > cap)
              throw new AddonInUse(`${customers} customers; without this block the plan holds ${cap}`);
          }
        }
        const effects = [
          `${product.name} (add-on ${a.id}) ends now, before its term end ${sub.termEnd.toISOString()}; it cannot be restored, only bought again`,
          ...(product.kind === 'license_key'
            ? ['The WHMCS license key is revoked at once: installations using it stop working']
            : product.kind === 'ip_address'
              ? [`The address ${a.ipAddress} is taken back into the pool at once`]
              : [`The plan's customer cap falls by ${product.accounts} accounts`]),
          refundable > 0
            ? `Refunded pro rata for the rest of the term: ${refundable} ${a.currency} (minor units)`
            : product.kind === 'license_key'
              ? `No refund: the WHMCS add-on is not refunded (charged ${paidNow + (rolled ? 0 : a.aheadCharge)} ${a.currency} minor units)`
              : 'No refund: nothing was charged for it this term',
        ];
        if (!confirm)
          throw new RemovalConfirmationRequired(`Send confirm=true to remove it. ${effects.join('. ')}.`, {
            extensions: {
              effects,
              refund: refundable > 0 ? { amount: refundable, currency: a.currency } : null,
              license_key_revoked: product.kind === 'license_key',
            },
          });
        const [row] = await tx
          .update(hostingAddons)
          .set({ status: 'removed', removedAt: now })
          .where(eq(hostingAddons.id, a.id))
          .returning();
        if (product.kind === 'ip_address')
          await tx
            .update(hostingIpPool)
            .set({ addonId: null, assignedAt: null })
            .where(eq(hostingIpPool.addonId, a.id));
        if (refundable > 0)
          await refund(tx, {
            accountId: caller.accountId,
            money: { amount: refundable, currency: a.currency },
            reason: `Hosting add-on ${product.name} removed: the rest of the term`,
            reference: `hosting-addon:${a.id}`,
          });
        const shown = addonView(row!, product.kind, sub.termEnd);
        await emitEvent(tx, AddonRemoved, { accountId: caller.accountId, objectId: a.id, data: shown });
        return {
          addon: addonView(row!, product.kind, sub.termEnd, product.kind === 'license_key' ? null : undefined),
          refunded: refundable > 0 ? { amount: refundable, currency: a.currency } : null,
          effects,
        };
      });
    },
  };
}

export type AddonService = ReturnType<typeof createAddonService>;

// Plesk licenses: quotes, orders (R-LIC-1 EULA, R-LIC-3 bundling), renewals, suspend / resume /
// terminate, rebinding within the per-period limit, and the address reports that start the
// multi-use ladder (R-LIC-2; the rest of the ladder runs as a job: multi-use.ts). Each change, its
// vendor call (the built-in vendor writes in the same transaction), its charge, its transition and
// its event commit together.
import { Type } from 'typebox';
import { sql } from 'drizzle-orm';
import { queryRows, type Db, type Tx } from '../../db/client.js';
import { eulaAcceptances, pleskLicenses } from '../../db/schema/index.js';
import { defineError, invalidField, NotFound } from '../../errors.js';
import { iso } from '../../schemas.js';
import type { AuditRow } from '../../plugins/audit.js';
import type { DeferredGuard } from '../../plugins/repeated-failure-guard.js';
import { AlreadyRenewed, charge, InsufficientFunds, QuoteExpired, type Money } from '../billing/api.js';
import { emitEvent, type EventType } from '../events/api.js';
import { normaliseAddress } from './addresses.js';
import {
  LicenseMultiUseDetected,
  LicenseMultiUseResolved,
  LicenseOrdered,
  LicenseRebound,
  LicenseRenewed,
  LicenseResumed,
  LicenseSuspended,
  LicenseTerminated,
} from './events.js';
import { loadLicenseView, loadLicenseViews, type LicenseView } from './license-view.js';
import { addMonths, DAY, periodAt } from './periods.js';
import { assertMaxPrice, honourQuote, openLicenseQuote, signLicenseQuote } from './pricing.js';
import type { LicenseRow } from './schemas.js';
import {
  addTransition,
  currentPolicies,
  findLicense,
  findServer,
  forgetServerFailures,
  licenseDetails,
  listProducts,
  reportRecorder,
  type ProductRow,
} from './store.js';
import { itemOf, type KeyAction, type LicenseVendor } from './vendor.js';

export const BundlingRequired = defineError(
  'bundling_required',
  422,
  'A Plesk license is sold only attached to a server of your own (R-LIC-3): name one of your servers and one of its public addresses',
);
export const EulaAcceptanceRequired = defineError(
  'eula_acceptance_required',
  422,
  "Accept the vendor's current EULA and terms of use: accept_eula: { version } (R-LIC-1)",
  Type.Object({ eula: Type.Object({ version: Type.String(), url: Type.String() }) }),
);
export const LicenseStateConflict = defineError(
  'license_state_conflict',
  409,
  'The license is not in a state that allows this',
);
export const RebindLimitReached = defineError(
  'rebind_limit_reached',
  409,
  'The license was rebound as often as a billing period allows',
);
export const NoticePeriodOver = defineError(
  'notice_period_over',
  409,
  'The notice period of this multi-use detection is over: it is no longer resolved by a statement',
);
export const ConfirmationRequired = defineError(
  'termination_confirmation_required',
  422,
  'Termination cannot be undone: send confirm: true',
);

export interface LicenseSettings {
  noticeDays: number;
  confirmDays: number;
  seenDays: number;
  terminateAfterPeriods: number;
  rebindsPerPeriod: number;
  quoteTtlS: number;
}

export interface LicenseDeps {
  db: Db;
  vendor: LicenseVendor;
  settings: LicenseSettings;
  seal: (plaintext: string) => string;
  open: (sealed: string) => string;
  quotes: { sign: (payload: string) => string; verify: (token: string) => string | null };
  now: () => Date;
  /** The account's billing currency (read outside a transaction: PGlite has one connection). */
  currencyOf: (accountId: string) => Promise<string>;
}

/** Who is ordering, for the EULA record (R-LIC-1). */
export interface Caller {
  accountId: string;
  currency: string;
  userId: string | null;
  apiKeyId: string | null;
  ip: string;
}

export interface OrderInput {
  serverId?: string;
  address?: string;
  product: string;
  extras: string[];
  periodMonths: 1 | 12;
  bindingMode: 'lookup' | 'lookup_and_restrict';
  acceptEula?: { version: string };
  quoteId?: string;
  maxPrice?: Money;
  autorenew?: boolean;
}

const invalid = invalidField;

/** The price of one term of `product` with `extras` in `currency`, or a 422 naming what is not sold. */
export function termPrice(
  products: ProductRow[],
  product: string,
  extras: string[],
  months: number,
  currency: string,
  /** A renewal (or a fee) of a license held: a product no longer sold keeps its price. */
  held = false,
) {
  let total = 0;
  for (const [i, id] of [product, ...extras].entries()) {
    const pointer = i === 0 ? '/body/product' : `/body/extras/${i - 1}`;
    const p = products.find((x) => x.id === id);
    if (!p || (!p.active && !held)) return invalid(pointer, 'unknown_product', `${id} is not in the catalogue`);
    if ((i === 0) !== (p.kind === 'edition'))
      invalid(pointer, 'wrong_product_kind', i === 0 ? `${id} is not an edition` : `${id} is not an extra`);
    const price = p.prices.find((x) => x.period_months === months && x.currency === currency);
    if (!price)
      return invalid(pointer, 'not_sold_in_currency', `${id} is not sold for ${months} month(s) in ${currency}`);
    total += price.amount;
  }
  return total;
}

/** One term of `input` in `currency`, read from the catalogue (held: a license held, see termPrice). */
export async function price(
  tx: Tx,
  input: { product: string; extras: string[]; periodMonths: number },
  currency: string,
  held = false,
): Promise<number> {
  const products = await listProducts(tx, [input.product, ...input.extras]);
  return termPrice(products, input.product, input.extras, input.periodMonths, currency, held);
}

export function createLicenseService(deps: LicenseDeps) {
  const { db, vendor, settings } = deps;
  const recordReport = reportRecorder(db);

  const view = (tx: Tx, license: LicenseRow | string, now: Date): Promise<LicenseView> =>
    loadLicenseView(tx, license, settings.rebindsPerPeriod, now);

  /** The license row after a change, its view, and the event about it, in `tx`. */
  async function emitted(tx: Tx, type: EventType, id: string, now: Date): Promise<LicenseView> {
    const row = (await findLicense(tx, id))!;
    const v = await view(tx, row, now);
    await emitEvent(tx, type, { accountId: row.accountId, objectId: id, data: v });
    return v;
  }

  async function locked(tx: Tx, accountId: string, id: string): Promise<LicenseRow> {
    const row = await findLicense(tx, id, { accountId, lock: true });
    if (!row) throw new NotFound('No such license');
    return row;
  }

  const assertNotTerminated = (l: LicenseRow) => {
    if (l.status === 'terminated') throw new LicenseStateConflict('The license is terminated: it refuses every action');
  };

  /** The license in state none moves to potential, with its transition and event (false: another report did it first). */
  async function detect(id: string, reportId: number, open: string[], now: Date): Promise<boolean> {
    return db.transaction(async (tx) => {
      const l = (await findLicense(tx, id, { lock: true }))!;
      if (l.multiUse !== 'none' || l.status === 'terminated') return false;
      const noticeUntil = new Date(now.getTime() + settings.noticeDays * DAY);
      await tx
        .update(pleskLicenses)
        .set({ multiUse: 'potential', multiUseSince: now, noticeUntil, confirmedAt: null, updatedAt: now })
        .where(sql`id = ${l.id}`);
      await addTransition(tx, {
        licenseId: l.id,
        at: now,
        kind: 'multi_use_detected',
        evidence: { report_ids: [reportId], bound_address: l.boundAddress, extra_addresses: open },
      });
      await emitted(tx, LicenseMultiUseDetected, l.id, now);
      return true;
    });
  }

  return {
    async quote(caller: Caller, input: { product: string; extras: string[]; periodMonths: 1 | 12 }) {
      const now = deps.now();
      const amount = await price(db, input, caller.currency);
      const expiresAt = new Date(now.getTime() + settings.quoteTtlS * 1000);
      const id = signLicenseQuote(deps.quotes.sign, {
        accountId: caller.accountId,
        product: input.product,
        extras: [...new Set(input.extras)].sort(),
        periodMonths: input.periodMonths,
        currency: caller.currency,
        amount,
        expiresAt,
      });
      return { quote_id: id, price: { amount, currency: caller.currency }, expires_at: expiresAt.toISOString() };
    },

    async order(caller: Caller, input: OrderInput) {
      const now = deps.now();
      const extras = [...new Set(input.extras)].sort();
      return db.transaction(async (tx) => {
        // R-LIC-3: attached to a server of the account's own, on one of its public addresses.
        const server = input.serverId ? await findServer(tx, caller.accountId, input.serverId) : undefined;
        if (!server) throw new BundlingRequired('Name server_id: one of your servers (POST /v1/servers)');
        const address = input.address === undefined ? undefined : normaliseAddress(input.address);
        if (!address || !server.addresses.includes(address))
          throw new BundlingRequired(
            `Name one of the public addresses of server ${server.name}: ${server.addresses.join(', ')}`,
          );
        // R-LIC-1: the vendor's current EULA (and terms), accepted by version.
        const policies = await currentPolicies(tx, 'plesk');
        const eula = policies.find((p) => p.kind === 'eula');
        const terms = policies.find((p) => p.kind === 'terms_of_use');
        if (eula && input.acceptEula?.version !== eula.version)
          throw new EulaAcceptanceRequired(
            input.acceptEula
              ? `The current EULA is version ${eula.version}, not ${input.acceptEula.version}`
              : `Send accept_eula: { version: "${eula.version}" } after reading ${eula.url}`,
            { extensions: { eula: { version: eula.version, url: eula.url } } },
          );
        let amount = await price(
          tx,
          { product: input.product, extras, periodMonths: input.periodMonths },
          caller.currency,
        );
        if (input.quoteId) {
          const q = openLicenseQuote(deps.quotes.verify, input.quoteId);
          if (!q || q.accountId !== caller.accountId || q.currency !== caller.currency)
            throw new QuoteExpired('No such quote for this account');
          if (q.product !== input.product || q.periodMonths !== input.periodMonths || q.extras.join() !== extras.join())
            throw new QuoteExpired('The quote is for another product, term or extras');
          if (q.expiresAt <= now) throw new QuoteExpired(`The quote expired at ${q.expiresAt.toISOString()}`);
          amount = honourQuote(amount, q.amount);
        }
        const total = { amount, currency: caller.currency };
        assertMaxPrice(total, input.maxPrice, 'The license');

        const key = await vendor.createKey(tx, {
          item: itemOf(input.product, input.periodMonths),
          address,
          restrict: input.bindingMode === 'lookup_and_restrict',
        });
        const [row] = await tx
          .insert(pleskLicenses)
          .values({
            accountId: caller.accountId,
            serverId: server.id,
            product: input.product,
            extras,
            periodMonths: input.periodMonths,
            keyNumber: key.keyNumber,
            activationCodeSealed: deps.seal(key.activationCode),
            boundAddress: address,
            bindingMode: input.bindingMode,
            autorenew: input.autorenew ?? true,
            periodAnchor: now,
            expiresAt: addMonths(now, input.periodMonths),
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        const license = row!;
        await tx.insert(eulaAcceptances).values({
          accountId: caller.accountId,
          userId: caller.userId,
          apiKeyId: caller.apiKeyId,
          licenseId: license.id,
          vendor: 'plesk',
          eulaVersion: eula?.version ?? 'none',
          termsVersion: terms?.version ?? null,
          ip: caller.ip,
          acceptedAt: now,
        });
        await charge(tx, {
          accountId: caller.accountId,
          money: total,
          reason: `Plesk license ${itemOf(input.product, input.periodMonths)} (${key.keyNumber}) on ${address}`,
          reference: `license:${license.id}`,
        });
        await addTransition(tx, {
          licenseId: license.id,
          at: now,
          kind: 'ordered',
          evidence: {
            item: itemOf(input.product, input.periodMonths),
            address,
            charged: total,
            eula_version: eula?.version ?? null,
            terms_version: terms?.version ?? null,
          },
        });
        return { license: await emitted(tx, LicenseOrdered, license.id, now), charged: total };
      });
    },

    async get(accountId: string, id: string) {
      const row = await findLicense(db, id, { accountId });
      if (!row) throw new NotFound('No such license');
      return view(db, row, deps.now());
    },

    async list(accountId: string, after: string | undefined, limit: number) {
      const rows = await db
        .select()
        .from(pleskLicenses)
        .where(sql`account_id = ${accountId}::uuid ${after ? sql`AND id > ${after}::uuid` : sql``}`)
        .orderBy(sql`id`)
        .limit(limit + 1);
      return loadLicenseViews(db, rows, settings.rebindsPerPeriod, deps.now());
    },

    async activationCode(accountId: string, id: string) {
      const row = await findLicense(db, id, { accountId });
      if (!row) throw new NotFound('No such license');
      return { key_number: row.keyNumber, activation_code: deps.open(row.activationCodeSealed) };
    },

    async setAutorenew(accountId: string, id: string, autorenew: boolean) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const l = await locked(tx, accountId, id);
        assertNotTerminated(l);
        await tx
          .update(pleskLicenses)
          .set({ autorenew, updatedAt: now })
          .where(sql`id = ${l.id}`);
        return view(tx, { ...l, autorenew }, now);
      });
    },

    /** suspend / resume / terminate (the last needs confirm: it cannot be undone). */
    async act(accountId: string, id: string, action: KeyAction, opts: { confirm?: boolean } = {}) {
      const now = deps.now();
      if (action === 'terminate' && opts.confirm !== true)
        throw new ConfirmationRequired('Terminating a license cannot be undone: send confirm: true');
      return db.transaction(async (tx) => {
        const l = await locked(tx, accountId, id);
        assertNotTerminated(l);
        const from = l.status;
        if (action === 'suspend' && from !== 'active') throw new LicenseStateConflict(`The license is ${from}`);
        if (action === 'resume' && from !== 'suspended') throw new LicenseStateConflict(`The license is ${from}`);
        // A license whose paid term is over (suspended unpaid at autorenewal, or expired while
        // suspended) runs again only once renewed: resuming is not a way around the charge.
        if (action === 'resume' && l.expiresAt <= now)
          throw new LicenseStateConflict(
            `The license's paid term ended at ${l.expiresAt.toISOString()}: renew it (POST /v1/licenses/plesk/${l.id}/renew), then resume it`,
          );
        await vendor.modify(tx, l.keyNumber, action);
        await terminateOrSwitch(tx, l, action, now, 'by the reseller');
        const type = action === 'suspend' ? LicenseSuspended : action === 'resume' ? LicenseResumed : LicenseTerminated;
        return emitted(tx, type, l.id, now);
      });
    },

    /** Binds the license to another public address of its server, within the per-period limit. */
    async rebind(accountId: string, id: string, rawAddress: string) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const l = await locked(tx, accountId, id);
        assertNotTerminated(l);
        const address =
          normaliseAddress(rawAddress) ?? invalid('/body/address', 'invalid_address', 'Not an IP address');
        const server = (await findServer(tx, accountId, l.serverId))!;
        if (!server.addresses.includes(address))
          throw new BundlingRequired(`${address} is not a public address of server ${server.name}`);
        if (address === l.boundAddress) throw new LicenseStateConflict(`The license is bound to ${address} already`);
        const d = await licenseDetails(tx, l, now);
        if (d.rebindsThisPeriod >= settings.rebindsPerPeriod)
          throw new RebindLimitReached(
            `${settings.rebindsPerPeriod} rebinding(s) per billing period; the next period starts ${periodAt(l.periodAnchor, l.periodMonths, now).end.toISOString()}`,
          );
        await vendor.bind(tx, l.keyNumber, address);
        await tx
          .update(pleskLicenses)
          .set({ boundAddress: address, updatedAt: now })
          .where(sql`id = ${l.id}`);
        await addTransition(tx, {
          licenseId: l.id,
          at: now,
          kind: 'rebound',
          evidence: { from: l.boundAddress, to: address },
        });
        // A rebinding resolves a potential multi-use (R-LIC-2): the reseller chose the address.
        if (l.multiUse === 'potential') await resolvePotential(tx, l, now, 'rebound');
        return emitted(tx, LicenseRebound, l.id, now);
      });
    },

    async renew(accountId: string, currency: string, id: string, maxPrice?: Money) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const l = await locked(tx, accountId, id);
        assertNotTerminated(l);
        // One term ahead at most: the license runs past the term it is in only if it was renewed already.
        const term = periodAt(l.periodAnchor, l.periodMonths, now);
        if (l.expiresAt > term.end)
          throw new AlreadyRenewed(
            `The license is paid until ${l.expiresAt.toISOString()}: renew again once the term from ${term.end.toISOString()} has begun`,
          );
        const total = { amount: await price(tx, l, currency, true), currency };
        assertMaxPrice(total, maxPrice, 'The renewal');
        await vendor.renew(tx, l.keyNumber);
        const expiresAt = renewedUntil(l, now);
        await tx
          .update(pleskLicenses)
          .set({ expiresAt, updatedAt: now })
          .where(sql`id = ${l.id}`);
        await charge(tx, {
          accountId,
          money: total,
          reason: `Renewal of Plesk license ${l.keyNumber} to ${expiresAt.toISOString().slice(0, 10)}`,
          reference: `license:${l.id}`,
        });
        await addTransition(tx, {
          licenseId: l.id,
          at: now,
          kind: 'renewed',
          evidence: { expires_at: expiresAt.toISOString(), charged: total },
        });
        return { license: await emitted(tx, LicenseRenewed, l.id, now), charged: total };
      });
    },

    /**
     * R-LIC-2: the addresses a license was seen running on. The report is kept as evidence (one
     * statement: the check-in is the hot path); an address besides the bound one makes the license
     * potential multi-use at once, with its event.
     */
    async report(
      accountId: string | null,
      id: string,
      rawAddresses: string[],
      source: 'check_in' | 'operator',
      opts: {
        seenAt?: Date | undefined;
        /** The request's audit row, written with the report. */
        audit?: AuditRow | null;
        /** The request's R-API-2 lookup, made by the report's statement. */
        guard?: DeferredGuard | null;
      } = {},
    ) {
      const now = deps.now();
      const addresses = [
        ...new Set(
          rawAddresses.map(
            (a, i) =>
              normaliseAddress(a) ?? invalid(`/body/addresses/${i}`, 'invalid_address', `${a} is not an IP address`),
          ),
        ),
      ];
      const at = opts.seenAt && opts.seenAt < now ? opts.seenAt : now;
      const { guard, outcome: r } = await recordReport({
        id,
        accountId,
        addresses,
        source,
        at,
        audit: opts.audit,
        guard: opts.guard?.probe,
      });
      // R-API-2: a repeat of a remembered failure is refused before anything else (nothing was written).
      await opts.guard?.settle(guard);
      if (!r) throw new NotFound('No such license');
      if (r.report_id === null) throw new LicenseStateConflict('The license is terminated: it refuses every action');
      const open = r.open ?? [];
      let detected = false;
      if (r.multi_use === 'none' && open.length > 0) detected = await detect(r.license_id, r.report_id, open, now);
      const state = detected ? (await findLicense(db, r.license_id))! : null;
      return {
        report_id: r.report_id,
        license_id: r.license_id,
        status: r.status as 'active' | 'suspended',
        multi_use: {
          state: (state?.multiUse ?? r.multi_use) as 'none' | 'potential' | 'confirmed',
          since: state ? iso(state.multiUseSince) : r.multi_use_since,
          notice_until: state ? iso(state.noticeUntil) : r.notice_until,
        },
        extra_addresses: open,
        detected,
      };
    },

    /**
     * The renewals job: each license past its expiry moves one term on. With autorenew, an active
     * license is renewed and charged (suspended when the balance does not cover it: renew it, then
     * resume it); without, it is terminated. A suspended license waits for its reseller.
     */
    async runRenewals(now: Date): Promise<number> {
      const due = await queryRows<{ id: string; account_id: string }>(
        db,
        sql`SELECT id, account_id FROM plesk_licenses
            WHERE status = 'active' AND expires_at <= ${now.toISOString()}::timestamptz ORDER BY expires_at`,
      );
      let moved = 0;
      const failed: string[] = [];
      for (const d of due) {
        const currency = await deps.currencyOf(d.account_id);
        // One license that cannot be renewed (no price in its currency any more) does not stop the others.
        moved += await db
          .transaction(async (tx) => {
            const [l] = await tx
              .select()
              .from(pleskLicenses)
              .where(sql`id = ${d.id}::uuid AND status = 'active' AND expires_at <= ${now.toISOString()}::timestamptz`)
              .for('update', { skipLocked: true });
            if (!l) return 0;
            if (!l.autorenew) {
              await vendor.modify(tx, l.keyNumber, 'terminate');
              await terminateOrSwitch(tx, l, 'terminate', now, 'expired without autorenewal');
              await emitted(tx, LicenseTerminated, l.id, now);
              return 1;
            }
            const total = { amount: await price(tx, l, currency, true), currency };
            const expiresAt = renewedUntil(l, now);
            try {
              await tx.transaction((sp) =>
                charge(sp, {
                  accountId: l.accountId,
                  money: total,
                  reason: `Autorenewal of Plesk license ${l.keyNumber} to ${expiresAt.toISOString().slice(0, 10)}`,
                  reference: `license:${l.id}`,
                }),
              );
            } catch (err) {
              if (!(err instanceof InsufficientFunds)) throw err;
              await vendor.modify(tx, l.keyNumber, 'suspend');
              await terminateOrSwitch(tx, l, 'suspend', now, 'unpaid at autorenewal: renew it, then resume it');
              await emitted(tx, LicenseSuspended, l.id, now);
              return 1;
            }
            await vendor.renew(tx, l.keyNumber);
            await tx
              .update(pleskLicenses)
              .set({ expiresAt, updatedAt: now })
              .where(sql`id = ${l.id}`);
            await addTransition(tx, {
              licenseId: l.id,
              at: now,
              kind: 'renewed',
              note: 'autorenewal',
              evidence: { expires_at: expiresAt.toISOString(), charged: total },
            });
            await emitted(tx, LicenseRenewed, l.id, now);
            return 1;
          })
          .catch((err: unknown) => {
            failed.push(`${d.id}: ${err instanceof Error ? err.message : String(err)}`);
            return 0;
          });
      }
      // The job's retries and dead letter see what failed; the others were renewed.
      if (failed.length) throw new Error(`license renewals failed for ${failed.length}: ${failed.join('; ')}`);
      return moved;
    },

    /** R-LIC-2: the reseller states that the other server(s) stopped, within the notice period. */
    async resolve(accountId: string, id: string) {
      const now = deps.now();
      return db.transaction(async (tx) => {
        const l = await locked(tx, accountId, id);
        assertNotTerminated(l);
        if (l.multiUse !== 'potential')
          throw new LicenseStateConflict(`The license's multi-use state is ${l.multiUse}`);
        if (l.noticeUntil && now > l.noticeUntil)
          throw new NoticePeriodOver(`The notice period ended at ${l.noticeUntil.toISOString()}`);
        await resolvePotential(tx, l, now, 'stopped');
        return emitted(tx, LicenseMultiUseResolved, l.id, now);
      });
    },
  };
}

/**
 * The end of the term a renewal at `now` pays for. Terms are the license's billing periods, each
 * boundary counted from the anchor (periods.ts), never from the previous expiry: 31 January, 28
 * February, 31 March. A license in service (active) gets the period that starts at its expiry: it
 * ran up to then, so the terms follow one another (the job catches up one term per run). A
 * suspended license whose paid term is over was not in service since: the periods it lapsed are not
 * charged, and the renewal pays for the period that holds `now`, so it can be resumed at once and
 * its term stays the billing period that multi-use fees and rebinds are counted in.
 */
export function renewedUntil(l: LicenseRow, now: Date): Date {
  const from = l.status !== 'active' && l.expiresAt <= now ? now : l.expiresAt;
  return periodAt(l.periodAnchor, l.periodMonths, from).end;
}

/** The license's status after suspend / resume / terminate, with its transition. */
export async function terminateOrSwitch(tx: Tx, l: LicenseRow, action: KeyAction, now: Date, note: string) {
  const status = action === 'suspend' ? 'suspended' : action === 'resume' ? 'active' : 'terminated';
  await tx
    .update(pleskLicenses)
    .set({
      status,
      updatedAt: now,
      ...(action === 'suspend' ? { suspendedAt: now } : {}),
      ...(action === 'resume' ? { suspendedAt: null } : {}),
      ...(action === 'terminate' ? { terminatedAt: now, terminatedReason: note, autorenew: false } : {}),
    })
    .where(sql`id = ${l.id}`);
  await addTransition(tx, { licenseId: l.id, at: now, kind: status === 'active' ? 'resumed' : status, note });
  if (status === 'terminated') await forgetServerFailures(tx, l.accountId, l.serverId);
}

/** Closes a potential multi-use: its open extra addresses resolved, the state back to none. */
export async function resolvePotential(
  tx: Tx,
  l: LicenseRow,
  now: Date,
  resolution: 'stopped' | 'rebound' | 'cleared',
  note?: string,
) {
  const addresses = await queryRows<{ address: string }>(
    tx,
    sql`UPDATE license_addresses SET resolved_at = ${now.toISOString()}::timestamptz, resolution = ${resolution}
        WHERE license_id = ${l.id}::uuid AND resolved_at IS NULL RETURNING address`,
  );
  await tx
    .update(pleskLicenses)
    .set({ multiUse: 'none', multiUseSince: null, noticeUntil: null, confirmedAt: null, updatedAt: now })
    .where(sql`id = ${l.id}`);
  await addTransition(tx, {
    licenseId: l.id,
    at: now,
    kind: resolution === 'cleared' ? 'multi_use_cleared' : 'multi_use_resolved',
    note: note ?? null,
    evidence: { resolution, addresses: addresses.map((a) => a.address).sort(), previous_state: l.multiUse },
  });
}

export type LicenseService = ReturnType<typeof createLicenseService>;

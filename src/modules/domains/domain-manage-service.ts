// Managing a registered domain: renew, restore from redemption, lock and unlock, auth code,
// name servers, contacts, autorenew, and delete. Every change that costs money charges the ledger
// in the same transaction as the registry change, with the domain row locked (FOR UPDATE), so two
// concurrent renewals of one domain queue and each extends from the expiry the other left.
import { and, eq, notInArray } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { domains } from '../../db/schema/index.js';
import { defineError, NotFound, ValidationFailed, type FieldErrorBody } from '../../errors.js';
import { Money as MoneySchema } from '../../schemas.js';
import { randomToken } from '../../lib/tokens.js';
import { charge, chargedSince, refund, type Money, type Tx } from '../billing/api.js';
import { emitEvent } from '../events/api.js';
import { domainView, type DomainRow } from './domain-schemas.js';
import { DomainDeleted, DomainRenewed, DomainRestored } from './events.js';
import { checkContacts, checkNameservers, type ContactRole } from './domain-validation.js';
import { afterGrace, lifecycleDates } from './lifecycle-dates.js';
import { addYears, type RegistryBackend } from './registry.js';
import { assertMaxPrice, labelOf, operationPrice } from './pricing.js';
import type { TldCatalogue, TldEntry } from './tld-service.js';
import { bindDeps } from '../../lib/bind-deps.js';
import { forgetEveryAccountsFailuresNaming } from '../../plugins/repeated-failure-guard.js';
import { Type } from 'typebox';

export const DomainLocked = defineError('domain_locked', 409, 'The domain is locked; unlock it first');
export const DomainStatusConflict = defineError(
  'domain_status_conflict',
  409,
  'The domain is not in a state that allows this',
  Type.Object({ domain_status: Type.Optional(Type.String({ description: 'The domain’s status now' })) }),
);
export const ExpiryMismatch = defineError(
  'expiry_mismatch',
  409,
  'current_expires_at is not the domain’s expiry (renewed meanwhile?)',
  Type.Object({ expires_at: Type.String({ format: 'date-time', description: 'The domain’s expiry now' }) }),
);
export const ConfirmationRequired = defineError(
  'confirmation_required',
  422,
  'This is irreversible: send confirm: true',
  Type.Object({
    effect: Type.Union([Type.Literal('released'), Type.Literal('redemption')], {
      description: 'What the deletion would do',
    }),
    refund: Type.Union([MoneySchema, Type.Null()], { description: 'Refunded within the add grace period' }),
    redemption_ends_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  }),
);

export interface ManageDeps {
  db: Db;
  catalogue: TldCatalogue;
  registry: RegistryBackend;
  seal(plaintext: string): string;
  open(sealed: string): string;
}

export interface Caller {
  id: string;
  currency: string;
}

/** Managing registered domains, for the routes: the functions below with their deps bound. */
export function createDomainManageService(deps: ManageDeps) {
  return bindDeps(deps, {
    updateDomain,
    renewDomain,
    restoreDomain,
    setLock,
    readAuthCode,
    resetAuthCode,
    deleteDomain,
  });
}
export type DomainManageService = ReturnType<typeof createDomainManageService>;

/** Statuses in which a domain is still the reseller's to manage (not redemption, not gone). */
const MANAGEABLE = new Set(['active', 'grace']);
const GONE = ['released', 'transferred_out'];

export async function findOwnDomain(
  tx: Tx,
  accountId: string,
  name: string,
  opts: { forUpdate?: boolean } = {},
): Promise<DomainRow> {
  const q = tx
    .select()
    .from(domains)
    .where(and(eq(domains.accountId, accountId), eq(domains.name, name), notInArray(domains.status, GONE)));
  const [row] = opts.forUpdate ? await q.for('update') : await q;
  if (!row) throw new NotFound(`No domain ${name} in your account`);
  return row;
}

function requireStatus(d: DomainRow, allowed: Set<string>, what: string): void {
  if (!allowed.has(d.status)) {
    throw new DomainStatusConflict(`${d.name} is ${d.status}; ${what} needs it ${[...allowed].join(' or ')}`, {
      extensions: { domain_status: d.status },
    });
  }
}

function tldEntry(deps: ManageDeps, d: DomainRow, currency: string): TldEntry {
  const entry = deps.catalogue.entry(d.tld, currency);
  if (!entry) throw new DomainStatusConflict(`.${d.tld} is no longer in the catalogue`);
  return entry;
}

/** Renew for `years`, from the current expiry, within the TLD's maximum registration period. */
export async function renewDomain(
  deps: ManageDeps,
  caller: Caller,
  name: string,
  input: { years?: number; currentExpiresAt?: Date; maxPrice?: Money },
  now = new Date(),
): Promise<{ domain: DomainRow; charged: Money }> {
  return deps.db.transaction(async (tx) => {
    const d = await findOwnDomain(tx, caller.id, name, { forUpdate: true });
    requireStatus(d, MANAGEABLE, 'a renewal');
    if (input.currentExpiresAt && input.currentExpiresAt.getTime() !== d.expiresAt.getTime()) {
      throw new ExpiryMismatch(
        `${name} expires at ${d.expiresAt.toISOString()}, not ${input.currentExpiresAt.toISOString()}`,
        { extensions: { expires_at: d.expiresAt.toISOString() } },
      );
    }
    const entry = tldEntry(deps, d, caller.currency);
    const { rules } = entry;
    const years = input.years ?? rules.minPeriodYears;
    const newExpiry = addYears(d.expiresAt, years);
    const limit = addYears(now, rules.maxPeriodYears);
    if (years < rules.minPeriodYears || years > rules.maxPeriodYears || newExpiry > limit || newExpiry <= now) {
      throw new ValidationFailed(
        `.${d.tld} renews for ${rules.minPeriodYears}-${rules.maxPeriodYears} years, up to ${rules.maxPeriodYears} years ahead`,
        {
          errors: [
            {
              pointer: '/body/period_years',
              code: 'period_not_allowed',
              message: `renewing by ${years} year(s) would expire at ${newExpiry.toISOString()}; the latest allowed is ${limit.toISOString()}`,
            },
          ],
        },
      );
    }
    const total = {
      amount: operationPrice(entry, labelOf(d.name), 'renew', caller.currency) * years,
      currency: caller.currency,
    };
    assertMaxPrice(total, input.maxPrice);
    const renewed = await deps.registry.renew(tx, {
      name: d.name,
      accountId: caller.id,
      years,
      currentExpiresAt: d.expiresAt,
    });
    await charge(tx, {
      accountId: caller.id,
      money: total,
      reason: `Renewal of ${d.name} for ${years} year(s)`,
      reference: `domain:${d.name}`,
    });
    const [row] = await tx
      .update(domains)
      .set({
        status: 'active',
        expiresAt: renewed.expiresAt,
        ...lifecycleDates(renewed.expiresAt, rules),
        autorenewFailedAt: null,
        updatedAt: now,
      })
      .where(eq(domains.id, d.id))
      .returning();
    await emitEvent(tx, DomainRenewed, { accountId: caller.id, objectId: d.name, data: domainView(row!) });
    return { domain: row!, charged: total };
  });
}

/** Restore from redemption: the restore fee, plus the years of renewal that bring the expiry past now. */
export async function restoreDomain(
  deps: ManageDeps,
  caller: Caller,
  name: string,
  input: { maxPrice?: Money },
  now = new Date(),
): Promise<{ domain: DomainRow; charged: Money }> {
  return deps.db.transaction(async (tx) => {
    const d = await findOwnDomain(tx, caller.id, name, { forUpdate: true });
    requireStatus(d, new Set(['redemption']), 'a restore');
    const entry = tldEntry(deps, d, caller.currency);
    const fee = operationPrice(entry, labelOf(d.name), 'restore', caller.currency);
    let years = 0;
    while (addYears(d.expiresAt, years) <= now) years++;
    const renewal = years ? operationPrice(entry, labelOf(d.name), 'renew', caller.currency) * years : 0;
    const total = { amount: fee + renewal, currency: caller.currency };
    assertMaxPrice(total, input.maxPrice);
    await deps.registry.restore(tx, { name: d.name, accountId: caller.id });
    let expiresAt = d.expiresAt;
    if (years)
      expiresAt = (
        await deps.registry.renew(tx, { name: d.name, accountId: caller.id, years, currentExpiresAt: d.expiresAt })
      ).expiresAt;
    await charge(tx, {
      accountId: caller.id,
      money: { amount: fee, currency: caller.currency },
      reason: `Restore of ${d.name} from redemption`,
      reference: `domain:${d.name}`,
    });
    if (renewal) {
      await charge(tx, {
        accountId: caller.id,
        money: { amount: renewal, currency: caller.currency },
        reason: `Renewal of ${d.name} for ${years} year(s) on restore`,
        reference: `domain:${d.name}`,
      });
    }
    const [row] = await tx
      .update(domains)
      .set({
        status: 'active',
        expiresAt,
        ...lifecycleDates(expiresAt, entry.rules),
        autorenewFailedAt: null,
        updatedAt: now,
      })
      .where(eq(domains.id, d.id))
      .returning();
    await emitEvent(tx, DomainRestored, { accountId: caller.id, objectId: d.name, data: domainView(row!) });
    return { domain: row!, charged: total };
  });
}

export interface DomainPatch {
  autorenew?: boolean;
  nameservers?: string[];
  contacts?: Partial<Record<ContactRole, string | null>>;
}

/** Name servers, contacts (the TLD's rules apply to the result) and autorenew. */
export async function updateDomain(
  deps: ManageDeps,
  caller: Caller,
  name: string,
  patch: DomainPatch,
  now = new Date(),
): Promise<{ domain: DomainRow; owner: Awaited<ReturnType<typeof checkContacts>> }> {
  return deps.db.transaction(async (tx) => {
    const d = await findOwnDomain(tx, caller.id, name, { forUpdate: true });
    requireStatus(d, MANAGEABLE, 'an update');
    const problems: FieldErrorBody[] = [];
    const set: Partial<typeof domains.$inferInsert> = { updatedAt: now };
    if (patch.autorenew !== undefined) set.autorenew = patch.autorenew;
    if (patch.nameservers) set.nameservers = checkNameservers(patch.nameservers, '/body/nameservers', problems);
    let owner: Awaited<ReturnType<typeof checkContacts>>;
    if (patch.contacts) {
      if (patch.contacts.owner === null)
        problems.push({ pointer: '/body/contacts/owner', code: 'required', message: 'a domain always has an owner' });
      const merged = {
        owner: patch.contacts.owner ?? d.ownerHandle,
        admin: patch.contacts.admin === undefined ? d.adminHandle : patch.contacts.admin,
        tech: patch.contacts.tech === undefined ? d.techHandle : patch.contacts.tech,
        billing: patch.contacts.billing === undefined ? d.billingHandle : patch.contacts.billing,
      };
      owner = await checkContacts(
        tx,
        caller.id,
        tldEntry(deps, d, caller.currency).rules,
        merged,
        '/body/contacts',
        problems,
      );
      Object.assign(set, {
        ownerHandle: merged.owner,
        adminHandle: merged.admin,
        techHandle: merged.tech,
        billingHandle: merged.billing,
      });
    }
    if (problems.length)
      throw new ValidationFailed(`${problems.length} problem(s) with the update`, { errors: problems });
    if (set.nameservers)
      await deps.registry.update(tx, { name: d.name, accountId: caller.id, nameservers: set.nameservers });
    const [row] = await tx.update(domains).set(set).where(eq(domains.id, d.id)).returning();
    return { domain: row!, owner };
  });
}

/** The transfer lock (clientTransferProhibited), at the registry and on the domain. */
export async function setLock(
  deps: ManageDeps,
  caller: Caller,
  name: string,
  locked: boolean,
  now = new Date(),
): Promise<DomainRow> {
  return deps.db.transaction(async (tx) => {
    const d = await findOwnDomain(tx, caller.id, name, { forUpdate: true });
    requireStatus(d, MANAGEABLE, locked ? 'locking' : 'unlocking');
    await deps.registry.update(tx, { name: d.name, accountId: caller.id, transferProhibited: locked });
    const [row] = await tx.update(domains).set({ locked, updatedAt: now }).where(eq(domains.id, d.id)).returning();
    // R-API-2: a transfer another reseller asked for while the lock was on depended on it.
    if (d.locked && !locked) await forgetEveryAccountsFailuresNaming(tx, 'domains', d.name, ['requestDomainTransfer']);
    return row!;
  });
}

export async function readAuthCode(deps: ManageDeps, caller: Caller, name: string): Promise<string> {
  const d = await findOwnDomain(deps.db, caller.id, name);
  requireStatus(d, MANAGEABLE, 'reading the auth code');
  return deps.open(d.authCodeSealed);
}

/** A fresh auth code, at the registry and sealed on the domain; the old one stops working. */
export async function resetAuthCode(deps: ManageDeps, caller: Caller, name: string, now = new Date()): Promise<string> {
  const code = randomToken(12);
  await deps.db.transaction(async (tx) => {
    const d = await findOwnDomain(tx, caller.id, name, { forUpdate: true });
    requireStatus(d, MANAGEABLE, 'an auth code reset');
    await deps.registry.update(tx, { name: d.name, accountId: caller.id, authCode: code });
    await tx
      .update(domains)
      .set({ authCodeSealed: deps.seal(code), updatedAt: now })
      .where(eq(domains.id, d.id));
  });
  return code;
}

/**
 * Delete. Within the TLD's add grace period the registration is refunded and the name released at
 * once; later the domain enters redemption (restorable for the restore fee) and is released when
 * pending delete ends. A locked domain is refused: unlocking first is the deliberate second step.
 */
export async function deleteDomain(
  deps: ManageDeps,
  caller: Caller,
  name: string,
  confirm: boolean,
  now = new Date(),
): Promise<{ domain: DomainRow; refunded: Money | null }> {
  return deps.db.transaction(async (tx) => {
    const d = await findOwnDomain(tx, caller.id, name, { forUpdate: true });
    requireStatus(d, MANAGEABLE, 'a deletion');
    const { rules } = tldEntry(deps, d, caller.currency);
    // Add grace covers a registration made by this record (a transferred-in domain was not).
    const registeredHere = d.registeredAt.getTime() === d.createdAt.getTime();
    const inAddGrace =
      registeredHere &&
      d.status === 'active' &&
      now.getTime() < d.registeredAt.getTime() + rules.addGraceDays * 86_400_000;
    const charge = inAddGrace ? await registrationCharge(tx, caller.id, d) : undefined;
    const redemption = afterGrace(now, rules);
    if (!confirm) {
      throw new ConfirmationRequired(
        inAddGrace
          ? `Deleting ${d.name} within the add grace period releases it at once${charge ? ` and refunds ${charge.amount} ${charge.currency}` : ''}`
          : `Deleting ${d.name} puts it into redemption until ${redemption.redemptionEndsAt.toISOString()} (restorable for the restore fee); it is released at ${redemption.purgeAt.toISOString()}`,
        {
          extensions: {
            effect: inAddGrace ? 'released' : 'redemption',
            refund: charge ?? null,
            redemption_ends_at: inAddGrace ? null : redemption.redemptionEndsAt.toISOString(),
          },
        },
      );
    }
    if (d.locked) throw new DomainLocked(`${d.name} is locked; POST /v1/domains/${d.name}/unlock first`);
    await deps.registry.delete(tx, { name: d.name, accountId: caller.id, purge: inAddGrace });
    if (charge)
      await refund(tx, {
        accountId: caller.id,
        money: charge,
        reason: `Deletion of ${d.name} within the add grace period`,
        reference: `domain:${d.name}`,
      });
    const set = inAddGrace
      ? { status: 'released', purgeAt: now, updatedAt: now }
      : { status: 'redemption', ...redemption, updatedAt: now };
    const [row] = await tx.update(domains).set(set).where(eq(domains.id, d.id)).returning();
    await emitEvent(tx, DomainDeleted, { accountId: caller.id, objectId: d.name, data: domainView(row!) });
    return { domain: row!, refunded: charge ?? null };
  });
}

/** What this domain was charged since it was registered (the registration, and any renewal since). */
function registrationCharge(tx: Tx, accountId: string, d: DomainRow): Promise<Money | undefined> {
  return chargedSince(tx, { accountId, reference: `domain:${d.name}`, since: d.createdAt });
}

// Transfers in (R-DOM-3). The gaining reseller asks with the auth code; the transfer then waits for
// the owner's approval, given with a token e-mailed to the domain's owner of record (never shown to
// the gaining reseller: transfer-approval-mail.ts), and expires after the TLD's (or the configured) time. pending_approval -> approved -> completed, or rejected, cancelled,
// expired. The transfer is charged on completion, in the transaction that moves the name.
import { timingSafeEqual } from 'node:crypto';
import { and, asc, eq, gt, inArray, lte, notInArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { isUniqueViolation } from '../../db/client.js';
import { claimDueRows } from '../../db/claim-due-rows.js';
import { domains, domainTransfers } from '../../db/schema/index.js';
import { Type } from 'typebox';
import { AppError, defineError, invalidField, NotFound, type FieldErrorBody, ValidationFailed } from '../../errors.js';
import { parseDomainName, tldOf } from '../../lib/domain-name.js';
import { randomToken } from '../../lib/tokens.js';
import { charge, type Money, type Tx } from '../billing/api.js';
import { emitEvent, type EventType } from '../events/api.js';
import { domainView } from './domain-schemas.js';
import {
  DomainTransferredIn,
  DomainTransferredOut,
  TransferApproved,
  TransferCancelled,
  TransferCompleted,
  TransferExpired,
  TransferRejected,
  TransferRequested,
} from './events.js';
import { transferView, type Transfer } from './transfer-schemas.js';
import { checkContacts, checkNameservers, type ContactRole } from './domain-validation.js';
import { lifecycleDates } from './lifecycle-dates.js';
import { assertMaxPrice, honourQuote, isPremium, labelOf, operationPrice } from './pricing.js';
import { addYears, type RegistryBackend } from './registry.js';
import type { TldCatalogue } from './tld-service.js';
import { bindDeps } from '../../lib/bind-deps.js';
import { approvalTokenHash, isMailAddress, type QueueApprovalMail } from './transfer-approval-mail.js';
import { getTransfer, listTransfers, type TransferFilter } from './transfer-store.js';

export const DomainNotRegistered = defineError(
  'domain_not_registered',
  409,
  'The name is not registered; register it instead',
);
export const AlreadyYours = defineError('already_yours', 409, 'The domain is already in your account');
export const TransferProhibited = defineError(
  'transfer_prohibited',
  409,
  'The domain is locked at its current registrar',
);
export const InvalidAuthCode = defineError('invalid_auth_code', 422, 'The auth code is not the domain’s auth code');
export const TransferPending = defineError('transfer_pending', 409, 'A transfer of this name is already waiting');
export const TransferNotOpen = defineError(
  'transfer_not_open',
  409,
  'The transfer is no longer waiting for this',
  Type.Object({ transfer_status: Type.Optional(Type.String({ description: 'The transfer’s status now' })) }),
);

export const TransferMailOff = defineError(
  'transfer_approval_mail_off',
  503,
  'Transfers need e-mail to reach the domain’s owner, and e-mail is off on this server',
);
export const OwnerEmailUnknown = defineError(
  'owner_email_unknown',
  409,
  'The registry has no e-mail address for the domain’s owner, so the owner cannot be asked to approve',
);
export const ApprovalMailTooSoon = defineError(
  'approval_mail_too_soon',
  409,
  'The last approval e-mail was asked for under 10 minutes ago',
  Type.Object({ retry_after: Type.String({ format: 'date-time', description: 'When another may be asked for' }) }),
);
export const ApprovalMailLimit = defineError(
  'approval_mail_limit',
  409,
  'The transfer has had the most approval e-mails it gets',
);
/** Approval e-mails one transfer (and one name, in a day) may get: at least 10 minutes apart. */
export const MAX_APPROVAL_MAILS = 5;
export const APPROVAL_RESEND_GAP_MS = 600_000;

export type TransferRow = typeof domainTransfers.$inferSelect;
export const OPEN = ['pending_approval', 'approved'];
const LIVE_ELSEWHERE = new Set(['active', 'grace']);
const DAY_MS = 86_400_000;

export interface TransferDeps {
  db: Db;
  catalogue: TldCatalogue;
  registry: RegistryBackend;
  seal(plaintext: string): string;
  /** Queues the owner's approval e-mail; unset when e-mail is off, and transfers are then refused. */
  queueApprovalMail?: QueueApprovalMail | undefined;
  /** Overrides the TLD's transfer_approval_days. */
  approvalHours?: number;
  log?: { warn(obj: object, msg: string): void };
}

/** Transfers for the routes: the rules below, and the reads of transfer-store.ts. */
export function createTransferService(deps: TransferDeps) {
  return {
    ...bindDeps(deps, { requestTransfer, approveTransfer, rejectTransfer, resendApproval }),
    cancelTransfer: (accountId: string, id: string) => cancelTransfer(deps.db, accountId, id),
    listTransfers: (accountId: string, f: TransferFilter) => listTransfers(deps.db, accountId, f),
    getTransfer: (accountId: string, id: string) => getTransfer(deps.db, accountId, id),
  };
}
export type TransferService = ReturnType<typeof createTransferService>;

/**
 * A transfer's event: to the gaining account, and to the losing account when the name is held by
 * another account here, each with the transfer as GET shows it to them (direction in / out).
 */
async function emitTransfer(tx: Tx, type: EventType<typeof Transfer>, t: TransferRow): Promise<void> {
  await emitEvent(tx, type, { accountId: t.accountId, objectId: t.id, data: transferView(t.accountId)(t) });
  if (t.losingAccountId !== null && t.losingAccountId !== t.accountId)
    await emitEvent(tx, type, {
      accountId: t.losingAccountId,
      objectId: t.id,
      data: transferView(t.losingAccountId)(t),
    });
}

/** The mail queue, or 503 when e-mail is off: without it no owner can be asked. */
function mailQueue(deps: TransferDeps): QueueApprovalMail {
  if (!deps.queueApprovalMail)
    throw new TransferMailOff(
      'Transfers are off on this server: the operator has not set up e-mail (SMTP_URL) and the API’s public address (PUBLIC_URL) the owner answers at',
    );
  return deps.queueApprovalMail;
}

/** The owner's address of record, or 409 when the registry discloses none. */
function ownerAddress(name: string, record: { registrantEmail: string | null }): string {
  if (!record.registrantEmail || !isMailAddress(record.registrantEmail))
    throw new OwnerEmailUnknown(
      `The registry has no usable e-mail address for the owner of ${name}; the owner must add one at the current registrar`,
    );
  return record.registrantEmail;
}

/**
 * Approval e-mails to one owner about one name, over all its transfers: at least 10 minutes apart
 * and at most MAX_APPROVAL_MAILS a day, so cancelling and asking again does not flood the owner.
 */
async function assertNameMailable(tx: Tx, name: string, owner: string, now: Date): Promise<void> {
  const [row] = await tx
    .select({
      open: sql<boolean | string>`coalesce(bool_or(${inArray(domainTransfers.status, OPEN)}), false)`,
      last: sql<Date | string | null>`max(${domainTransfers.approvalQueuedAt})`,
      mails: sql<number | string>`coalesce(sum(${domainTransfers.approvalMails}), 0)`,
    })
    .from(domainTransfers)
    .where(
      and(
        eq(domainTransfers.name, name),
        eq(domainTransfers.approvalSentTo, owner),
        gt(domainTransfers.approvalQueuedAt, new Date(now.getTime() - DAY_MS)),
      ),
    );
  // One open transfer per name is the first thing to say (the unique index says it too).
  if (row?.open === true || row?.open === 't')
    throw new TransferPending(`A transfer of ${name} is already waiting for approval`);
  const last = row?.last ? new Date(row.last) : null;
  const next = last ? new Date(last.getTime() + APPROVAL_RESEND_GAP_MS) : now;
  if (next > now)
    throw new ApprovalMailTooSoon(
      `The owner of ${name} was sent an approval e-mail at ${last!.toISOString()}; another from ${next.toISOString()}`,
      { extensions: { retry_after: next.toISOString() } },
    );
  if (Number(row?.mails ?? 0) >= MAX_APPROVAL_MAILS)
    throw new ApprovalMailLimit(`The owner of ${name} was sent ${MAX_APPROVAL_MAILS} approval e-mails today; no more`);
}

export async function requestTransfer(
  deps: TransferDeps,
  caller: { id: string; currency: string },
  input: {
    name: string;
    authCode?: string;
    contacts: Partial<Record<ContactRole, string>>;
    nameservers?: string[];
    maxPrice?: Money;
  },
  now = new Date(),
): Promise<TransferRow> {
  const queueMail = mailQueue(deps);
  const tld = tldOf(input.name);
  const entry = deps.catalogue.forCurrency(caller.currency).get(tld);
  const invalid = invalidField;
  if (!entry) return invalid('/body/name', 'tld_not_offered', `.${tld} is not offered`);
  const { rules } = entry;
  const parsed = parseDomainName(input.name, tld, {
    minLength: rules.minLabelLength,
    maxLength: rules.maxLabelLength,
    idnScripts: rules.idnScripts,
  });
  if (!parsed.ok) return invalid('/body/name', parsed.code, parsed.reason);
  const name = parsed.name;

  const problems: FieldErrorBody[] = [];
  const nameservers = input.nameservers ? checkNameservers(input.nameservers, '/body/nameservers', problems) : null;
  await checkContacts(deps.db, caller.id, rules, input.contacts, '/body/contacts', problems);
  if (rules.authCodeRequired && !input.authCode)
    problems.push({ pointer: '/body/auth_code', code: 'required', message: `.${tld} transfers need the auth code` });
  if (problems.length)
    throw new ValidationFailed(`${problems.length} problem(s) with the transfer`, { errors: problems });

  const record = await deps.registry.info(deps.db, name);
  if (!record) throw new DomainNotRegistered(`${name} is not registered; check it and register it instead`);
  if (record.sponsorAccountId === caller.id) throw new AlreadyYours(`${name} is already in your account`);
  if (record.transferProhibited)
    throw new TransferProhibited(`${name} is locked at its current registrar; the owner must have it unlocked`);
  if (rules.authCodeRequired && !(await deps.registry.verifyAuthCode(deps.db, name, input.authCode!))) {
    throw new InvalidAuthCode(`That is not the auth code of ${name}`, {
      errors: [{ pointer: '/body/auth_code', code: 'invalid_auth_code', message: 'wrong auth code' }],
    });
  }
  let losingAccountId: string | null = null;
  if (record.sponsorAccountId) {
    const [held] = await deps.db
      .select({ accountId: domains.accountId, status: domains.status })
      .from(domains)
      .where(and(eq(domains.name, name), notInArray(domains.status, ['released', 'transferred_out'])));
    if (held && !LIVE_ELSEWHERE.has(held.status))
      throw new TransferProhibited(`${name} is in ${held.status} at its current registrar and cannot be transferred`);
    losingAccountId = held?.accountId ?? record.sponsorAccountId;
  }
  const owner = ownerAddress(name, record);
  const yearly = operationPrice(entry, labelOf(name), 'transfer', caller.currency);
  assertMaxPrice({ amount: yearly, currency: caller.currency }, input.maxPrice);

  const approvalToken = `rat_${randomToken()}`;
  const waitMs =
    deps.approvalHours !== undefined ? deps.approvalHours * 3_600_000 : rules.transferApprovalDays * DAY_MS;
  try {
    const transfer = await deps.db.transaction(async (tx) => {
      await assertNameMailable(tx, name, owner, now);
      const [row] = await tx
        .insert(domainTransfers)
        .values({
          accountId: caller.id,
          name,
          unicodeName: parsed.unicode,
          tld,
          losingAccountId,
          approvalTokenHash: approvalTokenHash(approvalToken),
          approvalSentTo: owner,
          approvalQueuedAt: now,
          ownerHandle: input.contacts.owner!,
          adminHandle: input.contacts.admin ?? null,
          techHandle: input.contacts.tech ?? null,
          billingHandle: input.contacts.billing ?? null,
          nameservers,
          currency: caller.currency,
          quotedAmount: yearly,
          requestedAt: now,
          expiresAt: new Date(now.getTime() + waitMs),
        })
        .returning();
      await queueMail(tx, { transferId: row!.id, sealedToken: deps.seal(approvalToken) });
      await emitTransfer(tx, TransferRequested, row!);
      return row!;
    });
    return transfer;
  } catch (err) {
    if (isUniqueViolation(err)) throw new TransferPending(`A transfer of ${name} is already waiting for approval`);
    throw err;
  }
}

/** The transfer this token was issued for; 404 for a wrong id or token alike. */
async function byToken(tx: Tx, id: string, token: string): Promise<TransferRow> {
  const [t] = await tx.select().from(domainTransfers).where(eq(domainTransfers.id, id)).for('update');
  // A superseded hash (a transfer opened before approvals went by e-mail) matches no token.
  const expected = t ? Buffer.from(t.approvalTokenHash, 'hex') : Buffer.alloc(32);
  const given = Buffer.from(approvalTokenHash(token), 'hex');
  if (!t || expected.length !== given.length || !timingSafeEqual(expected, given))
    throw new NotFound('No such transfer, or the token is not its approval token');
  return t;
}

function assertOpen(t: TransferRow, allowed: string[], now: Date): void {
  if (OPEN.includes(t.status) && t.expiresAt <= now)
    throw new TransferNotOpen(`The transfer of ${t.name} expired at ${t.expiresAt.toISOString()}`, {
      extensions: { transfer_status: 'expired' },
    });
  if (!allowed.includes(t.status))
    throw new TransferNotOpen(`The transfer of ${t.name} is ${t.status}`, {
      extensions: { transfer_status: t.status },
    });
}

/** The owner approves: approved, then completed at once if the gaining account can pay (else the job retries until expiry). */
export async function approveTransfer(
  deps: TransferDeps,
  id: string,
  token: string,
  now = new Date(),
): Promise<TransferRow> {
  await deps.db.transaction(async (tx) => {
    const t = await byToken(tx, id, token);
    assertOpen(t, ['pending_approval'], now);
    const [row] = await tx
      .update(domainTransfers)
      .set({ status: 'approved', decidedAt: now })
      .where(eq(domainTransfers.id, id))
      .returning();
    await emitTransfer(tx, TransferApproved, row!);
  });
  return completeTransfer(deps, id, now);
}

export async function rejectTransfer(
  deps: TransferDeps,
  id: string,
  token: string,
  reason: string | undefined,
  now = new Date(),
): Promise<TransferRow> {
  return deps.db.transaction(async (tx) => {
    const t = await byToken(tx, id, token);
    assertOpen(t, ['pending_approval'], now);
    const [row] = await tx
      .update(domainTransfers)
      .set({ status: 'rejected', decidedAt: now, note: reason ?? 'rejected by the owner' })
      .where(eq(domainTransfers.id, id))
      .returning();
    await emitTransfer(tx, TransferRejected, row!);
    return row!;
  });
}

/** The gaining account's transfer, locked; 404 for another account's (R-SEC-6). */
async function gainingTransfer(tx: Tx, accountId: string, id: string): Promise<TransferRow> {
  const [t] = await tx
    .select()
    .from(domainTransfers)
    .where(and(eq(domainTransfers.id, id), eq(domainTransfers.accountId, accountId)))
    .for('update');
  if (!t) throw new NotFound('No such transfer in your account');
  return t;
}

export async function cancelTransfer(db: Db, accountId: string, id: string, now = new Date()): Promise<TransferRow> {
  return db.transaction(async (tx) => {
    const t = await gainingTransfer(tx, accountId, id);
    assertOpen(t, OPEN, now);
    const [row] = await tx
      .update(domainTransfers)
      .set({ status: 'cancelled', decidedAt: t.decidedAt ?? now, note: 'cancelled by the gaining reseller' })
      .where(eq(domainTransfers.id, id))
      .returning();
    await emitTransfer(tx, TransferCancelled, row!);
    return row!;
  });
}

/**
 * A new approval e-mail to the owner of record (read again: the owner may have corrected it), with a
 * new token: the earlier ones stop working. At least 10 minutes after the last one, and at most
 * MAX_APPROVAL_MAILS in all, so the owner is never flooded.
 */
export async function resendApproval(
  deps: TransferDeps,
  accountId: string,
  id: string,
  now = new Date(),
): Promise<TransferRow> {
  const queueMail = mailQueue(deps);
  return deps.db.transaction(async (tx) => {
    const t = await gainingTransfer(tx, accountId, id);
    assertOpen(t, ['pending_approval'], now);
    const next = t.approvalQueuedAt ? new Date(t.approvalQueuedAt.getTime() + APPROVAL_RESEND_GAP_MS) : now;
    if (next > now)
      throw new ApprovalMailTooSoon(
        `The last approval e-mail for ${t.name} was asked for at ${t.approvalQueuedAt!.toISOString()}; another from ${next.toISOString()}`,
        { extensions: { retry_after: next.toISOString() } },
      );
    if (t.approvalMails >= MAX_APPROVAL_MAILS)
      throw new ApprovalMailLimit(`${t.approvalMails} approval e-mails were sent for ${t.name}; no more`);
    const record = await deps.registry.info(tx, t.name);
    if (!record) throw new DomainNotRegistered(`${t.name} is no longer registered`);
    const owner = ownerAddress(t.name, record);
    const approvalToken = `rat_${randomToken()}`;
    const [row] = await tx
      .update(domainTransfers)
      .set({
        approvalTokenHash: approvalTokenHash(approvalToken),
        approvalSentTo: owner,
        approvalQueuedAt: now,
        approvalMailedAt: null,
        approvalMails: t.approvalMails + 1,
      })
      .where(eq(domainTransfers.id, id))
      .returning();
    await queueMail(tx, { transferId: id, sealedToken: deps.seal(approvalToken) });
    return row!;
  });
}

/**
 * Completes an approved transfer: the charge, the registry move, the losing domain marked
 * transferred_out and the gaining domain created, in one transaction. A failure (funds, a lock the
 * losing side set meanwhile) leaves the transfer approved with the reason in `note`.
 */
export async function completeTransfer(deps: TransferDeps, id: string, now = new Date()): Promise<TransferRow> {
  try {
    return await deps.db.transaction(async (tx) => {
      const [t] = await tx.select().from(domainTransfers).where(eq(domainTransfers.id, id)).for('update');
      if (!t) throw new NotFound('No such transfer');
      if (t.status !== 'approved') return t;
      const entry = deps.catalogue.entry(t.tld, t.currency);
      if (!entry) throw new TransferNotOpen(`.${t.tld} is no longer in the catalogue`);
      const record = await deps.registry.info(tx, t.name);
      if (!record) throw new DomainNotRegistered(`${t.name} is no longer registered`);
      if (record.transferProhibited) throw new TransferProhibited(`${t.name} was locked at its current registrar`);
      const [losing] = await tx
        .select()
        .from(domains)
        .where(
          and(eq(domains.name, t.name), inArray(domains.status, ['active', 'grace', 'redemption', 'pending_delete'])),
        )
        .for('update');
      if (losing && !LIVE_ELSEWHERE.has(losing.status))
        throw new TransferProhibited(`${t.name} went into ${losing.status}`);
      // The name must still be where it was when the transfer was asked for, and unlocked there.
      if ((losing?.accountId ?? null) !== t.losingAccountId || record.sponsorAccountId !== t.losingAccountId) {
        throw new TransferProhibited(`${t.name} changed hands since the transfer was requested`);
      }
      if (losing?.locked) throw new TransferProhibited(`${t.name} was locked by its current reseller`);

      // Never more than the price the reseller was shown when it asked (and checked max_price against).
      const price = {
        amount: honourQuote(operationPrice(entry, labelOf(t.name), 'transfer', t.currency), t.quotedAmount),
        currency: t.currency,
      };
      // A transfer adds a year, but never past the TLD's maximum registration period from now (as
      // registries do: a name registered for the maximum keeps its expiry when it moves).
      const years = addYears(record.expiresAt, 1) > addYears(now, entry.rules.maxPeriodYears) ? 0 : 1;
      await charge(tx, {
        accountId: t.accountId,
        money: price,
        reason: `Transfer in of ${t.name} (${years ? 'adds 1 year' : `already ${entry.rules.maxPeriodYears} years ahead: no year added`})`,
        reference: `domain:${t.name}`,
      });
      const authCode = randomToken(12);
      const moved = await deps.registry.transfer(tx, {
        name: t.name,
        fromAccountId: t.losingAccountId,
        toAccountId: t.accountId,
        years,
        authCode,
      });
      if (losing) {
        const [out] = await tx
          .update(domains)
          .set({ status: 'transferred_out', updatedAt: now })
          .where(eq(domains.id, losing.id))
          .returning();
        await emitEvent(tx, DomainTransferredOut, {
          accountId: out!.accountId,
          objectId: out!.name,
          data: domainView(out!),
        });
      }
      const [domain] = await tx
        .insert(domains)
        .values({
          accountId: t.accountId,
          name: t.name,
          unicodeName: t.unicodeName,
          tld: t.tld,
          premium: isPremium(entry, labelOf(t.name)),
          // The original registration, not the transfer: no add-grace refund for a transferred name.
          registeredAt: losing?.registeredAt ?? record.createdAt,
          expiresAt: moved.expiresAt,
          ...lifecycleDates(moved.expiresAt, entry.rules),
          authCodeSealed: deps.seal(authCode),
          nameservers: t.nameservers ?? losing?.nameservers ?? [],
          ownerHandle: t.ownerHandle,
          adminHandle: t.adminHandle,
          techHandle: t.techHandle,
          billingHandle: t.billingHandle,
        })
        .returning();
      await emitEvent(tx, DomainTransferredIn, {
        accountId: domain!.accountId,
        objectId: domain!.name,
        data: domainView(domain!),
      });
      const [row] = await tx
        .update(domainTransfers)
        .set({ status: 'completed', completedAt: now, chargedAmount: price.amount, domainId: domain!.id, note: null })
        .where(eq(domainTransfers.id, id))
        .returning();
      await emitTransfer(tx, TransferCompleted, row!);
      return row!;
    });
  } catch (err) {
    if (!(err instanceof AppError) || err.code === NotFound.code) throw err;
    const note = `${err.code}: ${err.message}`;
    const [row] = await deps.db
      .update(domainTransfers)
      .set({ note })
      .where(and(eq(domainTransfers.id, id), eq(domainTransfers.status, 'approved')))
      .returning();
    if (!row) throw err;
    return row;
  }
}

/**
 * The transfer job: open transfers past their time expire; approved ones that could not complete
 * (funds) are retried. Rows are claimed with SKIP LOCKED (claimDueRows), so instances running it
 * together split the work.
 */
export async function runTransferJob(deps: TransferDeps, now: Date, batch = 100): Promise<number> {
  let handled = await claimDueRows({
    db: deps.db,
    table: domainTransfers,
    key: domainTransfers.id,
    due: and(inArray(domainTransfers.status, OPEN), lte(domainTransfers.expiresAt, now)),
    batchSize: batch,
    handle: async (tx, due) => {
      const expired = await tx
        .update(domainTransfers)
        .set({ status: 'expired', note: sql`coalesce(${domainTransfers.note}, 'the owner did not approve in time')` })
        .where(
          inArray(
            domainTransfers.id,
            due.map((d) => d.id),
          ),
        )
        .returning();
      for (const t of expired) await emitTransfer(tx, TransferExpired, t);
    },
  });
  // Every approved transfer gets its retry (few wait: they are approved and unpaid); one that fails
  // for an unexpected reason is logged and does not hold up the rest.
  const retry = await deps.db
    .select({ id: domainTransfers.id })
    .from(domainTransfers)
    .where(and(eq(domainTransfers.status, 'approved'), gt(domainTransfers.expiresAt, now)))
    .orderBy(asc(domainTransfers.decidedAt));
  for (const { id } of retry) {
    try {
      const t = await completeTransfer(deps, id, now);
      if (t.status === 'completed') handled++;
    } catch (err) {
      deps.log?.warn({ err, transfer_id: id }, 'transfer completion failed; retried on the next run');
    }
  }
  return handled;
}

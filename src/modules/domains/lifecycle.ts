// The domain lifecycle job: expiry -> autorenew (charged, or failed for lack of funds) -> auto-renew
// grace -> redemption -> pending delete -> released. It acts on the dates stored on each domain
// (expires_at, grace_ends_at, redemption_ends_at, purge_at), the same ones the API shows. Each phase
// claims one domain at a time with FOR UPDATE SKIP LOCKED, so several instances share the work
// and never handle one domain twice; an autorenewal runs in a savepoint, so a refused charge still
// lets the domain move to grace. A run that comes late (an outage) walks a domain through every phase that
// is due, in order. Each domain is handled in its own short transaction, which also writes the
// domain's event (domain.renewed, .expired, .redemption_started, .pending_delete, .released). A job
// of its own (sendExpiryNotices) sends the 30- and 7-day domain.expiring notices, once per notice and
// expiry date.
import { and, asc, eq, gt, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import { claimDueRows } from '../../db/claim-due-rows.js';
import type { Db } from '../../db/client.js';
import { accounts, domains } from '../../db/schema/index.js';
import { AppError } from '../../errors.js';
import { charge, type Tx } from '../billing/api.js';
import { emitEvent, type EventType } from '../events/api.js';
import { domainView, type DomainRow } from './domain-schemas.js';
import {
  DomainExpired,
  DomainExpiring,
  DomainPendingDelete,
  DomainRedemptionStarted,
  DomainReleased,
  DomainRenewed,
  EXPIRY_NOTICE_DAYS,
  type ExpiryNoticeDays,
} from './events.js';
import { lifecycleDates } from './lifecycle-dates.js';
import { labelOf, operationPrice } from './pricing.js';
import type { RegistryBackend } from './registry.js';
import type { TldCatalogue } from './tld-service.js';

const DAY_MS = 86_400_000;

export interface LifecycleDeps {
  db: Db;
  catalogue: TldCatalogue;
  registry: RegistryBackend;
  log?: { warn(obj: object, msg: string): void };
}

// A type, not an interface, so that it is a Record<string, number> (the job sums its values).
export type LifecycleCounts = {
  renewed: number;
  autorenewFailed: number;
  expired: number;
  redemption: number;
  pendingDelete: number;
  released: number;
};

/** The domain's event, with the domain as GET shows it after the change. */
const emitDomain = (tx: Tx, type: EventType<typeof DomainRenewed.data>, d: DomainRow) =>
  emitEvent(tx, type, { accountId: d.accountId, objectId: d.name, data: domainView(d) });

/** Moves the domain to `status` and writes the event that reports it. */
async function moveTo(tx: Tx, d: DomainRow, status: string, now: Date, type: EventType<typeof DomainRenewed.data>) {
  const [row] = await tx.update(domains).set({ status, updatedAt: now }).where(eq(domains.id, d.id)).returning();
  await emitDomain(tx, type, row!);
}

/** One autorenewal: the TLD's minimum period, charged; false when the account cannot pay. */
async function autorenew(deps: LifecycleDeps, tx: Tx, d: DomainRow, now: Date): Promise<boolean> {
  const [account] = await tx.select({ currency: accounts.currency }).from(accounts).where(eq(accounts.id, d.accountId));
  const entry = account ? deps.catalogue.entry(d.tld, account.currency) : undefined;
  if (!account || !entry) return false;
  const years = entry.rules.minPeriodYears;
  try {
    await tx.transaction(async (sp) => {
      const amount = operationPrice(entry, labelOf(d.name), 'renew', account.currency) * years;
      await charge(sp, {
        accountId: d.accountId,
        money: { amount, currency: account.currency },
        reason: `Autorenewal of ${d.name} for ${years} year(s)`,
        reference: `domain:${d.name}`,
      });
      const { expiresAt } = await deps.registry.renew(sp, {
        name: d.name,
        accountId: d.accountId,
        years,
        currentExpiresAt: d.expiresAt,
      });
      const [row] = await sp
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
      await emitDomain(sp, DomainRenewed, row!);
    });
    return true;
  } catch (err) {
    // insufficient_funds above all (or a registry refusal): the domain goes (or stays) in grace and
    // is retried daily. Anything else fails this domain's step and is logged by phase().
    if (err instanceof AppError) {
      deps.log?.warn({ domain: d.name, account_id: d.accountId, code: err.code }, 'autorenewal failed');
      return false;
    }
    throw err;
  }
}

/**
 * Handles due domains one at a time, each in its own short transaction that claims it with
 * FOR UPDATE SKIP LOCKED (claimDueRows): instances share the work, no lock is held across domains
 * (two instances cannot deadlock on account rows), and a domain whose step fails is logged and left
 * for the next run without holding up the others.
 */
function phase(
  deps: LifecycleDeps,
  name: string,
  where: SQL | undefined,
  step: (tx: Tx, d: DomainRow) => Promise<void>,
  limit: number,
): Promise<number> {
  return claimDueRows({
    db: deps.db,
    table: domains,
    key: domains.id,
    due: where,
    orderBy: asc(domains.expiresAt),
    limit,
    handle: (tx, [d]) => step(tx, d!),
    onError: (err, [d]) =>
      deps.log?.warn({ err, phase: name, domain: d?.name }, 'lifecycle step failed; retried on the next run'),
  });
}

export async function runLifecycle(deps: LifecycleDeps, now: Date, limit = 10_000): Promise<LifecycleCounts> {
  const c: LifecycleCounts = {
    renewed: 0,
    autorenewFailed: 0,
    expired: 0,
    redemption: 0,
    pendingDelete: 0,
    released: 0,
  };

  // Expiry: autorenew, or into grace.
  await phase(
    deps,
    'expiry',
    and(eq(domains.status, 'active'), lte(domains.expiresAt, now)),
    async (tx, d) => {
      if (d.autorenew && (await autorenew(deps, tx, d, now))) {
        c.renewed++;
        return;
      }
      if (d.autorenew) c.autorenewFailed++;
      else c.expired++;
      const [row] = await tx
        .update(domains)
        .set({ status: 'grace', autorenewFailedAt: d.autorenew ? now : null, updatedAt: now })
        .where(eq(domains.id, d.id))
        .returning();
      await emitDomain(tx, DomainExpired, row!);
    },
    limit,
  );

  // Grace: a failed autorenewal is retried once a day (a top-up renews it); at its end, redemption.
  const retryBefore = new Date(now.getTime() - DAY_MS);
  await phase(
    deps,
    'grace',
    and(
      eq(domains.status, 'grace'),
      or(
        lte(domains.graceEndsAt, now),
        and(
          eq(domains.autorenew, true),
          or(isNull(domains.autorenewFailedAt), lte(domains.autorenewFailedAt, retryBefore)),
        ),
      ),
    ),
    async (tx, d) => {
      if (d.graceEndsAt > now) {
        if (await autorenew(deps, tx, d, now)) c.renewed++;
        else await tx.update(domains).set({ autorenewFailedAt: now, updatedAt: now }).where(eq(domains.id, d.id));
        return;
      }
      c.redemption++;
      await moveTo(tx, d, 'redemption', now, DomainRedemptionStarted);
    },
    limit,
  );

  await phase(
    deps,
    'redemption',
    and(eq(domains.status, 'redemption'), lte(domains.redemptionEndsAt, now)),
    async (tx, d) => {
      c.pendingDelete++;
      await moveTo(tx, d, 'pending_delete', now, DomainPendingDelete);
    },
    limit,
  );

  await phase(
    deps,
    'release',
    and(eq(domains.status, 'pending_delete'), lte(domains.purgeAt, now)),
    async (tx, d) => {
      c.released++;
      await deps.registry.release(tx, d.name);
      await moveTo(tx, d, 'released', now, DomainReleased);
    },
    limit,
  );

  return c;
}

/** Whole days until expiry, rounded up, and the notice (30 or 7) that is due at that distance. */
export function expiryNotice(expiresAt: Date, now: Date): { daysLeft: number; noticeDays: ExpiryNoticeDays } {
  const daysLeft = Math.ceil((expiresAt.getTime() - now.getTime()) / DAY_MS);
  const noticeDays = [...EXPIRY_NOTICE_DAYS].reverse().find((n) => daysLeft <= n) ?? EXPIRY_NOTICE_DAYS[0];
  return { daysLeft, noticeDays };
}

/**
 * domain.expiring: an active domain within 30 days of its expiry gets the 30-day notice, and within
 * 7 days the 7-day one; each once per expiry date (expiry_notice_for/_days remember what was sent,
 * and a renewal, which moves expires_at, starts over). A run that comes late sends only the notice
 * due now (a domain first seen 5 days before expiry gets the 7-day one alone). Claimed in batches
 * with SKIP LOCKED, so instances split the domains and a notice is never sent twice.
 */
export async function sendExpiryNotices(deps: LifecycleDeps, now: Date, limit = 10_000): Promise<number> {
  const at = (days: number) => new Date(now.getTime() + days * DAY_MS);
  const [widest, ...narrower] = EXPIRY_NOTICE_DAYS;
  // The notice due for a domain at its distance from expiry, in SQL: the smallest threshold it is within.
  const dueNotice = narrower.reduceRight<SQL>(
    (rest, n) =>
      sql`case when ${domains.expiresAt} <= ${at(n).toISOString()}::timestamptz then ${n}::int else ${rest} end`,
    sql`${widest}::int`,
  );
  return claimDueRows({
    db: deps.db,
    table: domains,
    key: domains.id,
    due: and(
      eq(domains.status, 'active'),
      gt(domains.expiresAt, now),
      lte(domains.expiresAt, at(widest)),
      sql`(${domains.expiryNoticeFor} is distinct from ${domains.expiresAt} or ${domains.expiryNoticeDays} > ${dueNotice})`,
    ),
    orderBy: asc(domains.expiresAt),
    batchSize: 100,
    limit,
    handle: async (tx, due) => {
      for (const d of due) {
        const { daysLeft, noticeDays } = expiryNotice(d.expiresAt, now);
        await tx
          .update(domains)
          .set({ expiryNoticeFor: d.expiresAt, expiryNoticeDays: noticeDays })
          .where(eq(domains.id, d.id));
        await emitEvent(tx, DomainExpiring, {
          accountId: d.accountId,
          objectId: d.name,
          data: { domain: domainView(d), days_left: daysLeft, notice_days: noticeDays },
        });
      }
    },
    onError: (err, rows) =>
      deps.log?.warn(
        { err, phase: 'expiring', domains: rows.map((d) => d.name) },
        'expiry notices failed; retried on the next run',
      ),
  });
}

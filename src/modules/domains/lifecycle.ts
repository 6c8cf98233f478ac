// The domain lifecycle job: expiry -> autorenew (charged, or failed for lack of funds) -> auto-renew
// grace -> redemption -> pending delete -> released. It acts on the dates stored on each domain
// (expires_at, grace_ends_at, redemption_ends_at, purge_at), the same ones the API shows. Each phase
// claims one domain at a time with FOR UPDATE SKIP LOCKED, so several instances share the work
// and never handle one domain twice; an autorenewal runs in a savepoint, so a refused charge still
// lets the domain move to grace. A run that comes late (an outage) walks a domain through every phase that
// is due, in order. Each domain is handled in its own short transaction.
import { and, asc, eq, isNull, lte, or, type SQL } from 'drizzle-orm';
import { claimDueRows } from '../../db/claim-due-rows.js';
import type { Db } from '../../db/client.js';
import { accounts, domains } from '../../db/schema/index.js';
import { AppError } from '../../errors.js';
import { charge, type Tx } from '../billing/api.js';
import type { DomainRow } from './domain-schemas.js';
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
      await sp
        .update(domains)
        .set({
          status: 'active',
          expiresAt,
          ...lifecycleDates(expiresAt, entry.rules),
          autorenewFailedAt: null,
          updatedAt: now,
        })
        .where(eq(domains.id, d.id));
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
      await tx
        .update(domains)
        .set({ status: 'grace', autorenewFailedAt: d.autorenew ? now : null, updatedAt: now })
        .where(eq(domains.id, d.id));
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
      await tx.update(domains).set({ status: 'redemption', updatedAt: now }).where(eq(domains.id, d.id));
    },
    limit,
  );

  await phase(
    deps,
    'redemption',
    and(eq(domains.status, 'redemption'), lte(domains.redemptionEndsAt, now)),
    async (tx, d) => {
      c.pendingDelete++;
      await tx.update(domains).set({ status: 'pending_delete', updatedAt: now }).where(eq(domains.id, d.id));
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
      await tx.update(domains).set({ status: 'released', updatedAt: now }).where(eq(domains.id, d.id));
    },
    limit,
  );

  return c;
}

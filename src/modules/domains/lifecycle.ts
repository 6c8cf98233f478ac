// The domain lifecycle job: expiry -> autorenew (charged, or failed for lack of funds) -> auto-renew
// grace -> redemption -> pending delete -> released. It acts on the dates stored on each domain
// (expires_at, grace_ends_at, redemption_ends_at, purge_at), the same ones the API shows. Each phase
// claims a batch with FOR UPDATE SKIP LOCKED, so several instances share the work and never handle
// one domain twice; an autorenewal runs in a savepoint, so one account without funds does not undo
// the rest of the batch. A run that comes late (an outage) walks a domain through every phase that
// is due, in order.
import { and, asc, eq, isNull, lte, or, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { accounts, domains } from '../../db/schema/index.js';
import { AppError } from '../../errors.js';
import { postLedgerEntry, type Tx } from '../billing/ledger.js';
import type { DomainRow } from './domain-schemas.js';
import { labelOf, operationPrice } from './domain-manage-service.js';
import { lifecycleDates } from './lifecycle-dates.js';
import type { RegistryBackend } from './registry.js';
import type { TldCatalogue } from './tld-service.js';

const DAY_MS = 86_400_000;

export interface LifecycleDeps {
  db: Db;
  catalogue: TldCatalogue;
  registry: RegistryBackend;
  log?: { warn(obj: object, msg: string): void };
}

export interface LifecycleCounts {
  renewed: number;
  autorenewFailed: number;
  expired: number;
  redemption: number;
  pendingDelete: number;
  released: number;
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
      await postLedgerEntry(sp, { accountId: d.accountId, type: 'charge', money: { amount, currency: account.currency }, reason: `Autorenewal of ${d.name} for ${years} year(s)`, reference: `domain:${d.name}` });
      const { expiresAt } = await deps.registry.renew(sp, { name: d.name, accountId: d.accountId, years, currentExpiresAt: d.expiresAt });
      await sp.update(domains).set({ status: 'active', expiresAt, ...lifecycleDates(expiresAt, entry.rules), autorenewFailedAt: null, updatedAt: now }).where(eq(domains.id, d.id));
    });
    return true;
  } catch (err) {
    if (err instanceof AppError) {
      // insufficient_funds above all; the domain goes (or stays) in grace and is retried daily.
      deps.log?.warn({ domain: d.name, account_id: d.accountId, code: err.code }, 'autorenewal failed');
      return false;
    }
    throw err;
  }
}

/** Claims due domains batch by batch and hands each to `step` inside the claiming transaction. */
async function phase(deps: LifecycleDeps, where: SQL | undefined, step: (tx: Tx, d: DomainRow) => Promise<void>, batch: number): Promise<number> {
  let handled = 0;
  for (;;) {
    const n = await deps.db.transaction(async (tx) => {
      const due = await tx.select().from(domains).where(where).orderBy(asc(domains.expiresAt)).limit(batch).for('update', { skipLocked: true });
      for (const d of due) await step(tx, d);
      return due.length;
    });
    handled += n;
    if (n < batch) return handled;
  }
}

export async function runLifecycle(deps: LifecycleDeps, now: Date, batch = 100): Promise<LifecycleCounts> {
  const c: LifecycleCounts = { renewed: 0, autorenewFailed: 0, expired: 0, redemption: 0, pendingDelete: 0, released: 0 };

  // Expiry: autorenew, or into grace.
  await phase(deps, and(eq(domains.status, 'active'), lte(domains.expiresAt, now)), async (tx, d) => {
    if (d.autorenew && (await autorenew(deps, tx, d, now))) {
      c.renewed++;
      return;
    }
    if (d.autorenew) c.autorenewFailed++;
    else c.expired++;
    await tx.update(domains).set({ status: 'grace', autorenewFailedAt: d.autorenew ? now : null, updatedAt: now }).where(eq(domains.id, d.id));
  }, batch);

  // Grace: a failed autorenewal is retried once a day (a top-up renews it); at its end, redemption.
  const retryBefore = new Date(now.getTime() - DAY_MS);
  await phase(
    deps,
    and(eq(domains.status, 'grace'), or(lte(domains.graceEndsAt, now), and(eq(domains.autorenew, true), or(isNull(domains.autorenewFailedAt), lte(domains.autorenewFailedAt, retryBefore))))),
    async (tx, d) => {
      if (d.graceEndsAt > now) {
        if (await autorenew(deps, tx, d, now)) c.renewed++;
        else await tx.update(domains).set({ autorenewFailedAt: now, updatedAt: now }).where(eq(domains.id, d.id));
        return;
      }
      c.redemption++;
      await tx.update(domains).set({ status: 'redemption', updatedAt: now }).where(eq(domains.id, d.id));
    },
    batch,
  );

  await phase(deps, and(eq(domains.status, 'redemption'), lte(domains.redemptionEndsAt, now)), async (tx, d) => {
    c.pendingDelete++;
    await tx.update(domains).set({ status: 'pending_delete', updatedAt: now }).where(eq(domains.id, d.id));
  }, batch);

  await phase(deps, and(eq(domains.status, 'pending_delete'), lte(domains.purgeAt, now)), async (tx, d) => {
    c.released++;
    await deps.registry.release(tx, d.name);
    await tx.update(domains).set({ status: 'released', updatedAt: now }).where(eq(domains.id, d.id));
  }, batch);

  return c;
}

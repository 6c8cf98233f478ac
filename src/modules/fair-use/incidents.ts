// R-API-4: breaches become incidents; the ladder turns repeated incidents within a rolling period
// into a warning, a temporary API suspension, a handling fee, a termination-review flag. Incidents
// of one cause (type) count once per UTC day, so a person making the same kind of mistake all
// afternoon has one counted incident, not forty; a step also needs its number of distinct days.
// A step fires once, with the incident that makes its condition true; no single incident suspends.
import { and, eq, gt, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { accounts, fairUseIncidents, ladderSteps } from '../../db/schema/index.js';
import { charge, InsufficientFunds, transactionView, type LedgerEntry } from '../billing/api.js';
import { emitEvent } from '../events/api.js';
import { ApiSuspended, ApiSuspensionLifted, FeeCharged, IncidentOpened, Warning } from './events.js';
import { incidentView, standingView } from './schemas.js';

export type IncidentType =
  | 'repeated_failed_command'
  | 'rate_limit_sustained'
  | 'bulk_without_notice'
  | 'drop_catch_pattern'
  | 'abuse_unanswered';
export type LadderAction = 'warning' | 'suspend_api' | 'fee' | 'termination_review';

export interface RecordedIncident {
  id: number;
  openInPeriod: number;
  /** What the ladder counts: open incidents in the period, once per cause per UTC day. */
  counted: number;
  /** Distinct UTC days with open incidents in the period. */
  days: number;
  actions: string[];
  apiSuspendedUntil: Date | null;
}

export interface LadderStanding {
  open: number;
  counted: number;
  days: number;
}

const utcDay = sql`((${fairUseIncidents.occurredAt} at time zone 'UTC')::date)`;

/** The account's open incidents within the period ending at `at`, as the ladder counts them; `without` leaves one incident out. */
export async function ladderStanding(
  db: Tx,
  accountId: string,
  at: Date,
  periodDays: number,
  without?: number,
): Promise<LadderStanding> {
  const since = new Date(at.getTime() - periodDays * 86_400_000);
  const [row] = await db
    .select({
      open: sql<number>`count(*)::int`,
      counted: sql<number>`count(distinct ${fairUseIncidents.type} || ' ' || ${utcDay})::int`,
      days: sql<number>`count(distinct ${utcDay})::int`,
    })
    .from(fairUseIncidents)
    .where(
      and(
        eq(fairUseIncidents.accountId, accountId),
        eq(fairUseIncidents.status, 'open'),
        gt(fairUseIncidents.occurredAt, since),
        without !== undefined ? sql`${fairUseIncidents.id} <> ${without}` : undefined,
      ),
    );
  return { open: Number(row?.open ?? 0), counted: Number(row?.counted ?? 0), days: Number(row?.days ?? 0) };
}

const reaches = (s: LadderStanding, step: { threshold: number; minDays: number }) =>
  s.counted >= step.threshold && s.days >= step.minDays;

/** The account's standing at `at`, as GET /v1/fair-use shows it (for the fair_use.* events). */
async function standingAt(tx: Tx, accountId: string, at: Date, periodDays: number) {
  const [account] = await tx
    .select({ apiSuspendedUntil: accounts.apiSuspendedUntil, terminationReview: accounts.terminationReview })
    .from(accounts)
    .where(eq(accounts.id, accountId));
  return standingView(account!, await ladderStanding(tx, accountId, at, periodDays), periodDays, at);
}

/**
 * Ends the account's API suspension in `tx` (the caller holds the account row) and writes
 * fair_use.api_suspension_lifted: `by` an operator, or on `expiry` once the server notices that
 * its time has passed. No suspension on the row: nothing changes and no event.
 */
export async function endApiSuspension(
  tx: Tx,
  accountId: string,
  at: Date,
  periodDays: number,
  by: 'operator' | 'expiry',
): Promise<boolean> {
  const [row] = await tx
    .update(accounts)
    .set({ apiSuspendedUntil: null, updatedAt: at })
    .where(and(eq(accounts.id, accountId), sql`${accounts.apiSuspendedUntil} is not null`))
    .returning({ id: accounts.id });
  if (!row) return false;
  const standing = await standingAt(tx, accountId, at, periodDays);
  await emitEvent(tx, ApiSuspensionLifted, { accountId, objectId: accountId, data: { ...standing, lifted_by: by } });
  return true;
}

/**
 * Records an incident unless one with the same dedupe key exists; applies the ladder steps whose
 * condition it makes true. `at` is when it happened (default now). The incident, its steps and
 * their events (fair_use.incident_opened, then .warning, .api_suspended, .fee_charged in the order
 * of the steps) commit together. A suspension whose end has passed is ended first (its
 * fair_use.api_suspension_lifted, by expiry, comes before the new incident's events).
 */
export async function recordIncident(
  db: Db,
  input: { accountId: string; type: IncidentType; dedupeKey: string; evidence: Record<string, unknown>; at?: Date },
  periodDays: number,
): Promise<RecordedIncident | null> {
  const at = input.at ?? new Date();
  return db.transaction(async (tx) => {
    // The account row is the lock: concurrent incidents of one account are counted one at a time.
    const [account] = await tx
      .select({ currency: accounts.currency, until: accounts.apiSuspendedUntil })
      .from(accounts)
      .where(eq(accounts.id, input.accountId))
      .for('update');
    if (!account) return null;
    if (account.until && account.until <= at) {
      await endApiSuspension(tx, input.accountId, at, periodDays, 'expiry');
      account.until = null;
    }
    const [incident] = await tx
      .insert(fairUseIncidents)
      .values({
        accountId: input.accountId,
        type: input.type,
        dedupeKey: input.dedupeKey,
        evidence: input.evidence,
        occurredAt: at,
      })
      .onConflictDoNothing()
      .returning({ id: fairUseIncidents.id });
    if (!incident) return null;
    const after = await ladderStanding(tx, input.accountId, at, periodDays);
    const before = await ladderStanding(tx, input.accountId, at, periodDays, incident.id);
    const actions: string[] = [];
    // What the steps did, for their events once the incident has its final actions.
    const done: ({ step: 'warning' } | { step: 'suspend_api' } | { step: 'fee'; entry: LedgerEntry })[] = [];
    let apiSuspendedUntil: Date | null = null;
    // A step fires with the incident that makes it true; a repeat of a cause already counted today
    // changes neither figure, so it fires nothing.
    const steps =
      after.counted === before.counted && after.days === before.days
        ? []
        : await tx.select().from(ladderSteps).orderBy(ladderSteps.threshold);
    for (const step of steps.filter((s) => reaches(after, s) && !reaches(before, s))) {
      switch (step.action as LadderAction) {
        case 'warning':
          actions.push('warning');
          done.push({ step: 'warning' });
          break;
        case 'suspend_api': {
          const until = new Date(at.getTime() + (step.suspensionHours ?? 24) * 3_600_000);
          apiSuspendedUntil = account.until && account.until > until ? account.until : until;
          await tx
            .update(accounts)
            .set({ apiSuspendedUntil, updatedAt: new Date() })
            .where(eq(accounts.id, input.accountId));
          actions.push(`suspend_api:${apiSuspendedUntil.toISOString()}`);
          // A suspension already running longer is left as it is: nothing changed, no event.
          if (apiSuspendedUntil.getTime() !== account.until?.getTime()) done.push({ step: 'suspend_api' });
          account.until = apiSuspendedUntil;
          break;
        }
        case 'fee': {
          const amount = (step.fee as Record<string, number> | null)?.[account.currency];
          if (!amount) {
            actions.push(`fee_skipped:no_amount_in_${account.currency}`);
            break;
          }
          try {
            // A savepoint: a fee the account cannot pay must not undo the incident.
            const entry = await tx.transaction((sp) =>
              charge(sp, {
                accountId: input.accountId,
                kind: 'fee',
                money: { amount, currency: account.currency },
                reason: 'Fair-use handling fee',
                reference: `incident:${incident.id}`,
              }),
            );
            actions.push(`fee:${entry!.id}`);
            done.push({ step: 'fee', entry: entry! });
          } catch (err) {
            if (!(err instanceof InsufficientFunds)) throw err;
            actions.push('fee_failed:insufficient_funds');
          }
          break;
        }
        case 'termination_review':
          await tx
            .update(accounts)
            .set({ terminationReview: true, updatedAt: new Date() })
            .where(eq(accounts.id, input.accountId));
          actions.push('termination_review');
          break;
      }
    }
    const [row] = await tx
      .update(fairUseIncidents)
      .set({ actions })
      .where(eq(fairUseIncidents.id, incident.id))
      .returning();
    const view = incidentView(row!);
    const ids = { accountId: input.accountId };
    await emitEvent(tx, IncidentOpened, { ...ids, objectId: String(incident.id), data: view });
    for (const d of done) {
      if (d.step === 'warning') await emitEvent(tx, Warning, { ...ids, objectId: String(incident.id), data: view });
      else if (d.step === 'suspend_api') {
        const standing = await standingAt(tx, input.accountId, at, periodDays);
        await emitEvent(tx, ApiSuspended, { ...ids, objectId: input.accountId, data: standing });
      } else {
        await emitEvent(tx, FeeCharged, { ...ids, objectId: String(d.entry.id), data: transactionView(d.entry) });
      }
    }
    return {
      id: incident.id,
      openInPeriod: after.open,
      counted: after.counted,
      days: after.days,
      actions,
      apiSuspendedUntil,
    };
  });
}

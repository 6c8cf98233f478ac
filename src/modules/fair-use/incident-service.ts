// Incidents, bulk notices, suspensions and the ladder (R-API-3, R-API-4), as resellers and operators
// read and change them; recording an incident and applying the ladder is incidents.ts.
import { and, desc, eq, gt, lt, lte, sql } from 'drizzle-orm';
import { claimDueRows } from '../../db/claim-due-rows.js';
import type { Db } from '../../db/client.js';
import { accounts, bulkNotices, fairUseIncidents, ladderSteps } from '../../db/schema/index.js';
import { NotFound, ValidationFailed, type FieldErrorBody } from '../../errors.js';
import { commandsOn, utcDay } from './bulk.js';
import { endApiSuspension, type LadderAction } from './incidents.js';

export interface IncidentDeps {
  db: Db;
  periodDays: number;
  /** R-API-3's daily threshold: a notice for today filed past it is not in advance. */
  bulkThreshold: number;
  /** Makes a lifted suspension take effect at once on this instance. */
  revokeCredentials(accountId: string): void;
}

export type IncidentRow = typeof fairUseIncidents.$inferSelect;

export interface IncidentFilter {
  accountId?: string | undefined;
  status?: 'open' | 'cleared' | undefined;
  /** Only incidents with a smaller id (the cursor's position). */
  before?: number | undefined;
  limit: number;
}

/** Newest first, up to limit + 1 so the caller knows whether another page follows. */
function listIncidents(d: IncidentDeps, f: IncidentFilter): Promise<IncidentRow[]> {
  return d.db
    .select()
    .from(fairUseIncidents)
    .where(
      and(
        f.accountId ? eq(fairUseIncidents.accountId, f.accountId) : undefined,
        f.status ? eq(fairUseIncidents.status, f.status) : undefined,
        f.before !== undefined ? lt(fairUseIncidents.id, f.before) : undefined,
      ),
    )
    .orderBy(desc(fairUseIncidents.id))
    .limit(f.limit + 1);
}

export interface NewBulkNotice {
  accountId: string;
  day: string;
  expectedCount: number;
  description: string;
  createdBy: string;
}

/**
 * R-API-3: a notice is filed in advance, for today or a later UTC day. One for today is in advance
 * only while today's orders and updates are within the threshold: filed once past it (warned, or
 * refused at the ceiling), it would lift the ceiling after the fact, so it is refused.
 */
async function fileBulkNotice(d: IncidentDeps, notice: NewBulkNotice) {
  const today = utcDay();
  if (notice.day < today) {
    throw new ValidationFailed('A bulk notice is filed in advance: today or a later day', {
      errors: [{ pointer: '/body/date', code: 'in_the_past', message: `must be ${today} or later` }],
    });
  }
  if (notice.day === today) {
    const done = await commandsOn(d.db, notice.accountId, today);
    if (done > d.bulkThreshold) {
      const message = `${done} orders and updates today are past the threshold of ${d.bulkThreshold}: a notice for today is no longer in advance; file it for a later day`;
      throw new ValidationFailed(message, {
        errors: [{ pointer: '/body/date', code: 'not_in_advance', message }],
      });
    }
  }
  const [row] = await d.db.insert(bulkNotices).values(notice).returning();
  return row!;
}

/** The account's notices for today and later. */
function listBulkNotices(d: IncidentDeps, accountId: string) {
  return d.db
    .select()
    .from(bulkNotices)
    .where(
      and(
        eq(bulkNotices.accountId, accountId),
        gt(bulkNotices.day, new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)),
      ),
    )
    .orderBy(bulkNotices.day);
}

/** Annotates an incident, or clears it so it no longer counts toward the ladder (or opens it again). */
async function updateIncident(
  d: IncidentDeps,
  id: number,
  patch: { annotation?: string | null | undefined; status?: 'open' | 'cleared' | undefined },
  by: string,
): Promise<IncidentRow> {
  const clearing = patch.status === 'cleared';
  const [row] = await d.db
    .update(fairUseIncidents)
    .set({
      ...(patch.annotation !== undefined ? { annotation: patch.annotation } : {}),
      ...(patch.status
        ? {
            status: patch.status,
            clearedAt: clearing ? new Date() : null,
            clearedBy: clearing ? by : null,
          }
        : {}),
    })
    .where(eq(fairUseIncidents.id, id))
    .returning();
  if (!row) throw new NotFound('No such incident');
  return row;
}

/**
 * Lifts a fair-use API suspension now, with its fair_use.api_suspension_lifted (by the operator; by
 * expiry when its end had passed and nobody had noticed yet). No suspension: nothing to lift, no event.
 */
async function liftApiSuspension(d: IncidentDeps, accountId: string): Promise<void> {
  const now = new Date();
  await d.db.transaction(async (tx) => {
    const [row] = await tx
      .select({ until: accounts.apiSuspendedUntil })
      .from(accounts)
      .where(eq(accounts.id, accountId))
      .for('update');
    if (!row) throw new NotFound('No such account');
    if (row.until) await endApiSuspension(tx, accountId, now, d.periodDays, row.until > now ? 'operator' : 'expiry');
  });
  d.revokeCredentials(accountId);
}

/**
 * The expiry job: ends every suspension whose time has passed by `now`, each with its
 * fair_use.api_suspension_lifted (by expiry). The auth check already lets such an account in
 * (it compares the end with the clock); this is where the end is written down and reported.
 */
function endExpiredSuspensions(d: IncidentDeps, now: Date): Promise<number> {
  return claimDueRows({
    db: d.db,
    table: accounts,
    key: accounts.id,
    due: lte(accounts.apiSuspendedUntil, now),
    orderBy: accounts.apiSuspendedUntil,
    batchSize: 50,
    handle: async (tx, rows) => {
      for (const a of rows) await endApiSuspension(tx, a.id, now, d.periodDays, 'expiry');
    },
  });
}

export interface LadderStepInput {
  threshold: number;
  min_days?: number | undefined;
  action: LadderAction;
  suspension_hours?: number | null | undefined;
  fee?: Record<string, number> | null | undefined;
}

function getLadder(d: IncidentDeps) {
  return d.db.select().from(ladderSteps).orderBy(ladderSteps.threshold);
}

/**
 * The ladder's own rules: no single incident may suspend, fine or flag (threshold 2 or more); a
 * suspension needs its length and a fee its amounts; a step needs no more days than the period
 * has; one step per threshold.
 */
export function ladderErrors(steps: readonly LadderStepInput[], periodDays: number): FieldErrorBody[] {
  const errors = steps.flatMap((s, i) => {
    const out: FieldErrorBody[] = [];
    if (s.action !== 'warning' && s.threshold < 2)
      out.push({
        pointer: `/body/steps/${i}/threshold`,
        code: 'too_small',
        message: 'no single incident may suspend, fine or flag: 2 or more',
      });
    if (s.action === 'suspend_api' && !s.suspension_hours)
      out.push({
        pointer: `/body/steps/${i}/suspension_hours`,
        code: 'required',
        message: 'a suspension needs its length',
      });
    if (s.action === 'fee' && !s.fee)
      out.push({
        pointer: `/body/steps/${i}/fee`,
        code: 'required',
        message: 'a fee needs an amount per currency',
      });
    if ((s.min_days ?? 1) > periodDays)
      out.push({
        pointer: `/body/steps/${i}/min_days`,
        code: 'too_large',
        message: `the period is ${periodDays} days: this step could never fire`,
      });
    return out;
  });
  if (new Set(steps.map((s) => s.threshold)).size !== steps.length) {
    errors.push({ pointer: '/body/steps', code: 'duplicate_items', message: 'one step per threshold' });
  }
  return errors;
}

/** Replaces the whole ladder in one transaction, once it passes ladderErrors. */
async function setLadder(d: IncidentDeps, steps: readonly LadderStepInput[]) {
  const errors = ladderErrors(steps, d.periodDays);
  if (errors.length) throw new ValidationFailed('The ladder is not valid', { errors });
  await d.db.transaction(async (tx) => {
    // Two replacements at the same moment run one after the other: otherwise both delete, and the
    // second insert fails on a threshold the first just wrote (a 500 where each should succeed).
    await tx.execute(sql`LOCK TABLE ladder_steps IN SHARE ROW EXCLUSIVE MODE`);
    await tx.delete(ladderSteps);
    if (steps.length) {
      await tx.insert(ladderSteps).values(
        steps.map((s) => ({
          threshold: s.threshold,
          minDays: s.min_days ?? 1,
          action: s.action,
          suspensionHours: s.suspension_hours ?? null,
          fee: s.fee ?? null,
        })),
      );
    }
  });
  return getLadder(d);
}

export function createIncidentService(deps: IncidentDeps) {
  return {
    listIncidents: (f: IncidentFilter) => listIncidents(deps, f),
    fileBulkNotice: (notice: NewBulkNotice) => fileBulkNotice(deps, notice),
    listBulkNotices: (accountId: string) => listBulkNotices(deps, accountId),
    updateIncident: (
      id: number,
      patch: { annotation?: string | null | undefined; status?: 'open' | 'cleared' | undefined },
      by: string,
    ) => updateIncident(deps, id, patch, by),
    liftApiSuspension: (accountId: string) => liftApiSuspension(deps, accountId),
    endExpiredSuspensions: (now: Date) => endExpiredSuspensions(deps, now),
    getLadder: () => getLadder(deps),
    setLadder: (steps: readonly LadderStepInput[]) => setLadder(deps, steps),
  };
}
export type IncidentService = ReturnType<typeof createIncidentService>;

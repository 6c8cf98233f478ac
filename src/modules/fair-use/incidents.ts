// R-API-4: breaches become incidents; the ladder turns repeated incidents within a rolling period
// into a warning, a temporary API suspension, a handling fee, a termination-review flag. Each step
// fires once, when the count of open incidents reaches its threshold; no single incident suspends.
import { and, count, eq, gt } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { accountEvents, accounts, fairUseIncidents, ladderSteps } from '../../db/schema/index.js';
import { InsufficientFunds, postLedgerEntry } from '../billing/ledger.js';

export type IncidentType = 'repeated_failed_command' | 'rate_limit_sustained' | 'bulk_without_notice' | 'drop_catch_pattern' | 'abuse_unanswered';
export type LadderAction = 'warning' | 'suspend_api' | 'fee' | 'termination_review';

export interface RecordedIncident {
  id: number;
  openInPeriod: number;
  actions: string[];
  apiSuspendedUntil: Date | null;
}

/** Records an incident unless one with the same dedupe key exists; applies the ladder step it reaches. */
export async function recordIncident(
  db: Db,
  input: { accountId: string; type: IncidentType; dedupeKey: string; evidence: Record<string, unknown> },
  periodDays: number,
): Promise<RecordedIncident | null> {
  return db.transaction(async (tx) => {
    // The account row is the lock: concurrent incidents of one account are counted one at a time.
    const [account] = await tx.select({ currency: accounts.currency, until: accounts.apiSuspendedUntil }).from(accounts).where(eq(accounts.id, input.accountId)).for('update');
    if (!account) return null;
    const [incident] = await tx
      .insert(fairUseIncidents)
      .values({ accountId: input.accountId, type: input.type, dedupeKey: input.dedupeKey, evidence: input.evidence })
      .onConflictDoNothing()
      .returning({ id: fairUseIncidents.id });
    if (!incident) return null;
    const since = new Date(Date.now() - periodDays * 86_400_000);
    const [open] = await tx
      .select({ n: count() })
      .from(fairUseIncidents)
      .where(and(eq(fairUseIncidents.accountId, input.accountId), eq(fairUseIncidents.status, 'open'), gt(fairUseIncidents.occurredAt, since)));
    const n = open?.n ?? 0;
    const actions: string[] = [];
    let apiSuspendedUntil: Date | null = null;
    for (const step of await tx.select().from(ladderSteps).where(eq(ladderSteps.threshold, n))) {
      switch (step.action as LadderAction) {
        case 'warning':
          await tx.insert(accountEvents).values({ accountId: input.accountId, type: 'fair_use.warning', data: { incident_id: incident.id, type: input.type, open_incidents: n } });
          actions.push('warning');
          break;
        case 'suspend_api': {
          const until = new Date(Date.now() + (step.suspensionHours ?? 24) * 3_600_000);
          apiSuspendedUntil = account.until && account.until > until ? account.until : until;
          await tx.update(accounts).set({ apiSuspendedUntil, updatedAt: new Date() }).where(eq(accounts.id, input.accountId));
          await tx.insert(accountEvents).values({ accountId: input.accountId, type: 'fair_use.api_suspended', data: { incident_id: incident.id, until: apiSuspendedUntil.toISOString() } });
          actions.push(`suspend_api:${apiSuspendedUntil.toISOString()}`);
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
              postLedgerEntry(sp, { accountId: input.accountId, type: 'fee', money: { amount, currency: account.currency }, reason: 'Fair-use handling fee', reference: `incident:${incident.id}` }),
            );
            actions.push(`fee:${entry.id}`);
          } catch (err) {
            if (!(err instanceof InsufficientFunds)) throw err;
            actions.push('fee_failed:insufficient_funds');
          }
          break;
        }
        case 'termination_review':
          await tx.update(accounts).set({ terminationReview: true, updatedAt: new Date() }).where(eq(accounts.id, input.accountId));
          actions.push('termination_review');
          break;
      }
    }
    if (actions.length > 0) {
      await tx.update(fairUseIncidents).set({ actions }).where(eq(fairUseIncidents.id, incident.id));
    }
    return { id: incident.id, openInPeriod: n, actions, apiSuspendedUntil };
  });
}

// Fair use as a reseller sees it (their standing) and as an operator sets it (limits, costs and
// guard exemptions, R-API-1, R-API-2): the queries behind /v1/fair-use and /v1/admin/fair-use.
import { asc, desc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { fairUseIncidents, guardExemptions, operationCosts, rateLimitPolicies } from '../../db/schema/index.js';
import { invalidField, NotFound } from '../../errors.js';
import type { BucketPolicy } from '../../lib/token-bucket.js';
import type { AccountReader } from '../accounts/api.js';
import type { BucketBackend } from './buckets.js';
import { commandsOn, noticedCount, utcDay } from './bulk.js';
import { ladderStanding } from './incidents.js';
import type { BucketScope, FairUsePolicy } from './policy.js';

export interface FairUseDeps {
  db: Db;
  accounts: AccountReader;
  /** The limits and costs in force (the rate-limit plugin refreshes them). */
  policy: FairUsePolicy;
  buckets: BucketBackend;
  periodDays: number;
  bulkThreshold: number;
  bulkCeiling: number;
}

export type FairUseIncidentRow = typeof fairUseIncidents.$inferSelect;

const listCosts = (db: Db) => db.select().from(operationCosts).orderBy(asc(operationCosts.operationId));

/** An account's standing: its suspension, the ladder's count, today's orders, and its buckets as they are now. */
async function standingOf(d: FairUseDeps, accountId: string, mine: { scope: BucketScope; key: string }[]) {
  const day = utcDay();
  const [account, standing, incidents, commands, noticed] = await Promise.all([
    d.accounts.getAccount(accountId),
    ladderStanding(d.db, accountId, new Date(), d.periodDays),
    d.db
      .select()
      .from(fairUseIncidents)
      .where(eq(fairUseIncidents.accountId, accountId))
      .orderBy(desc(fairUseIncidents.id))
      .limit(20),
    commandsOn(d.db, accountId, day),
    noticedCount(d.db, accountId, day),
  ]);
  const policies: BucketPolicy[] = mine.map((b) => d.policy.bucket(b.scope));
  const tokens = await d.buckets.peek(
    mine.map((b) => b.key),
    policies,
  );
  const costs = await listCosts(d.db);
  return {
    account,
    standing,
    incidents,
    today: { day, commands, threshold: d.bulkThreshold, ceiling: d.bulkCeiling, noticed },
    periodDays: d.periodDays,
    buckets: mine.map((b, i) => ({ scope: b.scope, policy: policies[i]!, remaining: tokens[i]! })),
    costs,
  };
}

async function limitsAndCosts(d: FairUseDeps) {
  const [limits, costs] = await Promise.all([
    d.db.select().from(rateLimitPolicies).orderBy(asc(rateLimitPolicies.scope)),
    listCosts(d.db),
  ]);
  return { limits, costs };
}

// Every change is applied on this instance at once (policy.refresh) and on the others within
// FAIR_USE_REFRESH_MS.

/**
 * R-API-1: a call is served only when every bucket it spends holds its cost. A cost above the
 * capacity of the credential or account bucket is refused when it is set; a bucket made smaller than
 * a cost later caps that cost at a full bucket when it is spent (plugins/rate-limit.ts).
 */
const SPENT_BY_COMMANDS: BucketScope[] = ['credential', 'account'];

async function setLimit(d: FairUseDeps, scope: BucketScope, limit: { capacity: number; refillPerMinute: number }) {
  const [row] = await d.db
    .insert(rateLimitPolicies)
    .values({ scope, capacity: limit.capacity, refillPerMinute: limit.refillPerMinute })
    .onConflictDoUpdate({
      target: rateLimitPolicies.scope,
      set: { capacity: limit.capacity, refillPerMinute: limit.refillPerMinute, updatedAt: new Date() },
    })
    .returning();
  await d.policy.refresh();
  return row!;
}

async function setCost(d: FairUseDeps, operationId: string, cost: number) {
  const capacity = Math.min(...SPENT_BY_COMMANDS.map((scope) => d.policy.bucket(scope).capacity));
  if (cost > capacity)
    invalidField(
      '/body/cost',
      'cost_above_capacity',
      `A call would need ${cost} tokens from a bucket that holds ${capacity}: it could never be served`,
    );
  const [row] = await d.db
    .insert(operationCosts)
    .values({ operationId, cost })
    .onConflictDoUpdate({ target: operationCosts.operationId, set: { cost, updatedAt: new Date() } })
    .returning();
  await d.policy.refresh();
  return row!;
}

/** Back to the default cost of 1; 404 when the operation has it already. */
async function resetCost(d: FairUseDeps, operationId: string): Promise<void> {
  const gone = await d.db.delete(operationCosts).where(eq(operationCosts.operationId, operationId)).returning();
  if (gone.length === 0) throw new NotFound('That operation has the default cost');
  await d.policy.refresh();
}

const listGuardExemptions = (d: FairUseDeps) =>
  d.db.select().from(guardExemptions).orderBy(asc(guardExemptions.operationId));

async function setGuardExemption(d: FairUseDeps, operationId: string, reason: string) {
  const [row] = await d.db
    .insert(guardExemptions)
    .values({ operationId, reason })
    .onConflictDoUpdate({ target: guardExemptions.operationId, set: { reason } })
    .returning();
  await d.policy.refresh();
  return row!;
}

/** Guards the operation again; 404 when it was not exempt. */
async function removeGuardExemption(d: FairUseDeps, operationId: string): Promise<void> {
  const gone = await d.db.delete(guardExemptions).where(eq(guardExemptions.operationId, operationId)).returning();
  if (gone.length === 0) throw new NotFound('That operation is not exempt');
  await d.policy.refresh();
}

export function createFairUseService(deps: FairUseDeps) {
  return {
    standingOf: (accountId: string, mine: { scope: BucketScope; key: string }[]) => standingOf(deps, accountId, mine),
    limitsAndCosts: () => limitsAndCosts(deps),
    setLimit: (scope: BucketScope, limit: { capacity: number; refillPerMinute: number }) =>
      setLimit(deps, scope, limit),
    setCost: (operationId: string, cost: number) => setCost(deps, operationId, cost),
    resetCost: (operationId: string) => resetCost(deps, operationId),
    listGuardExemptions: () => listGuardExemptions(deps),
    setGuardExemption: (operationId: string, reason: string) => setGuardExemption(deps, operationId, reason),
    removeGuardExemption: (operationId: string) => removeGuardExemption(deps, operationId),
  };
}
export type FairUseService = ReturnType<typeof createFairUseService>;

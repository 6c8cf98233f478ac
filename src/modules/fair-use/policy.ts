// The limits and costs in force, read from the database and refreshed every few seconds, so an
// operator's change reaches every instance without a restart (R-API-1).
import type { Db } from '../../db/client.js';
import { guardExemptions, operationCosts, rateLimitPolicies } from '../../db/schema/index.js';
import type { BucketPolicy } from '../../lib/token-bucket.js';

export type BucketScope = 'credential' | 'account' | 'address';

const FALLBACK: Record<BucketScope, BucketPolicy> = {
  credential: { capacity: 300, refillPerSecond: 10 },
  account: { capacity: 1000, refillPerSecond: 30 },
  address: { capacity: 60, refillPerSecond: 1 },
};

export class FairUsePolicy {
  private buckets: Record<BucketScope, BucketPolicy> = { ...FALLBACK };
  private costs = new Map<string, number>();
  private exempt = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Db) {}

  bucket(scope: BucketScope): BucketPolicy {
    return this.buckets[scope];
  }

  cost(operationId: string | undefined): number {
    return (operationId && this.costs.get(operationId)) || 1;
  }

  /** R-API-2: operations the repeated-failure guard leaves alone. */
  guardExempt(operationId: string): boolean {
    return this.exempt.has(operationId);
  }

  async refresh(): Promise<void> {
    const [policies, costs, exempt] = await Promise.all([
      this.db.select().from(rateLimitPolicies),
      this.db.select().from(operationCosts),
      this.db.select().from(guardExemptions),
    ]);
    const buckets = { ...FALLBACK };
    for (const p of policies) {
      if (p.scope in buckets)
        buckets[p.scope as BucketScope] = { capacity: p.capacity, refillPerSecond: p.refillPerMinute / 60 };
    }
    this.buckets = buckets;
    this.costs = new Map(costs.map((c) => [c.operationId, c.cost]));
    this.exempt = new Set(exempt.map((e) => e.operationId));
  }

  /** Keeps refreshing until stop(); a failed refresh keeps the last good policy. */
  start(intervalMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => void this.refresh().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

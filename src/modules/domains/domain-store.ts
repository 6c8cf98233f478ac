// Reads of an account's domains for the list and the single view.
import { and, asc, eq, gt, lt, notInArray } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { domainChecks, domains } from '../../db/schema/index.js';

export type DomainListRow = typeof domains.$inferSelect;
type DomainStatusValue = DomainListRow['status'];

export interface DomainFilter {
  /** Only names after this one (the cursor's position). */
  after?: string | undefined;
  tld?: string | undefined;
  /** A status, or 'all' (the status type is a string). Default: every status but released and transferred_out. */
  status?: DomainStatusValue | undefined;
  limit: number;
}

/** By name, up to limit + 1 so the caller knows whether another page follows. */
export function listDomains(db: Db, accountId: string, f: DomainFilter): Promise<DomainListRow[]> {
  const statusFilter =
    f.status === 'all'
      ? undefined
      : f.status
        ? eq(domains.status, f.status)
        : notInArray(domains.status, ['released', 'transferred_out']);
  return db
    .select()
    .from(domains)
    .where(
      and(
        eq(domains.accountId, accountId),
        f.after ? gt(domains.name, f.after) : undefined,
        f.tld ? eq(domains.tld, f.tld) : undefined,
        statusFilter,
      ),
    )
    .orderBy(asc(domains.name))
    .limit(f.limit + 1);
}

/** The account's domain of that name, whatever its status. */
export async function findDomain(db: Db, accountId: string, name: string): Promise<DomainListRow | undefined> {
  const [row] = await db
    .select()
    .from(domains)
    .where(and(eq(domains.accountId, accountId), eq(domains.name, name)));
  return row;
}

/** Checks older than the R-DOM-2 window serve nothing any more. */
export function deleteStaleChecks(db: Db, checkWindowS: number, now: Date) {
  return db
    .delete(domainChecks)
    .where(lt(domainChecks.checkedAt, new Date(now.getTime() - checkWindowS * 1000)))
    .returning({ name: domainChecks.name });
}

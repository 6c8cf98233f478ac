// Reads of transfers as their two accounts see them: the gaining one (in) and the losing one (out).
import { and, desc, eq, lt, or } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { domainTransfers } from '../../db/schema/index.js';
import { NotFound } from '../../errors.js';
import type { TransferRow } from './transfer-service.js';

export interface TransferFilter {
  direction?: 'in' | 'out' | undefined;
  status?: TransferRow['status'] | undefined;
  /** Only transfers before this position (the cursor's), newest first. */
  after?: { t: Date; id: string } | undefined;
  limit: number;
}

/** Newest first, up to limit + 1 so the caller knows whether another page follows. */
export function listTransfers(db: Db, accountId: string, f: TransferFilter): Promise<TransferRow[]> {
  const side =
    f.direction === 'out' ? eq(domainTransfers.losingAccountId, accountId) : eq(domainTransfers.accountId, accountId);
  const after = f.after;
  return db
    .select()
    .from(domainTransfers)
    .where(
      and(
        side,
        f.status ? eq(domainTransfers.status, f.status) : undefined,
        after
          ? or(
              lt(domainTransfers.requestedAt, after.t),
              and(eq(domainTransfers.requestedAt, after.t), lt(domainTransfers.id, after.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(domainTransfers.requestedAt), desc(domainTransfers.id))
    .limit(f.limit + 1);
}

/** A transfer in or out of the account; 404 otherwise. */
export async function getTransfer(db: Db, accountId: string, id: string): Promise<TransferRow> {
  const [t] = await db
    .select()
    .from(domainTransfers)
    .where(
      and(
        eq(domainTransfers.id, id),
        or(eq(domainTransfers.accountId, accountId), eq(domainTransfers.losingAccountId, accountId)),
      ),
    );
  if (!t) throw new NotFound('No such transfer');
  return t;
}

// Reads of an account's users for other areas (e-mail notifications): which of some user ids are
// active users of an account, with their current e-mail address.
import { and, eq, inArray } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { users } from '../../db/schema/index.js';

export interface UserContact {
  id: string;
  email: string;
}

/** Those of `ids` that are active users of `accountId`, with their e-mail now (others are left out). */
export async function activeUsersOf(tx: Tx, accountId: string, ids: readonly string[]): Promise<UserContact[]> {
  if (ids.length === 0) return [];
  return tx
    .select({ id: users.id, email: users.email })
    .from(users)
    .where(and(eq(users.accountId, accountId), eq(users.status, 'active'), inArray(users.id, [...ids])));
}

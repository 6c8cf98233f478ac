// What the accounts area offers other areas: the tenant of a request and reads of an account.
import type { Db } from '../../db/client.js';
import { getAccount } from './service.js';

export { tenantOf } from './tenancy.js';
export type { Principal } from './credentials.js';
export type { AccountRow } from './service.js';
// Field schemas other areas' request bodies reuse.
export { Country, Email, Phone } from './schemas.js';

/** Reads of accounts for other areas' services. */
export function createAccountReader(deps: { db: Db }) {
  return { getAccount: (accountId: string) => getAccount(deps.db, accountId) };
}
export type AccountReader = ReturnType<typeof createAccountReader>;

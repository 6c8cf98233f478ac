// What the accounts area offers other areas: the tenant of a request and reads of an account.
import type { Db } from '../../db/client.js';
import { getAccount } from './service.js';

export { tenantOf } from './tenancy.js';
export type { Principal } from './credentials.js';
export type { AccountRow } from './service.js';
// What the auth plugin needs: credential lookup, nonces, each operation's permission, its errors.
export { createCredentialLookup, type CredentialRecord } from './credentials.js';
export { postgresNonceStore } from './nonce-store.js';
export { applyOperationPermission } from './operation-permissions.js';
export { assertHolds, type Permission } from './permissions.js';
export {
  AccountSuspended,
  AccountTerminated,
  ApiSuspended,
  AuthenticationRequired,
  CredentialRevoked,
  InvalidCredentials,
  IpNotAllowed,
  NonceReused,
  PermissionDenied,
  SignatureExpired,
  SignatureInvalid,
  TokenExpired,
  TwoFactorEnrolmentRequired,
} from './errors.js';
// Field schemas other areas' request bodies reuse.
export { Country, Email, Phone } from './schemas.js';
// Active users of an account and their current e-mail (e-mail notifications).
export { activeUsersOf, type UserContact } from './user-directory.js';

/** Reads of accounts for other areas' services. */
export function createAccountReader(deps: { db: Db }) {
  return { getAccount: (accountId: string) => getAccount(deps.db, accountId) };
}
export type AccountReader = ReturnType<typeof createAccountReader>;

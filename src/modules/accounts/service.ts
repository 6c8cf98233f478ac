// Reseller accounts and their users (R-SEC-1, R-SEC-2, R-SEC-4, R-SEC-6). Every function that
// reads or changes a tenant's object takes the caller's principal and filters by its account:
// another tenant's object is "not found", never "forbidden".
import { and, asc, count, eq, gt, inArray, isNull, ne, sql } from 'drizzle-orm';
import { isUniqueViolation, type Db } from '../../db/client.js';
import { accounts, apiKeys, sessions, users } from '../../db/schema/index.js';
import { NotFound } from '../../errors.js';
import { bindDeps } from '../../lib/bind-deps.js';
import { addressAllowed, normaliseAllowlist, parseAllowlist } from '../../lib/cidr.js';
import { credit, setLowBalanceThreshold } from '../billing/api.js';
import type { Principal } from './credentials.js';
import { tenantOf } from './tenancy.js';
import {
  AccountNotActive,
  AllowlistWouldLockOut,
  ContactEmailInUse,
  InvalidAllowlist,
  LastOwner,
  PermissionDenied,
  RoleNotAssignable,
  TwoFactorNeededForPolicy,
  UsernameTaken,
  WrongPassword,
} from './errors.js';
import { clearUsernameFailures } from './login-lockout.js';
import { assertStrongPassword, hashPassword, verifyPassword } from './passwords.js';
import { assertMayActOnUser } from './operation-permissions.js';
import { mayAssignRole, mayGrantRole, type ResellerRole } from './permissions.js';

export type AccountRow = typeof accounts.$inferSelect;
export type UserRow = typeof users.$inferSelect;

export function validAllowlist(entries: readonly string[], pointer: string): string[] {
  const { valid, invalid } = normaliseAllowlist(entries);
  if (invalid.length > 0) {
    throw new InvalidAllowlist(invalid.map((e) => e.reason).join('; '), {
      errors: invalid.map((e) => ({ pointer: `${pointer}/${e.index}`, code: 'invalid_allowlist', message: e.reason })),
    });
  }
  return valid;
}

// ---- accounts -----------------------------------------------------------------------------

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * A contact address belongs to one account at a time (any case), so that e-mail from it names one
 * account (R-TKT-10): another account could otherwise copy a reseller's address and have its mail
 * refused as ambiguous. Terminated accounts release theirs. The transaction lock on the address
 * keeps two accounts from taking it at once.
 */
async function assertContactEmailFree(tx: Tx, email: string, accountId: string | null): Promise<void> {
  const address = email.trim().toLowerCase();
  if (accountId) {
    // An account keeps the address it has (sent again with a form, in any case), even where
    // accounts made before this rule share one.
    const [own] = await tx.select({ email: accounts.contactEmail }).from(accounts).where(eq(accounts.id, accountId));
    if (own && own.email.trim().toLowerCase() === address) return;
  }
  await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`contact-email ${address}`}))`);
  const [other] = await tx
    .select({ id: accounts.id })
    .from(accounts)
    .where(
      and(
        sql`lower(trim(${accounts.contactEmail})) = ${address}`,
        ne(accounts.status, 'terminated'),
        accountId ? ne(accounts.id, accountId) : undefined,
      ),
    )
    .limit(1);
  if (other) throw new ContactEmailInUse();
}

export interface NewAccount {
  name: string;
  companyName: string;
  contactEmail: string;
  contactPhone: string;
  country: string;
  address: string;
  currency: string;
  creditLimit: number;
  owner: { username: string; email: string; name: string; password: string };
}

/** Operators create an account together with its first owner. */
export async function createAccount(db: Db, input: NewAccount): Promise<{ account: AccountRow; owner: UserRow }> {
  assertStrongPassword(
    input.owner.password,
    [input.owner.username, input.owner.email, input.name, input.companyName],
    '/body/owner/password',
  );
  const passwordHash = await hashPassword(input.owner.password);
  try {
    return await db.transaction(async (tx) => {
      await assertContactEmailFree(tx, input.contactEmail, null);
      const [account] = await tx
        .insert(accounts)
        .values({
          name: input.name,
          companyName: input.companyName,
          contactEmail: input.contactEmail,
          contactPhone: input.contactPhone,
          country: input.country,
          address: input.address,
          currency: input.currency,
          creditLimit: input.creditLimit,
        })
        .returning();
      const [owner] = await tx
        .insert(users)
        .values({
          accountId: account!.id,
          username: input.owner.username,
          email: input.owner.email,
          name: input.owner.name,
          role: 'owner',
          passwordHash,
        })
        .returning();
      return { account: account!, owner: owner! };
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new UsernameTaken(`The username ${input.owner.username} is taken`);
    throw err;
  }
}

export async function getAccount(db: Db, accountId: string): Promise<AccountRow> {
  const [row] = await db.select().from(accounts).where(eq(accounts.id, accountId));
  if (!row) throw new NotFound('No such account');
  return row;
}

export async function listAccounts(
  db: Db,
  opts: { limit: number; after?: string; status?: AccountRow['status'] },
): Promise<AccountRow[]> {
  return db
    .select()
    .from(accounts)
    .where(
      and(
        opts.after ? gt(accounts.id, opts.after) : undefined,
        opts.status ? eq(accounts.status, opts.status) : undefined,
      ),
    )
    .orderBy(asc(accounts.id))
    .limit(opts.limit + 1);
}

export type AccountPatch = Partial<
  Pick<AccountRow, 'name' | 'companyName' | 'contactEmail' | 'contactPhone' | 'country' | 'address' | 'creditLimit'>
>;

export async function updateAccount(db: Db, accountId: string, patch: AccountPatch): Promise<AccountRow> {
  return db.transaction(async (tx) => {
    if (patch.contactEmail !== undefined) await assertContactEmailFree(tx, patch.contactEmail, accountId);
    const [row] = await tx
      .update(accounts)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(accounts.id, accountId))
      .returning();
    if (!row) throw new NotFound('No such account');
    return row;
  });
}

/**
 * Resellers edit their contact data, the 2FA policy (only someone with 2FA may require it) and the
 * low-balance threshold (billing's rule: setLowBalanceThreshold, in the same transaction).
 */
export async function updateOwnAccount(
  db: Db,
  principal: Principal,
  patch: AccountPatch & {
    requireTwoFactor?: boolean;
    lowBalanceThreshold?: { amount: number; currency: string } | null;
  },
): Promise<AccountRow & { sessionsRevoked: boolean }> {
  const accountId = tenantOf(principal);
  const { lowBalanceThreshold, ...fields } = patch;
  return db.transaction(async (tx) => {
    const at = new Date();
    const [before] = await tx
      .select({ requireTwoFactor: accounts.requireTwoFactor })
      .from(accounts)
      .where(eq(accounts.id, accountId))
      .for('update');
    // R-SEC-3: the requirement is set, and lifted, only by someone with a second factor: otherwise
    // a user it sends to enrolment could lift it with an API key made before it was switched on.
    const changes = fields.requireTwoFactor !== undefined && fields.requireTwoFactor !== before?.requireTwoFactor;
    if (fields.requireTwoFactor === true || changes) {
      const [me] = await tx
        .select({ totpEnabled: users.totpEnabled })
        .from(users)
        .where(eq(users.id, principal.userId));
      if (!me?.totpEnabled)
        throw new TwoFactorNeededForPolicy(
          fields.requireTwoFactor
            ? undefined
            : 'Only a user with two-factor authentication enabled may lift the requirement',
        );
    }
    if (fields.contactEmail !== undefined) await assertContactEmailFree(tx, fields.contactEmail, accountId);
    if (lowBalanceThreshold !== undefined) await setLowBalanceThreshold(tx, accountId, lowBalanceThreshold, at);
    const [row] = await tx
      .update(accounts)
      .set({ ...fields, updatedAt: at })
      .where(eq(accounts.id, accountId))
      .returning();
    // R-SEC-3: once the account requires 2FA, no session of a user without it stays open; they log
    // in again, which takes them to enrolment. Only when the requirement is switched on (a form sent
    // again with it still on signs nobody out), and enrolments under way keep their sessions. API
    // keys are kept (see the README).
    const switchedOn = fields.requireTwoFactor === true && before?.requireTwoFactor === false;
    if (switchedOn) await revokeSessionsWithoutTwoFactor(tx, accountId, at);
    return Object.assign(row!, { sessionsRevoked: switchedOn });
  });
}

/** Revokes every open session of the account's users who have no second factor. */
async function revokeSessionsWithoutTwoFactor(
  tx: Db | Parameters<Parameters<Db['transaction']>[0]>[0],
  accountId: string,
  at: Date,
): Promise<void> {
  await tx
    .update(sessions)
    .set({ revokedAt: at })
    .where(
      and(
        isNull(sessions.revokedAt),
        eq(sessions.enrolmentOnly, false),
        inArray(
          sessions.userId,
          tx
            .select({ id: users.id })
            .from(users)
            .where(and(eq(users.accountId, accountId), eq(users.totpEnabled, false))),
        ),
      ),
    );
}

export async function setAccountStatus(
  db: Db,
  accountId: string,
  to: 'active' | 'suspended',
  reason: string | null,
): Promise<AccountRow> {
  const current = await getAccount(db, accountId);
  if (current.status === 'terminated') throw new AccountNotActive('A terminated account cannot change status');
  const [row] = await db
    .update(accounts)
    .set({ status: to, suspendedReason: to === 'suspended' ? reason : null, updatedAt: new Date() })
    .where(eq(accounts.id, accountId))
    .returning();
  return row!;
}

/** A list that would exclude the address the change comes from is refused unless confirmed. */
export async function replaceAccountAllowlist(
  db: Db,
  principal: Principal,
  entries: readonly string[],
  from: { address: string; confirm: boolean },
): Promise<string[]> {
  const normalised = validAllowlist(entries, '/body/entries');
  if (!from.confirm && !addressAllowed(from.address, parseAllowlist(normalised))) {
    throw new AllowlistWouldLockOut(
      `${from.address} is not in the new list; send confirm: true to lock yourself out anyway`,
    );
  }
  return setAccountAllowlist(db, tenantOf(principal), normalised);
}

/**
 * Sets an account's allowlist. Operators call it directly (`PUT /v1/admin/accounts/{id}/ip-allowlist`):
 * the way back for an account that locked itself out, which no credential of its own can undo.
 */
export async function setAccountAllowlist(db: Db, accountId: string, entries: readonly string[]): Promise<string[]> {
  const list = validAllowlist(entries, '/body/entries');
  const [row] = await db
    .update(accounts)
    .set({ ipAllowlist: list, updatedAt: new Date() })
    .where(eq(accounts.id, accountId))
    .returning({ id: accounts.id });
  if (!row) throw new NotFound('No such account');
  return list;
}

// ---- users --------------------------------------------------------------------------------

/**
 * A user of the caller's account; to an operator, only their own user (their profile, password and
 * second factor: R-SEC-3 is per user), never another operator's nor a reseller's.
 */
export async function getUserInAccount(db: Db, principal: Principal, userId: string): Promise<UserRow> {
  const where =
    principal.accountId === null && principal.role === 'operator'
      ? and(eq(users.id, userId), eq(users.id, principal.userId), isNull(users.accountId))
      : and(eq(users.id, userId), eq(users.accountId, tenantOf(principal)));
  const [row] = await db.select().from(users).where(where);
  if (!row) throw new NotFound('No such user');
  return row;
}

/** Self, or someone who may read users. */
export async function getUserVisibleTo(db: Db, principal: Principal, userId: string): Promise<UserRow> {
  const user = await getUserInAccount(db, principal, userId);
  assertMayActOnUser(principal, user, 'getUser');
  return user;
}

export async function listUsers(
  db: Db,
  principal: Principal,
  opts: { limit: number; after?: string },
): Promise<UserRow[]> {
  const accountId = tenantOf(principal);
  return db
    .select()
    .from(users)
    .where(and(eq(users.accountId, accountId), opts.after ? gt(users.id, opts.after) : undefined))
    .orderBy(asc(users.id))
    .limit(opts.limit + 1);
}

export interface NewUser {
  username: string;
  email: string;
  name: string;
  role: ResellerRole;
  password: string;
  ipAllowlist?: string[];
}

export async function createUser(db: Db, principal: Principal, input: NewUser): Promise<UserRow> {
  const accountId = tenantOf(principal);
  if (!mayGrantRole(principal, input.role))
    throw new RoleNotAssignable(
      mayAssignRole(principal.role, input.role)
        ? `This API key's scopes do not hold every permission of a ${input.role}`
        : `A ${principal.role} cannot create a ${input.role}`,
    );
  assertStrongPassword(input.password, [input.username, input.email, input.name]);
  const ipAllowlist = validAllowlist(input.ipAllowlist ?? [], '/body/ip_allowlist');
  const passwordHash = await hashPassword(input.password);
  try {
    const [row] = await db
      .insert(users)
      .values({
        accountId,
        username: input.username,
        email: input.email,
        name: input.name,
        role: input.role,
        passwordHash,
        ipAllowlist,
      })
      .returning();
    return row!;
  } catch (err) {
    if (isUniqueViolation(err)) throw new UsernameTaken(`The username ${input.username} is taken`);
    throw err;
  }
}

/**
 * The account's other active owners, their rows locked: two owners demoting or disabling each other
 * at once cannot both see the other still there and leave the account with none.
 */
async function activeOwners(tx: Tx, accountId: string, except: string): Promise<number> {
  const rows = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.accountId, accountId), eq(users.role, 'owner'), eq(users.status, 'active')))
    .orderBy(asc(users.id))
    .for('update');
  return rows.filter((r) => r.id !== except).length;
}

export interface UserPatch {
  name?: string;
  email?: string;
  role?: ResellerRole;
  status?: 'active' | 'disabled';
  ipAllowlist?: string[];
}

/**
 * Users edit their own name and e-mail; role, status and allowlist need users:write. Another user
 * is changed only by someone who could assign their role (R-SEC-8: the e-mail resets passwords).
 */
export async function updateUser(
  db: Db,
  principal: Principal,
  userId: string,
  patch: UserPatch,
  operation: 'updateUser' | 'disableUser' = 'updateUser',
): Promise<{ user: UserRow; credentialsChanged: boolean }> {
  const target = await getUserInAccount(db, principal, userId);
  assertMayActOnUser(principal, target, operation);
  const privileged = patch.role !== undefined || patch.status !== undefined || patch.ipAllowlist !== undefined;
  if (privileged && !principal.permissions.has('users:write'))
    throw new PermissionDenied('Changing a role, status or allowlist needs the users:write permission');
  if (patch.role !== undefined && (!mayGrantRole(principal, patch.role) || !mayGrantRole(principal, target.role))) {
    throw new RoleNotAssignable(
      mayAssignRole(principal.role, patch.role) && mayAssignRole(principal.role, target.role)
        ? `This API key's scopes do not hold every permission of a ${patch.role} and a ${target.role}`
        : `A ${principal.role} cannot change a ${target.role} into a ${patch.role}`,
    );
  }
  const ipAllowlist = patch.ipAllowlist ? validAllowlist(patch.ipAllowlist, '/body/ip_allowlist') : undefined;
  return db.transaction(async (tx) => {
    const losesOwnership =
      target.role === 'owner' && ((patch.role !== undefined && patch.role !== 'owner') || patch.status === 'disabled');
    if (losesOwnership && (await activeOwners(tx, target.accountId!, target.id)) === 0) throw new LastOwner();
    const [user] = await tx
      .update(users)
      .set({ ...patch, ...(ipAllowlist ? { ipAllowlist } : {}), updatedAt: new Date() })
      .where(eq(users.id, target.id))
      .returning();
    const credentialsChanged = patch.status === 'disabled' || patch.role !== undefined || ipAllowlist !== undefined;
    if (patch.status === 'disabled') await revokeUserCredentials(tx, target.id);
    return { user: user!, credentialsChanged };
  });
}

export async function revokeUserCredentials(
  tx: Db | Parameters<Parameters<Db['transaction']>[0]>[0],
  userId: string,
  keepSessionId?: string,
): Promise<void> {
  const now = new Date();
  await tx
    .update(sessions)
    .set({ revokedAt: now })
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        keepSessionId ? ne(sessions.id, keepSessionId) : undefined,
      ),
    );
  await tx
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)));
}

/**
 * Self: needs the current password; other sessions are signed out. Admin reset (users:write, same
 * account, role it may assign: R-SEC-8): no current password; every session and key of the user is revoked.
 */
export async function changePassword(
  db: Db,
  principal: Principal,
  userId: string,
  input: { currentPassword?: string; newPassword: string },
): Promise<void> {
  const target = await getUserInAccount(db, principal, userId);
  assertMayActOnUser(principal, target, 'setUserPassword');
  const self = target.id === principal.userId;
  if (self && (!input.currentPassword || !(await verifyPassword(target.passwordHash, input.currentPassword))))
    throw new WrongPassword();
  assertStrongPassword(input.newPassword, [target.username, target.email, target.name], '/body/new_password');
  const passwordHash = await hashPassword(input.newPassword);
  await db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ passwordHash, passwordChangedAt: new Date(), lockedUntil: null, updatedAt: new Date() })
      .where(eq(users.id, target.id));
    await clearUsernameFailures(tx, target.username);
    if (self) {
      await tx
        .update(sessions)
        .set({ revokedAt: new Date() })
        .where(
          and(
            eq(sessions.userId, target.id),
            isNull(sessions.revokedAt),
            principal.credential.type === 'session' ? ne(sessions.id, principal.credential.id) : undefined,
          ),
        );
    } else {
      await revokeUserCredentials(tx, target.id);
    }
  });
}

// ---- operators ----------------------------------------------------------------------------

export async function createOperator(
  db: Db,
  input: { username: string; email: string; name: string; password: string },
): Promise<UserRow> {
  assertStrongPassword(input.password, [input.username, input.email, input.name]);
  const passwordHash = await hashPassword(input.password);
  try {
    const [row] = await db
      .insert(users)
      .values({
        accountId: null,
        role: 'operator',
        username: input.username,
        email: input.email,
        name: input.name,
        passwordHash,
      })
      .returning();
    return row!;
  } catch (err) {
    if (isUniqueViolation(err)) throw new UsernameTaken(`The username ${input.username} is taken`);
    throw err;
  }
}

export async function operatorCount(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(users).where(eq(users.role, 'operator'));
  return row?.n ?? 0;
}

// ---- operator credit ----------------------------------------------------------------------

export interface CreditInput {
  money: { amount: number; currency: string };
  reason: string;
  reference?: string | undefined;
  createdBy: string;
}

/** An operator adds funds: one ledger credit in its own transaction. */
export function creditAccount(db: Db, accountId: string, input: CreditInput) {
  return db.transaction((tx) =>
    credit(tx, {
      accountId,
      money: input.money,
      reason: input.reason,
      reference: input.reference,
      createdBy: input.createdBy,
    }),
  );
}

// ---- the service --------------------------------------------------------------------------

/** Accounts and users, for the accounts area's routes and other areas' reads (accounts/api.ts). */
export function createAccountService(deps: { db: Db }) {
  return bindDeps(deps.db, {
    createAccount,
    getAccount,
    listAccounts,
    updateAccount,
    updateOwnAccount,
    setAccountStatus,
    replaceAccountAllowlist,
    setAccountAllowlist,
    creditAccount,
    getUserVisibleTo,
    listUsers,
    createUser,
    updateUser,
    changePassword,
  });
}
export type AccountService = ReturnType<typeof createAccountService>;

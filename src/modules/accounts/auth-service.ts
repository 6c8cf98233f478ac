// Logins and the credentials they hand out: sessions (R-SEC-5), lockout (R-API-5), TOTP and
// recovery codes (R-SEC-3), API keys with scopes and allowlists (R-SEC-4, R-SEC-5).
import { createHash } from 'node:crypto';
import { and, count, desc, eq, gt, isNull, lt, max, sql } from 'drizzle-orm';
import * as OTPAuth from 'otpauth';
import type { Db } from '../../db/client.js';
import { accounts, apiKeys, loginFailures, recoveryCodes, sessions, users } from '../../db/schema/index.js';
import { invalidField, NotFound } from '../../errors.js';
import { addressAllowed, allowlistCovers, parseAllowlist } from '../../lib/cidr.js';
import { newApiKey, newRecoveryCode, newSessionToken } from '../../lib/tokens.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { Principal } from './credentials.js';
import {
  AccountSuspended,
  ApiKeyExpired,
  AccountTerminated,
  InvalidCredentials,
  InvalidTwoFactorCode,
  LoginLocked,
  PermissionDenied,
  ScopeNotPermitted,
  TwoFactorAlreadyEnabled,
  TwoFactorEnrolmentRequired,
  TwoFactorNotEnrolled,
  TwoFactorRequired,
} from './errors.js';
import { clearUsernameFailures, recordUsernameFailure, usernameKey, usernameLockedUntil } from './login-lockout.js';
import { burnPasswordCheck, verifyPassword } from './passwords.js';
import { assertMayActOnUser, refusalToActOnUser } from './operation-permissions.js';
import { ROLE_PERMISSIONS, type Permission } from './permissions.js';
import { getUserInAccount, validAllowlist, type UserRow } from './service.js';
import { tenantOf } from './tenancy.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const TOTP_PERIOD = 30;
const RECOVERY_CODES = 10;
const ENROLMENT_SESSION_MS = 15 * 60_000;

export interface AuthPolicy {
  sessionTtlMs: number;
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  failureWindowS: number;
  lockoutS: number;
}

interface RequestInfo {
  address: string;
  userAgent: string;
}

// ---- login --------------------------------------------------------------------------------

export interface LoginInput {
  username: string;
  password: string;
  totpCode?: string;
  recoveryCode?: string;
}

export interface IssuedSession {
  token: string;
  sessionId: string;
  expiresAt: Date;
  user: UserRow;
}

/**
 * Calls `onUser` as soon as the user is known, so the audit row names whose login failed. From
 * outside, an unknown username, a wrong password, a disabled user and a caller outside the user's
 * allowlist are one and the same: 401 after one argon2 verification, counted against the username
 * and the address alike (R-API-5), so neither the answer, its cost nor the lock tells them apart.
 */
export async function login(
  db: Db,
  box: SecretBox,
  policy: AuthPolicy,
  input: LoginInput,
  req: RequestInfo,
  onUser: (user: UserRow) => void = () => {},
): Promise<IssuedSession> {
  const now = new Date();
  const windowStart = new Date(now.getTime() - policy.failureWindowS * 1000);
  const [byAddress] = await db
    .select({ n: count(), latest: max(loginFailures.at) })
    .from(loginFailures)
    .where(and(eq(loginFailures.address, req.address), gt(loginFailures.at, windowStart)));
  if ((byAddress?.n ?? 0) >= policy.maxFailuresPerAddress && byAddress?.latest) {
    const until = byAddress.latest.getTime() + policy.lockoutS * 1000;
    if (until > now.getTime()) throw lockedError(until - now.getTime(), 'this address');
  }
  const nameLock = await usernameLockedUntil(db, input.username, now);
  if (nameLock) throw lockedError(nameLock.getTime() - now.getTime(), 'this username');

  // The account comes in the same query, so a right password costs no extra round trip to tell.
  const [found] = await db
    .select({ user: users, account: accounts })
    .from(users)
    .leftJoin(accounts, eq(accounts.id, users.accountId))
    // The same folding as the lockout's count (usernameKey): a non-ASCII spelling names nobody.
    .where(sql`lower(${users.username}) = ${usernameKey(input.username)}`);
  const user = found?.user;
  const account = found?.account ?? undefined;
  if (user) onUser(user);
  let admitted = false;
  if (user) {
    const passwordMatches = await verifyPassword(user.passwordHash, input.password);
    const lists = [parseAllowlist(account?.ipAllowlist ?? []), parseAllowlist(user.ipAllowlist)];
    admitted = passwordMatches && user.status === 'active' && lists.every((l) => addressAllowed(req.address, l));
  } else {
    await burnPasswordCheck(input.password);
  }
  if (!user || !admitted) {
    await recordFailure(db, policy, input.username, user ?? null, req.address, now);
    throw new InvalidCredentials('Wrong username or password');
  }

  if (account?.status === 'suspended') throw new AccountSuspended();
  if (account?.status === 'terminated') throw new AccountTerminated();

  if (user.totpEnabled) {
    if (input.totpCode) {
      if (!(await acceptTotp(db, box, user, input.totpCode))) {
        await recordFailure(db, policy, input.username, user, req.address, now);
        throw new InvalidTwoFactorCode();
      }
    } else if (input.recoveryCode) {
      if (!(await consumeRecoveryCode(db, user.id, input.recoveryCode))) {
        await recordFailure(db, policy, input.username, user, req.address, now);
        throw new InvalidTwoFactorCode();
      }
    } else {
      throw new TwoFactorRequired('Send totp_code (or one of your recovery codes as recovery_code)');
    }
  } else if (account?.requireTwoFactor) {
    const enrolment = await issueSession(db, user, req, ENROLMENT_SESSION_MS, true);
    throw new TwoFactorEnrolmentRequired(
      'Enrol two-factor authentication with the enrolment token, then log in again',
      {
        extensions: {
          enrolment_token: enrolment.token,
          user_id: user.id,
          expires_at: enrolment.expiresAt.toISOString(),
        },
      },
    );
  }

  await clearUsernameFailures(db, input.username);
  await db.update(users).set({ lockedUntil: null, lastLoginAt: new Date() }).where(eq(users.id, user.id));
  return issueSession(db, user, req, policy.sessionTtlMs, false);
}

function lockedError(remainingMs: number, what: string) {
  const seconds = Math.max(1, Math.ceil(remainingMs / 1000));
  return new LoginLocked(`Too many failed logins for ${what}; try again in ${seconds} s`, {
    headers: { 'retry-after': String(seconds) },
    extensions: { retry_after_seconds: seconds },
  });
}

let failuresRecorded = 0;

async function recordFailure(
  db: Db,
  policy: AuthPolicy,
  username: string,
  user: UserRow | null,
  address: string,
  now: Date,
): Promise<void> {
  await db.insert(loginFailures).values({ address });
  // Rows older than the window no longer count; sweep them now and then so the table stays small.
  if (++failuresRecorded % 200 === 0) {
    await db.delete(loginFailures).where(lt(loginFailures.at, new Date(Date.now() - policy.failureWindowS * 1000)));
  }
  await recordUsernameFailure(db, policy, username, user?.id ?? null, now);
}

async function issueSession(
  db: Db,
  user: UserRow,
  req: RequestInfo,
  ttlMs: number,
  enrolmentOnly: boolean,
): Promise<IssuedSession> {
  const token = newSessionToken();
  const expiresAt = new Date(Date.now() + ttlMs);
  const [row] = await db
    .insert(sessions)
    .values({
      userId: user.id,
      tokenHash: sha256(token),
      expiresAt,
      enrolmentOnly,
      createdAddress: req.address,
      userAgent: req.userAgent.slice(0, 512),
    })
    .returning({ id: sessions.id });
  return { token, sessionId: row!.id, expiresAt, user };
}

// ---- sessions -----------------------------------------------------------------------------

export async function listSessions(db: Db, principal: Principal) {
  return db
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, principal.userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, new Date())))
    .orderBy(desc(sessions.createdAt));
}

/** Own sessions only; anything else is not found (R-SEC-6). */
export async function revokeSession(db: Db, principal: Principal, sessionId: string): Promise<void> {
  const [row] = await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, principal.userId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  if (!row) throw new NotFound('No such session');
}

// ---- two-factor ---------------------------------------------------------------------------

function totpFor(user: Pick<UserRow, 'username'>, secretBase32: string) {
  return new OTPAuth.TOTP({
    issuer: 'reseller-api',
    label: user.username,
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD,
    secret: OTPAuth.Secret.fromBase32(secretBase32),
  });
}

/** Accepts a code for the current step +-1, once: the step is remembered so a code cannot be replayed. */
async function acceptTotp(db: Db, box: SecretBox, user: UserRow, code: string): Promise<boolean> {
  if (!user.totpSecret || !/^[0-9]{6}$/.test(code)) return false;
  const timestamp = Date.now();
  const delta = totpFor(user, box.open(user.totpSecret)).validate({ token: code, timestamp, window: 1 });
  if (delta === null) return false;
  const step = Math.floor(timestamp / 1000 / TOTP_PERIOD) + delta;
  const [row] = await db
    .update(users)
    .set({ totpLastStep: step })
    .where(and(eq(users.id, user.id), sql`coalesce(${users.totpLastStep}, -1) < ${step}`))
    .returning({ id: users.id });
  return row !== undefined;
}

const normaliseRecoveryCode = (code: string) =>
  code
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');

async function consumeRecoveryCode(db: Db, userId: string, code: string): Promise<boolean> {
  const [row] = await db
    .update(recoveryCodes)
    .set({ usedAt: new Date() })
    .where(
      and(
        eq(recoveryCodes.userId, userId),
        eq(recoveryCodes.codeHash, sha256(normaliseRecoveryCode(code))),
        isNull(recoveryCodes.usedAt),
      ),
    )
    .returning({ userId: recoveryCodes.userId });
  return row !== undefined;
}

export async function startTwoFactorEnrolment(db: Db, box: SecretBox, principal: Principal, userId: string) {
  const user = await getUserInAccount(db, principal, userId);
  assertMayActOnUser(principal, user, 'startTwoFactorEnrolment');
  if (user.totpEnabled) throw new TwoFactorAlreadyEnabled();
  const secret = new OTPAuth.Secret({ size: 20 }).base32;
  await db
    .update(users)
    .set({ totpSecret: box.seal(secret), totpLastStep: null, updatedAt: new Date() })
    .where(eq(users.id, user.id));
  return { secret, otpauthUri: totpFor(user, secret).toString() };
}

export async function confirmTwoFactor(
  db: Db,
  box: SecretBox,
  principal: Principal,
  userId: string,
  code: string,
): Promise<string[]> {
  const user = await getUserInAccount(db, principal, userId);
  assertMayActOnUser(principal, user, 'confirmTwoFactor');
  if (user.totpEnabled) throw new TwoFactorAlreadyEnabled();
  if (!user.totpSecret) throw new TwoFactorNotEnrolled();
  if (!(await acceptTotp(db, box, user, code))) throw new InvalidTwoFactorCode();
  const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
  await db.transaction(async (tx) => {
    await tx.update(users).set({ totpEnabled: true, updatedAt: new Date() }).where(eq(users.id, user.id));
    await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, user.id));
    await tx
      .insert(recoveryCodes)
      .values(codes.map((c) => ({ userId: user.id, codeHash: sha256(normaliseRecoveryCode(c)) })));
    // The enrolment-only session has served its purpose.
    await tx
      .update(sessions)
      .set({ revokedAt: new Date() })
      .where(and(eq(sessions.userId, user.id), eq(sessions.enrolmentOnly, true), isNull(sessions.revokedAt)));
  });
  return codes;
}

/** Self with a current code, or an admin (users:write, a role it may assign: R-SEC-8) resetting a user who lost the device. */
export async function disableTwoFactor(
  db: Db,
  box: SecretBox,
  principal: Principal,
  userId: string,
  code: string | undefined,
): Promise<{ userId: string; sessionsRevoked: boolean }> {
  const user = await getUserInAccount(db, principal, userId);
  assertMayActOnUser(principal, user, 'disableTwoFactor');
  if (user.id === principal.userId && (!code || !(await acceptTotp(db, box, user, code))))
    throw new InvalidTwoFactorCode('Confirm with a current TOTP code');
  return db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ totpEnabled: false, totpSecret: null, totpLastStep: null, updatedAt: new Date() })
      .where(eq(users.id, user.id));
    await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, user.id));
    // R-SEC-3: in an account that requires 2FA, a user without it keeps no session: the next login
    // leads to enrolment. Returns whether sessions were signed out (the caller drops cached ones).
    const [account] = user.accountId
      ? await tx
          .select({ requireTwoFactor: accounts.requireTwoFactor })
          .from(accounts)
          .where(eq(accounts.id, user.accountId))
      : [];
    if (!account?.requireTwoFactor) return { userId: user.id, sessionsRevoked: false };
    await tx
      .update(sessions)
      .set({ revokedAt: new Date() })
      .where(and(eq(sessions.userId, user.id), isNull(sessions.revokedAt)));
    return { userId: user.id, sessionsRevoked: true };
  });
}

// ---- API keys -----------------------------------------------------------------------------

export type ApiKeyRow = typeof apiKeys.$inferSelect;

export interface NewApiKey {
  name: string;
  scopes: Permission[];
  ipAllowlist?: string[];
  expiresAt?: Date;
}

/**
 * Whose keys a caller looks among: a reseller, its account's users'; an operator, the operators'
 * (an operator's key lets an MTA deliver ticket e-mail without a login: R-TKT-10). A key of the
 * other side answers 404, as another tenant's object does (R-SEC-6).
 */
function keyTenant(principal: Principal) {
  if (principal.role === 'operator') return and(isNull(users.accountId), eq(users.role, 'operator'))!;
  return eq(users.accountId, tenantOf(principal));
}

/**
 * The key a call is made with, when it is one: its allowlist and expiry bound the keys it makes and
 * those it rotates or revokes, as its scopes do (R-SEC-8: nobody hands out more than they hold).
 */
async function callingKey(db: Db, principal: Principal) {
  if (principal.credential.type !== 'api_key') return null;
  const [row] = await db
    .select({ id: apiKeys.id, ipAllowlist: apiKeys.ipAllowlist, expiresAt: apiKeys.expiresAt })
    .from(apiKeys)
    .where(eq(apiKeys.id, principal.credential.id));
  return row ?? null;
}

/**
 * A key acting on another key (rotating or revoking it) may only when that key holds nothing beyond
 * it: no scope it lacks, no address outside its allowlist, no time past its expiry. Otherwise a
 * narrow key could rotate a broad one and take the new secret, or one limited to an address could
 * take a copy usable from anywhere. A login session acts on keys within its role (assertMayActOnUser).
 */
async function assertKeyHoldsNoMore(db: Db, principal: Principal, target: ApiKeyRow): Promise<void> {
  const caller = await callingKey(db, principal);
  if (!caller || caller.id === target.id) return;
  const beyond = [
    ...target.scopes.filter((s) => !principal.permissions.has(s as Permission)).map((s) => `the ${s} scope`),
    ...(caller.ipAllowlist.length > 0 &&
    (target.ipAllowlist.length === 0 || target.ipAllowlist.some((e) => !allowlistCovers(caller.ipAllowlist, e)))
      ? ['addresses outside this key’s allowlist']
      : []),
    ...(caller.expiresAt && (!target.expiresAt || target.expiresAt > caller.expiresAt)
      ? ['a life past this key’s expiry']
      : []),
  ];
  if (beyond.length > 0)
    throw new PermissionDenied(`That key holds more than the key you call with: ${beyond.join(', ')}`);
}

export async function createApiKey(db: Db, box: SecretBox, principal: Principal, input: NewApiKey) {
  keyTenant(principal);
  const held = principal.credential.type === 'api_key' ? principal.permissions : ROLE_PERMISSIONS[principal.role];
  const excess = input.scopes.filter((s) => !held.has(s));
  if (excess.length > 0) {
    throw new ScopeNotPermitted(`You do not hold: ${excess.join(', ')}`, {
      errors: excess.map((s) => ({
        pointer: `/body/scopes/${input.scopes.indexOf(s)}`,
        code: 'scope_not_permitted',
        message: `${s} is not yours to grant`,
      })),
    });
  }
  let ipAllowlist = validAllowlist(input.ipAllowlist ?? [], '/body/ip_allowlist');
  // A key that has expired already would be handed out with a 201 and refused at its first call.
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
    invalidField('/body/expires_at', 'expires_in_past', 'An API key expires after it is created: give a time to come');
  let expiresAt = input.expiresAt ?? null;
  // A key made with a key is bound as that key is: within its allowlist (its own, when none is
  // given) and its life (its expiry, when none is given).
  const caller = await callingKey(db, principal);
  if (caller && caller.ipAllowlist.length > 0) {
    if (ipAllowlist.length === 0) ipAllowlist = caller.ipAllowlist;
    const outside = ipAllowlist.findIndex((e) => !allowlistCovers(caller.ipAllowlist, e));
    if (outside >= 0)
      invalidField(
        `/body/ip_allowlist/${outside}`,
        'outside_key_allowlist',
        'A key made with a key stays within that key’s IP allowlist',
      );
  }
  if (caller?.expiresAt) {
    if (expiresAt && expiresAt > caller.expiresAt)
      invalidField('/body/expires_at', 'expires_after_key', 'A key made with a key expires no later than that key');
    expiresAt ??= caller.expiresAt;
  }
  const fresh = newApiKey();
  const [row] = await db
    .insert(apiKeys)
    .values({
      keyId: fresh.keyId,
      userId: principal.userId,
      name: input.name,
      secretHash: sha256(fresh.key),
      secretSealed: box.seal(fresh.secret),
      scopes: [...new Set(input.scopes)],
      ipAllowlist,
      expiresAt,
    })
    .returning();
  return { row: row!, key: fresh.key, secret: fresh.secret };
}

/**
 * The caller's own active keys, and those of the users it may act on (R-SEC-8: users:read and a
 * role that could assign theirs). An admin's list does not show the owners' keys.
 */
export async function listApiKeys(db: Db, principal: Principal): Promise<ApiKeyRow[]> {
  const rows = await db
    .select({ key: apiKeys, ownerRole: users.role })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(and(keyTenant(principal), isNull(apiKeys.revokedAt)))
    .orderBy(desc(apiKeys.createdAt));
  return rows
    .filter((r) => refusalToActOnUser(principal, { id: r.key.userId, role: r.ownerRole }, 'listApiKeys') === null)
    .map((r) => r.key);
}

/** A key of the caller's side (keyTenant; another's: 404), if the caller may act on its user (else 403). */
export async function getApiKey(
  db: Db,
  principal: Principal,
  id: string,
  operation: 'getApiKey' | 'rotateApiKey' | 'revokeApiKey' = 'getApiKey',
): Promise<ApiKeyRow> {
  const [row] = await db
    .select({ key: apiKeys, ownerRole: users.role })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(and(eq(apiKeys.id, id), keyTenant(principal)));
  if (!row) throw new NotFound('No such API key');
  assertMayActOnUser(principal, { id: row.key.userId, role: row.ownerRole }, operation);
  return row.key;
}

export async function rotateApiKey(db: Db, box: SecretBox, principal: Principal, id: string) {
  const current = await getApiKey(db, principal, id, 'rotateApiKey');
  if (current.revokedAt) throw new NotFound('No such API key');
  await assertKeyHoldsNoMore(db, principal, current);
  if (current.expiresAt && current.expiresAt.getTime() <= Date.now())
    throw new ApiKeyExpired(`The key expired at ${current.expiresAt.toISOString()}; create a new one`);
  const fresh = newApiKey();
  const [row] = await db
    .update(apiKeys)
    .set({
      keyId: fresh.keyId,
      secretHash: sha256(fresh.key),
      secretSealed: box.seal(fresh.secret),
      rotatedAt: new Date(),
    })
    .where(eq(apiKeys.id, current.id))
    .returning();
  return { row: row!, key: fresh.key, secret: fresh.secret };
}

export async function revokeApiKey(db: Db, principal: Principal, id: string): Promise<ApiKeyRow> {
  const current = await getApiKey(db, principal, id, 'revokeApiKey');
  await assertKeyHoldsNoMore(db, principal, current);
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: current.revokedAt ?? new Date() })
    .where(eq(apiKeys.id, current.id))
    .returning();
  return row!;
}

// ---- the service --------------------------------------------------------------------------

/** A login token past its expiry is kept a week (GET /v1/auth/sessions shows it), then deleted. */
export function deleteExpiredSessions(db: Db, now: Date) {
  return db
    .delete(sessions)
    .where(lt(sessions.expiresAt, new Date(now.getTime() - 7 * 86_400_000)))
    .returning({ id: sessions.id });
}

/** Logins, sessions, two-factor and API keys, for the accounts area's routes. */
export function createAuthService(deps: { db: Db; box: SecretBox; policy: AuthPolicy }) {
  const { db, box, policy } = deps;
  return {
    login: (input: LoginInput, req: RequestInfo, onUser?: (user: UserRow) => void) =>
      login(db, box, policy, input, req, onUser),
    listSessions: (principal: Principal) => listSessions(db, principal),
    revokeSession: (principal: Principal, sessionId: string) => revokeSession(db, principal, sessionId),
    startTwoFactorEnrolment: (principal: Principal, userId: string) =>
      startTwoFactorEnrolment(db, box, principal, userId),
    confirmTwoFactor: (principal: Principal, userId: string, code: string) =>
      confirmTwoFactor(db, box, principal, userId, code),
    disableTwoFactor: (principal: Principal, userId: string, code: string | undefined) =>
      disableTwoFactor(db, box, principal, userId, code),
    createApiKey: (principal: Principal, input: NewApiKey) => createApiKey(db, box, principal, input),
    listApiKeys: (principal: Principal) => listApiKeys(db, principal),
    getApiKey: (principal: Principal, id: string) => getApiKey(db, principal, id),
    rotateApiKey: (principal: Principal, id: string) => rotateApiKey(db, box, principal, id),
    revokeApiKey: (principal: Principal, id: string) => revokeApiKey(db, principal, id),
  };
}
export type AuthService = ReturnType<typeof createAuthService>;

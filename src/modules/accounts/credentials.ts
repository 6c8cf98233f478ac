// Resolves a bearer token, API key or signed-request key id to what authorisation needs, with
// prepared queries (per-request hot path) and no argon2: credentials are 256-bit random, so a
// SHA-256 lookup is as strong as the secret.
import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { accounts, apiKeys, sessions, users } from '../../db/schema/index.js';
import { parseAllowlist, type ParsedAllowlist } from '../../lib/cidr.js';
import { ROLE_PERMISSIONS, type Permission, type Role } from './permissions.js';

export interface Principal {
  userId: string;
  username: string;
  accountId: string | null;
  /** The account's billing currency (fixed when the account is made), so hot routes need not read the account. */
  accountCurrency: string | null;
  role: Role;
  permissions: ReadonlySet<Permission>;
  credential: { type: 'session' | 'api_key'; id: string };
  enrolmentOnly: boolean;
}

export interface CredentialRecord {
  principal: Principal;
  expiresAt: number | null;
  revoked: boolean;
  userActive: boolean;
  accountStatus: 'active' | 'suspended' | 'terminated' | null;
  /** R-API-4: API access suspended by the fair-use ladder until then. */
  apiSuspendedUntil: number | null;
  /** Account, user and key lists: the address must pass each non-empty one (R-SEC-4). */
  allowlists: ParsedAllowlist[];
  /** HMAC only: the sealed key secret. */
  secretSealed?: string;
}

const principalColumns = {
  userId: users.id,
  username: users.username,
  accountId: users.accountId,
  role: users.role,
  userStatus: users.status,
  userAllowlist: users.ipAllowlist,
  accountStatus: accounts.status,
  accountCurrency: accounts.currency,
  accountAllowlist: accounts.ipAllowlist,
  apiSuspendedUntil: accounts.apiSuspendedUntil,
};

type PrincipalRow = {
  userId: string;
  username: string;
  accountId: string | null;
  role: Role;
  userStatus: string;
  userAllowlist: string[];
  accountStatus: 'active' | 'suspended' | 'terminated' | null;
  accountCurrency: string | null;
  accountAllowlist: string[] | null;
  apiSuspendedUntil: Date | null;
};

/** The parts of a record every credential type shares, from the user and account columns. */
function toRecord(
  row: PrincipalRow,
  c: {
    credential: Principal['credential'];
    permissions: ReadonlySet<Permission>;
    enrolmentOnly: boolean;
    expiresAt: Date | null;
    revokedAt: Date | null;
    keyAllowlist?: string[];
    secretSealed?: string;
  },
): CredentialRecord {
  return {
    principal: {
      userId: row.userId,
      username: row.username,
      accountId: row.accountId,
      accountCurrency: row.accountCurrency,
      role: row.role,
      permissions: c.permissions,
      credential: c.credential,
      enrolmentOnly: c.enrolmentOnly,
    },
    expiresAt: c.expiresAt?.getTime() ?? null,
    revoked: c.revokedAt !== null,
    userActive: row.userStatus === 'active',
    accountStatus: row.accountStatus,
    apiSuspendedUntil: row.apiSuspendedUntil?.getTime() ?? null,
    allowlists: [
      parseAllowlist(row.accountAllowlist ?? []),
      parseAllowlist(row.userAllowlist),
      ...(c.keyAllowlist ? [parseAllowlist(c.keyAllowlist)] : []),
    ],
    ...(c.secretSealed ? { secretSealed: c.secretSealed } : {}),
  };
}

export function createCredentialLookup(db: Db) {
  const sessionByHash = db
    .select({
      ...principalColumns,
      id: sessions.id,
      expiresAt: sessions.expiresAt,
      revokedAt: sessions.revokedAt,
      enrolmentOnly: sessions.enrolmentOnly,
      totpEnabled: users.totpEnabled,
      requireTwoFactor: accounts.requireTwoFactor,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(accounts, eq(accounts.id, users.accountId))
    .where(eq(sessions.tokenHash, sql.placeholder('hash')))
    .prepare('auth_session_by_hash');

  const keyColumns = {
    ...principalColumns,
    id: apiKeys.id,
    keyId: apiKeys.keyId,
    secretHash: apiKeys.secretHash,
    secretSealed: apiKeys.secretSealed,
    scopes: apiKeys.scopes,
    keyAllowlist: apiKeys.ipAllowlist,
    expiresAt: apiKeys.expiresAt,
    revokedAt: apiKeys.revokedAt,
  };
  const keyQuery = (where: SQL, name: string) =>
    db
      .select(keyColumns)
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .leftJoin(accounts, eq(accounts.id, users.accountId))
      .where(where)
      .prepare(name);
  const keyByHash = keyQuery(eq(apiKeys.secretHash, sql.placeholder('hash')), 'auth_api_key_by_hash');
  const keyById = keyQuery(eq(apiKeys.keyId, sql.placeholder('keyId')), 'auth_api_key_by_id');

  function keyRecord(row: Awaited<ReturnType<typeof keyByHash.execute>>[number]): CredentialRecord {
    const rolePerms = ROLE_PERMISSIONS[row.role];
    return toRecord(row, {
      credential: { type: 'api_key', id: row.id },
      // A key never holds more than its user's role allows now, even if the role shrank after creation.
      permissions: new Set(row.scopes.filter((s): s is Permission => rolePerms.has(s as Permission))),
      enrolmentOnly: false,
      expiresAt: row.expiresAt,
      revokedAt: row.revokedAt,
      keyAllowlist: row.keyAllowlist,
      secretSealed: row.secretSealed,
    });
  }

  return {
    async session(tokenHash: string): Promise<CredentialRecord | null> {
      const row = (await sessionByHash.execute({ hash: tokenHash }))[0];
      if (!row) return null;
      return toRecord(row, {
        credential: { type: 'session', id: row.id },
        permissions: ROLE_PERMISSIONS[row.role],
        // R-SEC-3: in an account that requires 2FA, a session of a user without it opens nothing
        // but enrolment, whenever it was issued (a login that raced the requirement being switched
        // on, or 2FA turned off meanwhile): decided here, on every lookup, not by revocation alone.
        enrolmentOnly: row.enrolmentOnly || (row.requireTwoFactor === true && !row.totpEnabled),
        expiresAt: row.expiresAt,
        revokedAt: row.revokedAt,
      });
    },
    async apiKeyByHash(secretHash: string): Promise<CredentialRecord | null> {
      const row = (await keyByHash.execute({ hash: secretHash }))[0];
      return row ? keyRecord(row) : null;
    },
    async apiKeyById(keyId: string): Promise<CredentialRecord | null> {
      const row = (await keyById.execute({ keyId }))[0];
      return row ? keyRecord(row) : null;
    },
    /** Last use, written at most once a minute per credential by the caller. */
    async touch(type: 'session' | 'api_key', id: string, address: string): Promise<void> {
      const now = new Date();
      if (type === 'session') {
        await db.update(sessions).set({ lastUsedAt: now, lastUsedAddress: address }).where(eq(sessions.id, id));
      } else {
        await db
          .update(apiKeys)
          .set({ lastUsedAt: now, lastUsedAddress: address })
          .where(and(eq(apiKeys.id, id)));
      }
    },
  };
}
export type CredentialLookup = ReturnType<typeof createCredentialLookup>;

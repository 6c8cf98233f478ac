// The registry side of domains, behind one interface so that an EPP (RFC 5730-5734) backend can
// replace the built-in one without touching routes or services. Every call takes the caller's
// transaction, so a registry change and the ledger charge for it commit together; an EPP backend
// would instead make its call before commit and compensate (delete, or a renew undo) if the commit
// fails. The methods map onto EPP commands: check, info, create, renew, update (authInfo,
// clientTransferProhibited), delete, RGP restore, and transfer (request, approve).
import { createHash, timingSafeEqual } from 'node:crypto';
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { preparedStatement, queryRows, type Tx } from '../../db/client.js';
import { registryNames } from '../../db/schema/index.js';
import { defineError } from '../../errors.js';

export const DomainNotAvailable = defineError('domain_not_available', 409, 'The domain is not available');
export const TransferRefused = defineError('transfer_refused', 409, 'The registry refused the transfer');

export interface RegistryRecord {
  name: string;
  /** The sponsoring reseller account here, or null for names held at other registrars. */
  sponsorAccountId: string | null;
  createdAt: Date;
  expiresAt: Date;
  transferProhibited: boolean;
  /**
   * The owner's e-mail of record (EPP contact:info of the registrant, or the registrar's RDAP), where
   * a transfer's approval request goes (R-DOM-3); null when the registry does not disclose one.
   */
  registrantEmail: string | null;
}

export interface RegistryCreate {
  name: string;
  accountId: string;
  years: number;
  now: Date;
  authCode: string;
}

export interface RegistryBackend {
  /** Which of `names` (A-labels) the registry holds (EPP domain:check). */
  taken(tx: Tx, names: string[]): Promise<Set<string>>;
  /** EPP domain:info; null when the registry does not hold the name. */
  info(tx: Tx, name: string): Promise<RegistryRecord | null>;
  /** Creates the name for `years`; throws domain_not_available if someone holds it. */
  create(tx: Tx, input: RegistryCreate): Promise<{ createdAt: Date; expiresAt: Date }>;
  /**
   * Only a registry kept in our own database (the built-in one) has this: create() as a CTE named
   * `registry_create` that returns a row when the name was created and none when someone holds it.
   * A registration puts it in front of its own writes, so the registry entry, the domain and the
   * charge are one statement: atomic without BEGIN and COMMIT, one round trip. A registry elsewhere
   * (EPP) leaves it out, and the registration calls create() in a transaction with the rest.
   */
  readonly createInStatement?: {
    cte: SQL;
    /** The CTE's placeholder values for one create, and the dates the name gets. */
    bind(input: RegistryCreate): { params: Record<string, unknown>; createdAt: Date; expiresAt: Date };
  };
  /**
   * Only a registry kept in our own database: taken() as an SQL condition on a name column, so a
   * check can look its names up and store its rows (R-DOM-2) in one statement. A registry elsewhere
   * leaves it out, and the check calls taken() and then stores.
   */
  readonly takenInStatement?: (name: SQL) => SQL;
  /** Adds `years` to the current expiry (EPP renew carries curExpDate, so a renew is never applied twice). */
  renew(
    tx: Tx,
    input: { name: string; accountId: string; years: number; currentExpiresAt: Date },
  ): Promise<{ expiresAt: Date }>;
  /** Sets the auth code, the transfer lock and/or the name servers (EPP domain:update). */
  update(
    tx: Tx,
    input: { name: string; accountId: string; authCode?: string; transferProhibited?: boolean; nameservers?: string[] },
  ): Promise<void>;
  /** Whether `authCode` is the name's auth code (EPP transfer request carries authInfo). */
  verifyAuthCode(tx: Tx, name: string, authCode: string): Promise<boolean>;
  /**
   * Moves sponsorship from `fromAccountId` (null: another registrar) to `toAccountId`, adding `years`
   * to the expiry (EPP transfer approved). Refused when the sponsor changed or locked the name meanwhile.
   */
  transfer(
    tx: Tx,
    input: { name: string; fromAccountId: string | null; toAccountId: string; years: number; authCode: string },
  ): Promise<{ expiresAt: Date }>;
  /**
   * EPP domain:delete. Within the add grace period the registry purges the name at once (`purge`);
   * otherwise it starts redemption and the name stays held until release().
   */
  delete(tx: Tx, input: { name: string; accountId: string; purge: boolean }): Promise<void>;
  /** EPP RGP restore of a name in redemption. */
  restore(tx: Tx, input: { name: string; accountId: string }): Promise<void>;
  /**
   * Releases the name at the end of pending delete. The built-in registry drops its row; an EPP
   * registry purges on its own schedule, so an EPP backend would only confirm the name is gone.
   */
  release(tx: Tx, name: string): Promise<void>;
}

export function addYears(d: Date, years: number): Date {
  const out = new Date(d);
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

export const authCodeHash = (code: string): string => createHash('sha256').update(code, 'utf8').digest('hex');

const sponsoredBy = (name: string, accountId: string) =>
  and(eq(registryNames.name, name), eq(registryNames.sponsorAccountId, accountId));

// The availability lookup is the hot query of every check: prepared once per handle.
const takenQueries = new WeakMap<Tx, ReturnType<typeof prepareTaken>>();
const prepareTaken = (tx: Tx) =>
  tx
    .select({ name: registryNames.name })
    .from(registryNames)
    .where(sql`${registryNames.name} = any(${sql.placeholder('names')}::text[])`)
    .prepare('registry_taken');
function takenQuery(tx: Tx) {
  let q = takenQueries.get(tx);
  if (!q) takenQueries.set(tx, (q = prepareTaken(tx)));
  return q;
}

// ON CONFLICT DO NOTHING waits for a concurrent insert of the name to commit or roll back, so of two
// racing registrations the loser sees no row here and fails cleanly, with no savepoint.
const createInStatement: NonNullable<RegistryBackend['createInStatement']> = {
  cte: sql`registry_create as (
    insert into registry_names (name, sponsor_account_id, created_at, expires_at, auth_code_hash, transfer_prohibited)
    values (${sql.placeholder('registry_name')}::text, ${sql.placeholder('registry_account')}::uuid, ${sql.placeholder('registry_created')}::timestamptz,
      ${sql.placeholder('registry_expires')}::timestamptz, ${sql.placeholder('registry_auth_hash')}::text, true)
    on conflict (name) do nothing
    returning name)`,
  bind({ name, accountId, years, now, authCode }) {
    const expiresAt = addYears(now, years);
    return {
      params: {
        registry_name: name,
        registry_account: accountId,
        registry_created: now.toISOString(),
        registry_expires: expiresAt.toISOString(),
        registry_auth_hash: authCodeHash(authCode),
      },
      createdAt: now,
      expiresAt,
    };
  },
};
const createName = preparedStatement<{ name: string }>(
  'registry_create',
  sql`with ${createInStatement.cte} select name from registry_create`,
);

/** The built-in registry: its state in our PostgreSQL, like a registrar's test environment. */
export const builtInRegistry: RegistryBackend = {
  async taken(tx, names) {
    if (names.length === 0) return new Set();
    const rows = await takenQuery(tx).execute({ names });
    return new Set(rows.map((r) => r.name));
  },
  // A name sponsored here: its owner is the owner contact of the live domain row (never an address
  // kept from when it was held elsewhere); a name held at another registrar: the e-mail of record.
  async info(tx, name) {
    const [row] = await queryRows<{
      name: string;
      sponsor_account_id: string | null;
      created_at: Date | string;
      expires_at: Date | string;
      transfer_prohibited: boolean;
      registrant_email: string | null;
    }>(
      tx,
      sql`select r.name, r.sponsor_account_id, r.created_at, r.expires_at, r.transfer_prohibited,
                 case when r.sponsor_account_id is null then r.registrant_email else (
                   select c.email from domains d
                   join contacts c on c.account_id = d.account_id and c.handle = d.owner_handle
                   where d.name = r.name and d.account_id = r.sponsor_account_id
                     and d.status not in ('released', 'transferred_out')
                   limit 1) end as registrant_email
          from registry_names r where r.name = ${name}`,
    );
    return row
      ? {
          name: row.name,
          sponsorAccountId: row.sponsor_account_id,
          createdAt: new Date(row.created_at),
          expiresAt: new Date(row.expires_at),
          transferProhibited: row.transfer_prohibited,
          registrantEmail: row.registrant_email,
        }
      : null;
  },
  createInStatement,
  takenInStatement: (name) => sql`exists (select 1 from registry_names where registry_names.name = ${name})`,
  async create(tx, input) {
    const bound = createInStatement.bind(input);
    const rows = await createName(tx, bound.params);
    if (rows.length === 0) throw new DomainNotAvailable(`${input.name} was registered a moment ago`);
    return { createdAt: bound.createdAt, expiresAt: bound.expiresAt };
  },
  async renew(tx, { name, accountId, years, currentExpiresAt }) {
    const expiresAt = addYears(currentExpiresAt, years);
    const rows = await tx
      .update(registryNames)
      .set({ expiresAt })
      .where(and(sponsoredBy(name, accountId), eq(registryNames.expiresAt, currentExpiresAt)))
      .returning({ name: registryNames.name });
    if (rows.length === 0)
      throw new Error(
        `registry: ${name} is not sponsored by ${accountId} with expiry ${currentExpiresAt.toISOString()}`,
      );
    return { expiresAt };
  },
  // The built-in registry serves no DNS, so it keeps no name servers: the domain row has them.
  async update(tx, { name, accountId, authCode, transferProhibited }) {
    const set: Partial<typeof registryNames.$inferInsert> = {};
    if (authCode !== undefined) set.authCodeHash = authCodeHash(authCode);
    if (transferProhibited !== undefined) set.transferProhibited = transferProhibited;
    if (Object.keys(set).length) await tx.update(registryNames).set(set).where(sponsoredBy(name, accountId));
  },
  async verifyAuthCode(tx, name, authCode) {
    const [row] = await tx
      .select({ hash: registryNames.authCodeHash })
      .from(registryNames)
      .where(eq(registryNames.name, name));
    if (!row?.hash) return false;
    return timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(authCodeHash(authCode), 'hex'));
  },
  async transfer(tx, { name, fromAccountId, toAccountId, years, authCode }) {
    const [row] = await tx.select().from(registryNames).where(eq(registryNames.name, name)).for('update');
    if (!row) throw new DomainNotAvailable(`${name} is not registered`);
    if (row.sponsorAccountId !== fromAccountId || row.transferProhibited)
      throw new TransferRefused(`${name} changed hands or was locked since the transfer was requested`);
    const expiresAt = addYears(row.expiresAt, years);
    // The gaining registrar sets a fresh auth code; the name arrives locked. Its owner is now the
    // owner contact here: the e-mail of record from the former registrar is dropped.
    await tx
      .update(registryNames)
      .set({
        sponsorAccountId: toAccountId,
        expiresAt,
        authCodeHash: authCodeHash(authCode),
        transferProhibited: true,
        registrantEmail: null,
      })
      .where(eq(registryNames.name, name));
    return { expiresAt };
  },
  async delete(tx, { name, accountId, purge }) {
    if (purge) await tx.delete(registryNames).where(sponsoredBy(name, accountId));
  },
  async restore() {
    // The built-in registry keeps a name in redemption as it was; nothing to undo.
  },
  async release(tx, name) {
    await tx.delete(registryNames).where(eq(registryNames.name, name));
  },
};

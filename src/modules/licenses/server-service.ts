// The reseller's servers (R-LIC-3): what a Plesk license is attached to. Their addresses are public
// (a license is bound to a public address); a server with a live license cannot be deleted.
import { and, eq, sql } from 'drizzle-orm';
import { isUniqueViolation, queryRows, type Db } from '../../db/client.js';
import { servers } from '../../db/schema/index.js';
import { defineError, NotFound, ValidationFailed, type FieldErrorBody } from '../../errors.js';
import { isPublicAddress, normaliseAddress } from './addresses.js';
import { findServer, listServers, liveLicensesOn } from './store.js';

export const ServerInUse = defineError(
  'server_in_use',
  409,
  'The server has licenses that are not terminated: terminate them (or rebind them elsewhere) first',
);
export const ServerNameTaken = defineError('server_name_taken', 409, 'You have a server of that name already');

export interface ServerInput {
  name: string;
  addresses: string[];
  location?: string | null;
  provider: 'own' | 'rented';
}

/** The addresses in canonical form, each public; 422 naming the ones that are not. */
function checkedAddresses(addresses: string[]): string[] {
  const errors: FieldErrorBody[] = [];
  const out = addresses.map((a, i) => {
    const n = normaliseAddress(a);
    if (!n)
      errors.push({ pointer: `/body/addresses/${i}`, code: 'invalid_address', message: `${a} is not an IP address` });
    else if (!isPublicAddress(n))
      errors.push({
        pointer: `/body/addresses/${i}`,
        code: 'address_not_public',
        message: `${a} is not a public address (private, loopback, link-local or reserved)`,
      });
    return n ?? a;
  });
  if (errors.length) throw new ValidationFailed(`${errors.length} problem(s) with the addresses`, { errors });
  return [...new Set(out)];
}

export function createServerService(deps: { db: Db; now: () => Date }) {
  const { db } = deps;
  const get = async (accountId: string, id: string) => {
    const s = await findServer(db, accountId, id);
    if (!s) throw new NotFound('No such server');
    return s;
  };
  const named = async <T>(name: string, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ServerNameTaken(`You have a server named ${name} already`);
      throw err;
    }
  };
  return {
    get,
    list: (accountId: string, after: string | undefined, limit: number) => listServers(db, accountId, after, limit),
    async create(accountId: string, input: ServerInput) {
      const addresses = checkedAddresses(input.addresses);
      const now = deps.now();
      return named(input.name, async () => {
        const [row] = await db
          .insert(servers)
          .values({
            accountId,
            name: input.name,
            addresses,
            location: input.location ?? null,
            provider: input.provider,
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        return row!;
      });
    },
    async update(accountId: string, id: string, patch: Partial<ServerInput>) {
      return db.transaction(async (tx) => {
        const s = await findServer(tx, accountId, id);
        if (!s) throw new NotFound('No such server');
        const addresses = patch.addresses ? checkedAddresses(patch.addresses) : s.addresses;
        // An address a live license is bound to stays: rebind the license first.
        const rows = await queryRows<{ bound_address: string }>(
          tx,
          sql`SELECT bound_address FROM plesk_licenses WHERE server_id = ${s.id}::uuid AND status <> 'terminated'`,
        );
        const dropped = rows.map((r) => r.bound_address).filter((a) => !addresses.includes(a));
        if (dropped.length)
          throw new ServerInUse(`A license is bound to ${dropped.join(', ')}: rebind it before removing the address`);
        return named(patch.name ?? s.name, async () => {
          const [row] = await tx
            .update(servers)
            .set({
              name: patch.name ?? s.name,
              addresses,
              location: patch.location === undefined ? s.location : patch.location,
              provider: patch.provider ?? s.provider,
              updatedAt: deps.now(),
            })
            .where(and(eq(servers.id, s.id), eq(servers.accountId, accountId)))
            .returning();
          return row!;
        });
      });
    },
    async remove(accountId: string, id: string) {
      await db.transaction(async (tx) => {
        const s = await findServer(tx, accountId, id);
        if (!s) throw new NotFound('No such server');
        const live = await liveLicensesOn(tx, s.id);
        if (live > 0) throw new ServerInUse(`${live} license(s) on ${s.name} are not terminated`);
        await tx.delete(servers).where(eq(servers.id, s.id));
      });
    },
  };
}

export type ServerService = ReturnType<typeof createServerService>;

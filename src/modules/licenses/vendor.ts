// The license vendor behind one interface, as the registry is for domains: the built-in vendor keeps
// the keys in our database and behaves as Plesk's Key Administrator (Partner API 3.0) does — keys
// created from items such as PLESK-12-WEB-ADMIN-1M with a key number and an activation code; modify
// to suspend, resume, terminate, bind and unbind an address, upgrade; renew; an address another live
// key holds cannot be bound; a terminated key refuses everything. A client of the real Key
// Administrator implements the same interface (its calls made before commit, compensated if the
// commit fails, as an EPP registry would be), and the routes and services do not change.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { isUniqueViolation, queryRows, type Tx } from '../../db/client.js';
import { defineError } from '../../errors.js';

export const BindingConflict = defineError(
  'binding_conflict',
  409,
  'Another license key is bound to this address: the vendor refuses a second one',
);
export const KeyTerminated = defineError(
  'license_terminated',
  409,
  'The license key is terminated: it refuses every action',
);

export type KeyAction = 'suspend' | 'resume' | 'terminate';

export interface VendorKey {
  keyNumber: string;
  activationCode: string;
  item: string;
  boundAddress: string | null;
  status: 'active' | 'suspended' | 'terminated';
}

export interface LicenseVendor {
  /** Creates a key for `item` bound to `address` (binding_conflict if another live key holds it). */
  createKey(tx: Tx, input: { item: string; address: string; restrict: boolean }): Promise<VendorKey>;
  /** Suspends, resumes or terminates a key (license_terminated once terminated). */
  modify(tx: Tx, keyNumber: string, action: KeyAction): Promise<VendorKey>;
  /** Binds the key to another address (binding_conflict if another live key holds it). */
  bind(tx: Tx, keyNumber: string, address: string): Promise<VendorKey>;
  /** Renews the key for its item's term. */
  renew(tx: Tx, keyNumber: string): Promise<VendorKey>;
}

/** The item of a product for a term: PLESK-12-WEB-ADMIN + 1 month = PLESK-12-WEB-ADMIN-1M. */
export const itemOf = (product: string, periodMonths: number): string =>
  `${product}-${periodMonths === 12 ? '1Y' : `${periodMonths}M`}`;

const keyView = (r: Record<string, unknown>): VendorKey => ({
  keyNumber: String(r.key_number),
  activationCode: String(r.activation_code),
  item: String(r.item),
  boundAddress: (r.bound_address as string | null) ?? null,
  status: r.status as VendorKey['status'],
});

async function liveKey(tx: Tx, keyNumber: string): Promise<VendorKey> {
  const rows = await queryRows<Record<string, unknown>>(
    tx,
    sql`SELECT * FROM license_keys WHERE key_number = ${keyNumber} FOR UPDATE`,
  );
  if (!rows[0]) throw new Error(`the vendor has no key ${keyNumber}`);
  const key = keyView(rows[0]);
  if (key.status === 'terminated') throw new KeyTerminated(`Key ${keyNumber} is terminated`);
  return key;
}

/** A write that may hit the one-live-key-per-address index, in a savepoint so the caller's transaction survives the refusal. */
async function bindingWrite(tx: Tx, address: string, write: (sp: Tx) => Promise<Record<string, unknown>[]>) {
  try {
    return await tx.transaction(write);
  } catch (err) {
    if (isUniqueViolation(err)) throw new BindingConflict(`Another license key is bound to ${address}`);
    throw err;
  }
}

export const builtInVendor: LicenseVendor = {
  async createKey(tx, { item, address, restrict }) {
    const keyNumber = `KEY${randomBytes(6).toString('hex').toUpperCase()}`;
    const activationCode = [0, 1, 2, 3, 4].map(() => randomBytes(3).toString('hex').toUpperCase()).join('-');
    const rows = await bindingWrite(tx, address, (sp) =>
      queryRows<Record<string, unknown>>(
        sp,
        sql`INSERT INTO license_keys (key_number, activation_code, item, bound_address, restrict_binding, status)
            VALUES (${keyNumber}, ${activationCode}, ${item}, ${address}, ${restrict}, 'active') RETURNING *`,
      ),
    );
    return keyView(rows[0]!);
  },

  async modify(tx, keyNumber, action) {
    const key = await liveKey(tx, keyNumber);
    const status = action === 'suspend' ? 'suspended' : action === 'resume' ? 'active' : 'terminated';
    if (key.status === status) return key;
    const rows = await queryRows<Record<string, unknown>>(
      tx,
      sql`UPDATE license_keys SET status = ${status}, updated_at = now() WHERE key_number = ${keyNumber} RETURNING *`,
    );
    return keyView(rows[0]!);
  },

  async bind(tx, keyNumber, address) {
    await liveKey(tx, keyNumber);
    const rows = await bindingWrite(tx, address, (sp) =>
      queryRows<Record<string, unknown>>(
        sp,
        sql`UPDATE license_keys SET bound_address = ${address}, updated_at = now() WHERE key_number = ${keyNumber} RETURNING *`,
      ),
    );
    return keyView(rows[0]!);
  },

  async renew(tx, keyNumber) {
    return liveKey(tx, keyNumber);
  },
};

// The registry side of domains, behind one interface so that an EPP (RFC 5730-5734) backend can
// replace the built-in one without touching routes or services. Every call takes the caller's
// transaction, so a registry change and the ledger charge for it commit together; an EPP backend
// would instead make its call before commit and compensate (delete) if the commit fails.
import { inArray } from 'drizzle-orm';
import { isUniqueViolation } from '../../db/client.js';
import { registryNames } from '../../db/schema/index.js';
import { defineError } from '../../errors.js';
import type { Tx } from '../billing/ledger.js';

export const DomainNotAvailable = defineError('domain_not_available', 409, 'The domain is not available');

export interface RegistryBackend {
  /** Which of `names` (A-labels) the registry holds. */
  taken(tx: Tx, names: string[]): Promise<Set<string>>;
  /** Creates the name for `years`; throws domain_not_available if someone holds it. */
  create(tx: Tx, input: { name: string; accountId: string; years: number; now: Date }): Promise<{ createdAt: Date; expiresAt: Date }>;
}

export function addYears(d: Date, years: number): Date {
  const out = new Date(d);
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

/** The built-in registry: its state in our PostgreSQL, like a registrar's test environment. */
export const builtInRegistry: RegistryBackend = {
  async taken(tx, names) {
    if (names.length === 0) return new Set();
    const rows = await tx.select({ name: registryNames.name }).from(registryNames).where(inArray(registryNames.name, names));
    return new Set(rows.map((r) => r.name));
  },
  async create(tx, { name, accountId, years, now }) {
    const expiresAt = addYears(now, years);
    try {
      // A savepoint, so a lost race surfaces as domain_not_available rather than an aborted transaction.
      await tx.transaction(async (sp) => {
        await sp.insert(registryNames).values({ name, sponsorAccountId: accountId, createdAt: now, expiresAt });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DomainNotAvailable(`${name} was registered a moment ago`);
      throw err;
    }
    return { createdAt: now, expiresAt };
  },
};


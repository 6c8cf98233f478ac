// Checks (R-DOM-2, R-DOM-4), registrations, and an account's domains: the service behind
// /v1/domains. The rules live in check-service.ts and register-service.ts; this wires them once.
import { LRUCache } from 'lru-cache';
import type { Db } from '../../db/client.js';
import { NotFound } from '../../errors.js';
import type { DropCatchThrottle, IncidentType } from '../fair-use/api.js';
import { checkNames } from './check-service.js';
import { checkStore } from './check-store.js';
import { findDomain, listDomains, type DomainFilter } from './domain-store.js';
import { registerDomain, type RegisterInput } from './register-service.js';
import { registrationFacts, registrationWriter } from './register-store.js';
import type { RegistryBackend } from './registry.js';
import type { TldCatalogue } from './tld-service.js';

export interface DomainServiceDeps {
  db: Db;
  registry: RegistryBackend;
  catalogue: TldCatalogue;
  dropCatch: DropCatchThrottle;
  /** Signs and verifies quote ids. */
  quotes: { sign: (payload: string) => string; verify: (token: string) => string | null };
  seal: (plaintext: string) => string;
  checkWindowS: number;
  quoteTtlS: number;
  dropCatchNamesPerMinute: number;
  recordIncident: (input: {
    accountId: string;
    type: IncidentType;
    dedupeKey: string;
    evidence: Record<string, unknown>;
  }) => Promise<unknown>;
}

type Caller = { id: string; currency: string };

export function createDomainService(d: DomainServiceDeps) {
  const checkDeps = {
    store: checkStore(d.db, d.registry),
    catalogue: d.catalogue,
    dropCatch: d.dropCatch,
    quoteTtlMs: d.quoteTtlS * 1000,
    signQuote: d.quotes.sign,
  };
  const registerDeps = {
    facts: registrationFacts(d.db),
    write: registrationWriter(d.db, d.registry),
    catalogue: d.catalogue,
    seal: d.seal,
    verifyQuote: d.quotes.verify,
    checkWindowS: d.checkWindowS,
  };
  // R-DOM-4: many distinct names at a high rate is the drop-catch pattern; one incident an hour.
  // The counts of the 10,000 accounts that checked most recently.
  const names = new LRUCache<string, { minute: number; n: number }>({ max: 10_000 });

  /** Counts the names an account checked this minute; the call that reaches the limit records an incident. */
  async function countCheckedNames(accountId: string, checked: number, requestId: string): Promise<void> {
    const minute = Math.floor(Date.now() / 60_000);
    const c = names.get(accountId);
    const n = (c && c.minute === minute ? c.n : 0) + checked;
    names.set(accountId, { minute, n });
    const limit = d.dropCatchNamesPerMinute;
    if (n >= limit && (!c || c.n < limit || c.minute !== minute)) {
      await d.recordIncident({
        accountId,
        type: 'drop_catch_pattern',
        dedupeKey: new Date(minute * 60_000).toISOString().slice(0, 13),
        evidence: { names_in_minute: n, minute: new Date(minute * 60_000).toISOString(), request_id: requestId },
      });
    }
  }

  return {
    /** Checks the names, then counts them towards the drop-catch pattern. */
    async check(account: Caller, inputs: string[], requestId: string) {
      const results = await checkNames(checkDeps, account, inputs);
      // Distinct names: fifty copies of one name in a call are one name checked.
      await countCheckedNames(account.id, new Set(results.flatMap((r) => (r.name ? [r.name] : []))).size, requestId);
      return results;
    },
    register: (account: Caller, input: RegisterInput) => registerDomain(registerDeps, account, input),
    list: (accountId: string, filter: DomainFilter) => listDomains(d.db, accountId, filter),
    /** A domain the account holds (released and transferred-out ones are gone); 404 otherwise. */
    async get(accountId: string, name: string, asAsked: string) {
      const row = await findDomain(d.db, accountId, name);
      if (!row || row.status === 'released' || row.status === 'transferred_out')
        throw new NotFound(`No domain ${asAsked} in your account`);
      return row;
    },
  };
}
export type DomainService = ReturnType<typeof createDomainService>;

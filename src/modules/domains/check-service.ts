// POST /v1/domains/check: each name answered free, taken, reserved, premium or invalid (with the
// reason), with a price quote for what can be registered; the check is remembered for R-DOM-2.
import { sql } from 'drizzle-orm';
import { batched, type Db } from '../../db/client.js';
import { domainChecks } from '../../db/schema/index.js';
import { parseDomainName, tldOf } from '../../lib/domain-name.js';
import type { DropCatchThrottle } from '../fair-use/drop-catch.js';
import { sealQuote } from './quotes.js';
import type { RegistryBackend } from './registry.js';
import type { TldCatalogue } from './tld-service.js';

export type CheckStatus = 'free' | 'taken' | 'reserved' | 'premium' | 'invalid';

export interface CheckResult {
  input: string;
  name: string | null;
  unicode: string | null;
  status: CheckStatus;
  reason: string | null;
  quote: { id: string; price: { amount: number; currency: string }; per: 'year'; expires_at: string } | null;
}

export interface CheckDeps {
  store: CheckStore;
  catalogue: TldCatalogue;
  dropCatch: DropCatchThrottle;
  quoteTtlMs: number;
  seal(plaintext: string): string;
}

interface CheckRow {
  account_id: string;
  name: string;
  result: CheckStatus;
  checked_at: string;
}

/** What a check reads and writes, shared by the checks running at the same time. */
export interface CheckStore {
  /** Which of `names` the registry holds. */
  taken(names: string[]): Promise<Set<string>>;
  /** Stores the check rows (R-DOM-2); durable when it resolves. */
  record(checks: CheckRow[]): Promise<void>;
}

/**
 * Concurrent checks share one registry query (EPP domain:check takes many names too) and one
 * statement for their check rows: a check costs a fraction of a round trip under load.
 * Each check still awaits its own rows, so a registration right after it finds them.
 */
export function checkStore(db: Db, registry: RegistryBackend): CheckStore {
  const taken = batched<string[], Set<string>>(async (lists) => {
    const found = await registry.taken(db, [...new Set(lists.flat())]);
    return lists.map((names) => new Set(names.filter((n) => found.has(n))));
    // At most 20 checks (1,000 names) per registry query: an EPP registry takes a few names per command.
  }, { maxItems: 20 });
  // Prepared once: the rows travel as four arrays.
  const upsert = db
    .insert(domainChecks)
    .select(sql`select * from unnest(${sql.placeholder('accounts')}::uuid[], ${sql.placeholder('names')}::text[], ${sql.placeholder('results')}::text[], ${sql.placeholder('at')}::timestamptz[])`)
    // A retried batch's rows may land out of order: the newest check wins.
    .onConflictDoUpdate({ target: [domainChecks.accountId, domainChecks.name], set: { result: sql`excluded.result`, checkedAt: sql`excluded.checked_at` }, setWhere: sql`excluded.checked_at >= ${domainChecks.checkedAt}` })
    .prepare('domain_checks_upsert');
  const record = batched<CheckRow[], void>(
    async (items) => {
      // One row per account and name (one upsert may not touch a row twice); the later check wins,
      // as it would have with one statement per check. Sorted, so row locks are taken in one order.
      const checks = [...new Map(items.flat().map((c) => [`${c.account_id} ${c.name}`, c])).entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, c]) => c);
      await upsert.execute({ accounts: checks.map((c) => c.account_id), names: checks.map((c) => c.name), results: checks.map((c) => c.result), at: checks.map((c) => c.checked_at) });
      return items.map(() => undefined);
    },
    { retryAlone: true },
  );
  return { taken, record };
}

export async function checkNames(deps: CheckDeps, account: { id: string; currency: string }, inputs: string[], now = new Date()): Promise<CheckResult[]> {
  const entries = deps.catalogue.forCurrency(account.currency);

  const results: CheckResult[] = inputs.map((input) => {
    const tld = tldOf(input);
    const entry = entries.get(tld);
    const base = { input, name: null, unicode: null, quote: null };
    if (!entry) return { ...base, status: 'invalid' as const, reason: `.${tld} is not offered` };
    const v = parseDomainName(input, tld, { minLength: entry.rules.minLabelLength, maxLength: entry.rules.maxLabelLength, idnScripts: entry.rules.idnScripts });
    if (!v.ok) return { ...base, status: 'invalid' as const, reason: v.reason };
    return { ...base, name: v.name, unicode: v.unicode, status: 'free' as const, reason: null };
  });

  const valid = [...new Set(results.filter((r) => r.name).map((r) => r.name!))];
  // R-DOM-4 before anything reaches the registry: a name checked too recently refuses the whole call.
  for (const name of valid) await deps.dropCatch.assertMayCheck(account.id, name);

  const labelOf = (name: string) => name.slice(0, name.indexOf('.'));
  const reserved = new Set(valid.filter((n) => entries.get(tldOf(n))!.reserved.some((x) => x.label === labelOf(n))));
  const lookup = valid.filter((n) => !reserved.has(n));
  const taken = lookup.length ? await deps.store.taken(lookup) : new Set<string>();
  const quoteExpires = new Date(now.getTime() + deps.quoteTtlMs);

  for (const r of results) {
    if (!r.name) continue;
    const entry = entries.get(tldOf(r.name))!;
    if (reserved.has(r.name)) {
      r.status = 'reserved';
      r.reason = entry.reserved.find((x) => x.label === labelOf(r.name!))!.reason;
      continue;
    }
    if (taken.has(r.name)) {
      r.status = 'taken';
      r.reason = 'registered';
      continue;
    }
    const premium = entry.premium.find((p) => p.label === labelOf(r.name!));
    const yearly = premium ? premium.registerAmount : entry.prices.find((p) => p.operation === 'register')?.amount;
    if (yearly === undefined) {
      r.status = 'invalid';
      r.reason = `.${entry.rules.tld} is not sold in ${account.currency}`;
      continue;
    }
    r.status = premium ? 'premium' : 'free';
    const id = sealQuote(deps.seal, { accountId: account.id, name: r.name, premium: Boolean(premium), currency: account.currency, amount: yearly, expiresAt: quoteExpires });
    r.quote = { id, price: { amount: yearly, currency: account.currency }, per: 'year', expires_at: quoteExpires.toISOString() };
  }

  // One row per name, even when the request named it twice (one upsert may not touch a row twice).
  const seen = [...new Map(results.filter((r) => r.name && r.status !== 'invalid').map((r) => [r.name!, r])).values()];
  if (seen.length) await deps.store.record(seen.map((r) => ({ account_id: account.id, name: r.name!, result: r.status, checked_at: now.toISOString() })));
  return results;
}

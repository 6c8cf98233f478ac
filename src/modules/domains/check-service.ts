// POST /v1/domains/check: each name answered free, taken, reserved, premium or invalid (with the
// reason), with a price quote for what can be registered; the check is remembered for R-DOM-2.
import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { domainChecks, domainQuotes } from '../../db/schema/index.js';
import { parseDomainName, tldOf } from '../../lib/domain-name.js';
import type { DropCatchThrottle } from '../fair-use/drop-catch.js';
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
  db: Db;
  catalogue: TldCatalogue;
  registry: RegistryBackend;
  dropCatch: DropCatchThrottle;
  quoteTtlMs: number;
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
  const taken = await deps.registry.taken(deps.db, valid.filter((n) => !reserved.has(n)));
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
    const [quote] = await deps.db
      .insert(domainQuotes)
      .values({ accountId: account.id, name: r.name, premium: Boolean(premium), currency: account.currency, amount: yearly, expiresAt: quoteExpires })
      .returning({ id: domainQuotes.id });
    r.quote = { id: quote!.id, price: { amount: yearly, currency: account.currency }, per: 'year', expires_at: quoteExpires.toISOString() };
  }

  // One row per name, even when the request named it twice (one upsert may not touch a row twice).
  const seen = [...new Map(results.filter((r) => r.name && r.status !== 'invalid').map((r) => [r.name!, r])).values()];
  if (seen.length) {
    await deps.db
      .insert(domainChecks)
      .values(seen.map((r) => ({ accountId: account.id, name: r.name!, result: r.status, checkedAt: now })))
      .onConflictDoUpdate({ target: [domainChecks.accountId, domainChecks.name], set: { result: sql`excluded.result`, checkedAt: sql`excluded.checked_at` } });
  }
  return results;
}

// POST /v1/domains/check: each name answered free, taken, reserved, premium or invalid (with the
// reason), with a price quote for what can be registered; the check is remembered for R-DOM-2. Its
// SQL is in check-store.ts.
import { parseDomainName, tldOf } from '../../lib/domain-name.js';
import type { DropCatchThrottle } from '../fair-use/api.js';
import type { CheckStore, Intended } from './check-store.js';
import { isPremium, labelOf, registerPrice } from './pricing.js';
import { signQuote } from './quotes.js';
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
  /** Signs a quote's id. */
  signQuote: (payload: string) => string;
}

export async function checkNames(
  deps: CheckDeps,
  account: { id: string; currency: string },
  inputs: string[],
  now = new Date(),
): Promise<CheckResult[]> {
  const entries = deps.catalogue.forCurrency(account.currency);

  const results: CheckResult[] = inputs.map((input) => {
    const tld = tldOf(input);
    const entry = entries.get(tld);
    const base = { input, name: null, unicode: null, quote: null };
    if (!entry) return { ...base, status: 'invalid' as const, reason: `.${tld} is not offered` };
    const v = parseDomainName(input, tld, {
      minLength: entry.rules.minLabelLength,
      maxLength: entry.rules.maxLabelLength,
      idnScripts: entry.rules.idnScripts,
    });
    if (!v.ok) return { ...base, status: 'invalid' as const, reason: v.reason };
    return { ...base, name: v.name, unicode: v.unicode, status: 'free' as const, reason: null };
  });

  const valid = [...new Set(results.filter((r) => r.name).map((r) => r.name!))];
  // R-DOM-4 before anything reaches the registry: a name checked too recently refuses the whole call.
  await deps.dropCatch.assertMayCheck(account.id, valid);

  // What the catalogue says of each name; the registry only turns a name into `taken`.
  const plans = new Map<string, { intended: Intended; reason: string | null; yearly: number }>();
  for (const name of valid) {
    const entry = entries.get(tldOf(name))!;
    const label = labelOf(name);
    const reserved = entry.reserved.find((x) => x.label === label);
    const premium = isPremium(entry, label);
    const yearly = reserved ? undefined : registerPrice(entry, label);
    plans.set(
      name,
      reserved
        ? { intended: 'reserved', reason: reserved.reason, yearly: 0 }
        : yearly === undefined
          ? { intended: 'unsold', reason: `.${entry.rules.tld} is not sold in ${account.currency}`, yearly: 0 }
          : { intended: premium ? 'premium' : 'free', reason: null, yearly },
    );
  }
  const answers = valid.length
    ? await deps.store.resolve({
        accountId: account.id,
        names: valid.map((name) => ({ name, intended: plans.get(name)!.intended })),
        checkedAt: now.toISOString(),
      })
    : new Map<string, CheckStatus | 'unsold'>();
  const quoteExpires = new Date(now.getTime() + deps.quoteTtlMs);

  for (const r of results) {
    if (!r.name) continue;
    const plan = plans.get(r.name)!;
    const answer = answers.get(r.name)!;
    if (answer === 'taken') {
      r.status = 'taken';
      r.reason = 'registered';
    } else if (answer === 'unsold' || answer === 'reserved') {
      r.status = answer === 'unsold' ? 'invalid' : 'reserved';
      r.reason = plan.reason;
    } else {
      r.status = answer;
      const id = signQuote(deps.signQuote, {
        accountId: account.id,
        name: r.name,
        premium: answer === 'premium',
        currency: account.currency,
        amount: plan.yearly,
        expiresAt: quoteExpires,
      });
      r.quote = {
        id,
        price: { amount: plan.yearly, currency: account.currency },
        per: 'year',
        expires_at: quoteExpires.toISOString(),
      };
    }
  }
  return results;
}

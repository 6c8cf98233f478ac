// POST /v1/domains/check: each name answered free, taken, reserved, premium or invalid (with the
// reason), with a price quote for what can be registered; the check is remembered for R-DOM-2.
import { sql } from 'drizzle-orm';
import { batched, preparedStatement, type Db } from '../../db/client.js';
import { forgetFailuresNamingCte } from '../../plugins/repeated-failure-guard.js';
import { parseDomainName, tldOf } from '../../lib/domain-name.js';
import type { DropCatchThrottle } from '../fair-use/drop-catch.js';
import { signQuote } from './quotes.js';
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
  /** Signs a quote's id. */
  signQuote(payload: string): string;
}

/** What the catalogue makes of a name before the registry is asked; `unsold`: no price in the account's currency. */
export type Intended = 'free' | 'premium' | 'reserved' | 'unsold';

interface Lookup {
  accountId: string;
  names: { name: string; intended: Intended }[];
  checkedAt: string;
}

/** What a check reads and writes, shared by the checks running at the same time. */
export interface CheckStore {
  /**
   * Each name's answer: `taken` where the registry holds it (reserved names are not looked up),
   * otherwise as intended. Stores a check row (R-DOM-2) for every answer but `unsold`; durable
   * when it resolves, so a registration right after it finds them.
   */
  resolve(lookup: Lookup): Promise<Map<string, CheckStatus | 'unsold'>>;
}

type Row = {
  account_id: string;
  name: string;
  result: CheckStatus | 'unsold';
  checked_at: string;
};

// One row per account and name (one upsert may not touch a row twice; the later check wins, as it
// would have with one statement per check), sorted so that row locks are taken in one order.
function rowsOf(lookups: Lookup[], result: (l: Lookup, n: Lookup['names'][number]) => Row['result']): Row[] {
  const rows = new Map<string, Row>();
  for (const l of lookups)
    for (const n of l.names)
      rows.set(`${l.accountId} ${n.name}`, {
        account_id: l.accountId,
        name: n.name,
        result: result(l, n),
        checked_at: l.checkedAt,
      });
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

const columns = (rows: Row[]) => ({
  accounts: rows.map((r) => r.account_id),
  names: rows.map((r) => r.name),
  results: rows.map((r) => r.result),
  at: rows.map((r) => r.checked_at),
});
const input = sql`unnest(${sql.placeholder('accounts')}::uuid[], ${sql.placeholder('names')}::text[], ${sql.placeholder('results')}::text[], ${sql.placeholder('at')}::timestamptz[]) as input (account_id, name, result, checked_at)`;
// A retried batch's rows may land out of order: the newest check wins.
const upsert = sql`insert into domain_checks (account_id, name, result, checked_at)`;
const newest = sql`on conflict (account_id, name) do update set result = excluded.result, checked_at = excluded.checked_at where excluded.checked_at >= domain_checks.checked_at`;

/**
 * Concurrent checks share one statement (EPP domain:check takes many names too): a check costs a
 * fraction of a round trip under load. With the built-in registry that one statement looks the
 * names up and stores the rows; with a registry elsewhere, its lookup comes first.
 */
export function checkStore(db: Db, registry: RegistryBackend): CheckStore {
  const answers = (lookups: Lookup[], rows: Pick<Row, 'account_id' | 'name' | 'result'>[]) => {
    const by = new Map(rows.map((r) => [`${r.account_id} ${r.name}`, r.result]));
    return lookups.map((l) => new Map(l.names.map((n) => [n.name, by.get(`${l.accountId} ${n.name}`)!])));
  };
  const opts = { retryAlone: true };

  if (registry.takenInStatement) {
    const statement = preparedStatement<Row>(
      'domain_check',
      sql`with looked as materialized (
          select account_id, name, checked_at,
            case when result <> 'reserved' and ${registry.takenInStatement(sql`input.name`)} then 'taken' else result end as result
          from ${input}),
        recorded as (${upsert} select account_id, name, result, checked_at from looked where result <> 'unsold' ${newest}),
        ${forgetFailuresNamingCte('forgotten', 'domains', sql`(select account_id, name as identifier from looked) named`)}
        select account_id, name, result from looked`,
    );
    const resolve = batched<Lookup, Map<string, Row['result']>>(async (lookups) => {
      const rows = await statement(db, columns(rowsOf(lookups, (_l, n) => n.intended)));
      return answers(lookups, rows);
    }, opts);
    return { resolve };
  }

  // At most 20 checks per registry query: an EPP registry takes a few names per command.
  const taken = batched<string[], Set<string>>(
    async (lists) => {
      const found = await registry.taken(db, [...new Set(lists.flat())]);
      return lists.map((names) => new Set(names.filter((n) => found.has(n))));
    },
    { maxItems: 20 },
  );
  const record = preparedStatement(
    'domain_checks_upsert',
    sql`with ${forgetFailuresNamingCte('forgotten', 'domains', sql`(select account_id, name as identifier from ${input}) named`)}
        ${upsert} select * from ${input} ${newest}`,
  );
  const store = batched<{ lookup: Lookup; taken: Set<string> }, Map<string, Row['result']>>(async (items) => {
    const takenBy = new Map(items.map((i) => [i.lookup, i.taken]));
    const rows = rowsOf([...takenBy.keys()], (l, n) =>
      n.intended !== 'reserved' && takenBy.get(l)!.has(n.name) ? 'taken' : n.intended,
    );
    const recordable = rows.filter((r) => r.result !== 'unsold');
    if (recordable.length) await record(db, columns(recordable));
    return answers(
      items.map((i) => i.lookup),
      rows,
    );
  }, opts);
  return {
    async resolve(lookup) {
      const lookedUp = lookup.names.filter((n) => n.intended !== 'reserved').map((n) => n.name);
      return store({ lookup, taken: lookedUp.length ? await taken(lookedUp) : new Set() });
    },
  };
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
  for (const name of valid) await deps.dropCatch.assertMayCheck(account.id, name);

  const labelOf = (name: string) => name.slice(0, name.indexOf('.'));
  // What the catalogue says of each name; the registry only turns a name into `taken`.
  const plans = new Map<string, { intended: Intended; reason: string | null; yearly: number }>();
  for (const name of valid) {
    const entry = entries.get(tldOf(name))!;
    const label = labelOf(name);
    const reserved = entry.reserved.find((x) => x.label === label);
    const premium = entry.premium.find((p) => p.label === label);
    const yearly = reserved
      ? undefined
      : premium
        ? premium.registerAmount
        : entry.prices.find((p) => p.operation === 'register')?.amount;
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

// The SQL of checks: concurrent checks share one statement that looks their names up (when the
// registry is in our own database) and remembers each answer for R-DOM-2.
import { sql } from 'drizzle-orm';
import { batched, preparedStatement, type Db } from '../../db/client.js';
import { forgetFailuresNamingCte } from '../../plugins/repeated-failure-guard.js';
import type { CheckStatus } from './check-service.js';
import type { RegistryBackend } from './registry.js';

/** The commands whose failures a check can change (R-API-2): a registration's (not checked, taken, its price). */
const CHECK_INFORMS = ['registerDomain'] as const;

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
        ${forgetFailuresNamingCte('forgotten', 'domains', sql`(select account_id, name as identifier from looked) named`, CHECK_INFORMS)}
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
    sql`with ${forgetFailuresNamingCte('forgotten', 'domains', sql`(select account_id, name as identifier from ${input}) named`, CHECK_INFORMS)}
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

// The TLD catalogue (R-DOM-5): rules, prices, reserved and premium names, read and edited as data.
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import type { AccountReader } from '../accounts/api.js';
import { tldPremiumNames, tldPrices, tldReservedNames, tlds } from '../../db/schema/index.js';
import { NotFound, ValidationFailed, type FieldErrorBody } from '../../errors.js';

export type TldRow = typeof tlds.$inferSelect;
export type TldOperation = 'register' | 'renew' | 'transfer' | 'restore';

export interface TldEntry {
  rules: TldRow;
  prices: { operation: TldOperation; currency: string; amount: number }[];
  reserved: { label: string; reason: string }[];
  premium: { label: string; currency: string; registerAmount: number; renewAmount: number }[];
}

/** The catalogue (or one TLD), with prices in `currency` only when given. */
export async function loadTlds(db: Db, opts: { tld?: string; currency?: string } = {}): Promise<TldEntry[]> {
  const rules = await db
    .select()
    .from(tlds)
    .where(opts.tld ? eq(tlds.tld, opts.tld) : undefined)
    .orderBy(asc(tlds.tld));
  if (opts.tld && rules.length === 0) throw new NotFound(`No TLD .${opts.tld} in the catalogue`);
  const names = rules.map((r) => r.tld);
  if (names.length === 0) return [];
  const [prices, reserved, premium] = await Promise.all([
    db
      .select()
      .from(tldPrices)
      .where(and(inArray(tldPrices.tld, names), opts.currency ? eq(tldPrices.currency, opts.currency) : undefined))
      .orderBy(asc(tldPrices.operation), asc(tldPrices.currency)),
    db.select().from(tldReservedNames).where(inArray(tldReservedNames.tld, names)).orderBy(asc(tldReservedNames.label)),
    db
      .select()
      .from(tldPremiumNames)
      .where(
        and(
          inArray(tldPremiumNames.tld, names),
          opts.currency ? eq(tldPremiumNames.currency, opts.currency) : undefined,
        ),
      )
      .orderBy(asc(tldPremiumNames.label)),
  ]);
  return rules.map((r) => ({
    rules: r,
    prices: prices.filter((p) => p.tld === r.tld),
    reserved: reserved.filter((x) => x.tld === r.tld),
    premium: premium.filter((x) => x.tld === r.tld),
  }));
}

export type TldRules = Omit<TldRow, 'tld' | 'updatedAt'>;

export async function upsertTld(db: Db, tld: string, rules: TldRules): Promise<void> {
  await db
    .insert(tlds)
    .values({ tld, ...rules })
    .onConflictDoUpdate({ target: tlds.tld, set: { ...rules, updatedAt: new Date() } });
}

/** Replaces the TLD's prices, reserved names and premium names that are given. */
export async function replaceTldLists(
  db: Db,
  tld: string,
  lists: { prices?: TldEntry['prices']; reserved?: TldEntry['reserved']; premium?: TldEntry['premium'] },
): Promise<void> {
  await db.transaction(async (tx) => {
    if (lists.prices) {
      await tx.delete(tldPrices).where(eq(tldPrices.tld, tld));
      if (lists.prices.length) await tx.insert(tldPrices).values(lists.prices.map((p) => ({ tld, ...p })));
    }
    if (lists.reserved) {
      await tx.delete(tldReservedNames).where(eq(tldReservedNames.tld, tld));
      if (lists.reserved.length) await tx.insert(tldReservedNames).values(lists.reserved.map((r) => ({ tld, ...r })));
    }
    if (lists.premium) {
      await tx.delete(tldPremiumNames).where(eq(tldPremiumNames.tld, tld));
      if (lists.premium.length) await tx.insert(tldPremiumNames).values(lists.premium.map((p) => ({ tld, ...p })));
    }
  });
}

/**
 * The catalogue in memory for checks and registrations (the hot path), reloaded every few seconds
 * and at once after an operator's edit on this instance, like the fair-use policy.
 */
export class TldCatalogue {
  private all: TldEntry[] = [];
  private byCurrency = new Map<string, Map<string, TldEntry>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Db) {}

  async refresh(): Promise<void> {
    this.all = await loadTlds(this.db);
    this.byCurrency = new Map();
  }

  /** Enabled TLDs with prices and premium names in `currency` only. */
  forCurrency(currency: string): Map<string, TldEntry> {
    let m = this.byCurrency.get(currency);
    if (!m) {
      m = new Map(
        this.all
          .filter((e) => e.rules.enabled)
          .map((e) => [
            e.rules.tld,
            {
              ...e,
              prices: e.prices.filter((p) => p.currency === currency),
              premium: e.premium.filter((p) => p.currency === currency),
            },
          ]),
      );
      this.byCurrency.set(currency, m);
    }
    return m;
  }

  /**
   * One TLD with prices in `currency`, enabled or not: a TLD withdrawn from sale still renews,
   * restores and transfers the domains already under it.
   */
  entry(tld: string, currency: string): TldEntry | undefined {
    const e = this.all.find((x) => x.rules.tld === tld);
    if (!e) return undefined;
    return e.rules.enabled
      ? this.forCurrency(currency).get(tld)
      : {
          ...e,
          prices: e.prices.filter((p) => p.currency === currency),
          premium: e.premium.filter((p) => p.currency === currency),
        };
  }

  start(intervalMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => void this.refresh().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** A TLD's rules must agree with themselves: minimums within maximums, and an owner contact. */
export function tldRuleErrors(r: TldRules): FieldErrorBody[] {
  const errors: FieldErrorBody[] = [];
  if (r.minLabelLength > r.maxLabelLength)
    errors.push({
      pointer: '/body/min_label_length',
      code: 'too_large',
      message: 'must not exceed max_label_length',
    });
  if (r.minPeriodYears > r.maxPeriodYears)
    errors.push({
      pointer: '/body/min_period_years',
      code: 'too_large',
      message: 'must not exceed max_period_years',
    });
  if (!r.requiredContacts.includes('owner'))
    errors.push({
      pointer: '/body/required_contacts',
      code: 'invalid_value',
      message: 'every TLD needs an owner contact',
    });
  return errors;
}

/** The catalogue's rules and lists for the routes; every change refreshes this instance's catalogue. */
export function createTldService(deps: { db: Db; catalogue: TldCatalogue; accounts: AccountReader }) {
  const { db, catalogue } = deps;
  const entryOf = async (tld: string) => (await loadTlds(db, { tld }))[0]!;
  return {
    loadTlds: (opts?: { tld?: string; currency?: string }) => loadTlds(db, opts),
    /** Resellers see prices in their billing currency; operators see every currency. */
    currencyOf: async (accountId: string | null) =>
      accountId ? (await deps.accounts.getAccount(accountId)).currency : undefined,
    /** Creates or replaces a TLD's rules, once they agree with themselves. */
    async setTldRules(tld: string, rules: TldRules): Promise<TldEntry> {
      const errors = tldRuleErrors(rules);
      if (errors.length) throw new ValidationFailed('The TLD rules are not consistent', { errors });
      await upsertTld(db, tld, rules);
      await catalogue.refresh();
      return entryOf(tld);
    },
    /** Replaces the lists given, each whole; 404 for a TLD not in the catalogue. */
    async setTldLists(tld: string, lists: Parameters<typeof replaceTldLists>[2]): Promise<TldEntry> {
      await loadTlds(db, { tld });
      await replaceTldLists(db, tld, lists);
      await catalogue.refresh();
      return entryOf(tld);
    },
  };
}
export type TldService = ReturnType<typeof createTldService>;

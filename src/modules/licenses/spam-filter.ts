// Spam-filter domains (R-LIC-4): a domain with its mail destinations, aliases and products
// (incoming, outgoing, archiving) at the spam-filter vendor. The vendor counts a domain's mailboxes
// as the recipients with a successful delivery in the last 7 days, aliases and lists excluded;
// operators import those counts. 1,000 mailboxes per domain are included; each one above that is
// charged per monthly billing period, once per period (the peak count reported in the period), when
// the period has ended, or when the domain is removed (the ended periods not charged yet, and the
// running one on its peak so far: removing a domain does not avoid a charge). The reseller sees the
// count, the included limit and the projected charge before the period closes, and an event when a
// domain goes over. A domain is filtered only for an account whose currency has an overage price
// (422 not_sold_in_currency otherwise); when the operator removes that price later, a period settled
// meanwhile is recorded `unpriced` (never charged 0) with spam_filter.overage_unpriced, and charged at
// the catalogue's price by the job once the operator sets one again.
import { and, inArray, ne, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { Type } from 'typebox';
import { isUniqueViolation, queryRows, type Db, type Tx } from '../../db/client.js';
import {
  spamFilterCharges,
  spamFilterDomains,
  spamFilterMailboxReports,
  spamFilterNames,
} from '../../db/schema/index.js';
import { defineError, invalidField, NotFound, ValidationFailed, type FieldErrorBody } from '../../errors.js';
import { toAscii } from '../../lib/domain-name.js';
import { DateTime, Int32, iso, Money, named, Page, Uuid } from '../../schemas.js';
import { charge, InsufficientFunds } from '../billing/api.js';
import { defineEventType, emitEvent } from '../events/api.js';
import { periodAt, type Period } from './periods.js';
import { policyView, strict, VendorPolicy } from './schemas.js';
import { isPublicAddress, normaliseAddress } from './addresses.js';
import { currentPolicies, listProducts } from './store.js';

/** Mailboxes per domain included in the price (R-LIC-4). */
export const INCLUDED_MAILBOXES = 1_000;
export const OVERAGE_PRODUCT = 'SPAMEXPERTS-MAILBOX-OVERAGE';

export const SpamFilterDomainTaken = defineError(
  'spam_filter_domain_taken',
  409,
  'The domain is filtered already (by you or another account)',
);

const SpamProduct = Type.Enum(['incoming', 'outgoing', 'archiving']);
export const Destination = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253, description: 'Mail server to deliver filtered mail to' }),
    port: Type.Integer({ minimum: 1, maximum: 65_535 }),
  },
  strict,
);
export const SpamFilterDomain = named(
  'SpamFilterDomain',
  Type.Object(
    {
      id: Uuid,
      name: Type.String(),
      destinations: Type.Array(Destination),
      aliases: Type.Array(Type.String()),
      products: Type.Array(SpamProduct),
      mailboxes: Type.Object(
        {
          current: Type.Union([Int32({ minimum: 0 }), Type.Null()], {
            description: 'The latest count (null: none yet)',
          }),
          last_report_at: Type.Union([DateTime, Type.Null()]),
          peak_this_period: Int32({
            minimum: 0,
            description: 'The highest count reported in the current period: what is billed',
          }),
          included: Int32({ minimum: 0 }),
          over: Int32({ minimum: 0, description: 'Mailboxes above the included ones, at the peak' }),
          unit_price: Type.Union([Money, Type.Null()], {
            description:
              "Per mailbox above the included ones, per period (null: the catalogue has no overage price in the account's currency at the moment)",
          }),
          projected_charge: Type.Union([Money, Type.Null()], {
            description:
              'The charge of the current period at its peak so far (null: mailboxes are over but there is no price to charge them at yet)',
          }),
          period: Type.Object({ start: DateTime, end: DateTime }, strict),
        },
        strict,
      ),
      charges: Type.Array(
        Type.Object(
          {
            period_start: DateTime,
            period_end: DateTime,
            mailboxes: Int32({ minimum: 0 }),
            overage: Int32({ minimum: 0 }),
            amount: Money,
            status: Type.Enum(['charged', 'unpaid', 'unpriced'], {
              description:
                "unpaid: the balance did not cover it, collected once it does; unpriced: the catalogue had no overage price in the account's currency when the period was settled, nothing is charged (amount 0) until the operator sets one, then it is charged at that price",
            }),
          },
          strict,
        ),
      ),
      policies: Type.Array(VendorPolicy, { description: 'R-LIC-5: pass these on to your customers' }),
      created_at: DateTime,
      updated_at: DateTime,
    },
    strict,
  ),
);
export const SpamFilterDomainList = Page(SpamFilterDomain);

export const SpamFilterOverLimit = defineEventType({
  type: 'spam_filter.over_limit',
  group: 'licenses',
  objectType: 'spam_filter_domain',
  summary: `R-LIC-4: a mailbox report took a domain above the ${INCLUDED_MAILBOXES} included mailboxes (each one above is charged per period)`,
  data: SpamFilterDomain,
});
export const SpamFilterOverageCharged = defineEventType({
  type: 'spam_filter.overage_charged',
  group: 'licenses',
  objectType: 'spam_filter_domain',
  summary: 'R-LIC-4: the mailboxes above the included ones were charged for a billing period that ended',
  data: SpamFilterDomain,
});

export const SpamFilterOverageUnpriced = defineEventType({
  type: 'spam_filter.overage_unpriced',
  group: 'licenses',
  objectType: 'spam_filter_domain',
  summary:
    "R-LIC-4: a period's mailboxes above the included ones could not be charged: the catalogue has no overage price in the account's currency (recorded unpriced, charged once a price is set)",
  data: SpamFilterDomain,
});

type DomainRow = typeof spamFilterDomains.$inferSelect;
type DestinationInput = { host: string; port: number };

export interface SpamFilterInput {
  name: string;
  destinations: DestinationInput[];
  aliases?: string[];
  products: ('incoming' | 'outgoing' | 'archiving')[];
}

const domainName = (raw: string, pointer: string): string => {
  const ascii = toAscii(raw.trim().toLowerCase().replace(/\.$/, ''));
  if (!ascii || !/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/.test(ascii))
    throw new ValidationFailed(`${raw} is not a domain name`, {
      errors: [{ pointer, code: 'invalid_domain_name', message: `${raw} is not a domain name` }],
    });
  return ascii;
};

/** LDH labels of 1-63 octets, at least two, the last not all digits (that would read as an address). */
const HOSTNAME =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?=[a-z0-9-]*[a-z-])[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The destinations with each host in canonical form: a public DNS hostname (lower-case A-labels) or
 * a public IP address literal; 422 naming each host that is neither (private, loopback, link-local,
 * reserved addresses and single-label names such as localhost are refused).
 */
export function checkedDestinations(destinations: DestinationInput[]): DestinationInput[] {
  const errors: FieldErrorBody[] = [];
  const out = destinations.map((d, i) => {
    const pointer = `/body/destinations/${i}/host`;
    const address = normaliseAddress(d.host);
    if (address) {
      if (isPublicAddress(address)) return { host: address, port: d.port };
      errors.push({
        pointer,
        code: 'address_not_public',
        message: `${d.host} is not a public address (private, loopback, link-local or reserved)`,
      });
      return d;
    }
    const lower = d.host.trim().toLowerCase().replace(/\.$/, '');
    const ascii = /^[\p{L}\p{M}\p{N}.-]+$/u.test(lower) ? toAscii(lower) : '';
    if (ascii && HOSTNAME.test(ascii)) return { host: ascii, port: d.port };
    errors.push({
      pointer,
      code: 'invalid_host',
      message: `${d.host} is neither a public host name (at least two labels of letters, digits and hyphens) nor a public IP address`,
    });
    return d;
  });
  if (errors.length) throw new ValidationFailed(`${errors.length} problem(s) with the destinations`, { errors });
  return out;
}

export function createSpamFilter(deps: {
  db: Db;
  now: () => Date;
  currencyOf: (accountId: string) => Promise<string>;
  log: FastifyBaseLogger;
}) {
  const { db } = deps;

  async function unitPrice(tx: Tx, currency: string): Promise<number | null> {
    const [p] = await listProducts(tx, [OVERAGE_PRODUCT]);
    return p?.prices.find((x) => x.period_months === 1 && x.currency === currency)?.amount ?? null;
  }

  async function peakIn(tx: Tx, domainId: string, start: Date, end: Date): Promise<number> {
    const rows = await queryRows<{ peak: number | null }>(
      tx,
      sql`SELECT max(mailboxes)::int AS peak FROM spam_filter_mailbox_reports
          WHERE domain_id = ${domainId}::uuid AND reported_at >= ${start.toISOString()}::timestamptz
            AND reported_at < ${end.toISOString()}::timestamptz`,
    );
    return rows[0]?.peak ?? 0;
  }

  /** A period's overage charge collected, or left unpaid (and retried by the job) when the balance does not cover it. */
  async function collect(tx: Tx, c: typeof spamFilterCharges.$inferSelect): Promise<'charged' | 'unpaid'> {
    let status: 'charged' | 'unpaid' = 'charged';
    try {
      await tx.transaction((sp) =>
        charge(sp, {
          accountId: c.accountId,
          money: { amount: c.amount, currency: c.currency },
          reason: `Spam filter ${c.domainName}: ${c.overage} mailbox(es) above ${INCLUDED_MAILBOXES}, ${c.periodStart.toISOString().slice(0, 10)} to ${c.periodEnd.toISOString().slice(0, 10)} (R-LIC-4)`,
          reference: `spam-filter:${c.domainName}`,
        }),
      );
    } catch (err) {
      if (!(err instanceof InsufficientFunds)) throw err;
      status = 'unpaid';
    }
    await tx
      .update(spamFilterCharges)
      .set({ status })
      .where(sql`id = ${c.id}`);
    return status;
  }

  /**
   * One period's overage of a domain, charged once in `tx` (0 when another run or the removal
   * charged it: the unique key on domain and period start). With no overage price in `currency`
   * (the operator removed it after the domain was added) nothing is charged, never 0 silently: the
   * period is recorded `unpriced` with spam_filter.overage_unpriced, and the job prices and charges
   * it once the catalogue has a price again (chargeUnpriced).
   */
  async function chargePeriodIn(tx: Tx, d: DomainRow, period: Period, peak: number, currency: string, now: Date) {
    const overage = Math.max(0, peak - INCLUDED_MAILBOXES);
    if (overage === 0) return 0;
    const unit = await unitPrice(tx, currency);
    const [row] = await tx
      .insert(spamFilterCharges)
      .values({
        domainId: d.id,
        accountId: d.accountId,
        domainName: d.name,
        periodStart: period.start,
        periodEnd: period.end,
        mailboxes: peak,
        overage,
        amount: unit === null ? 0 : overage * unit,
        currency,
        status: unit === null ? 'unpriced' : 'unpaid',
      })
      .onConflictDoNothing()
      .returning();
    if (!row) return 0;
    if (unit === null) {
      deps.log.error(
        { domain: d.name, currency, period_start: period.start.toISOString(), overage },
        `spam-filter overage not charged: ${OVERAGE_PRODUCT} has no price in ${currency} (recorded unpriced)`,
      );
      const v = await view(tx, d, currency, now);
      await emitEvent(tx, SpamFilterOverageUnpriced, { accountId: d.accountId, objectId: d.id, data: v });
      return 0;
    }
    await collect(tx, row);
    const v = await view(tx, d, currency, now);
    await emitEvent(tx, SpamFilterOverageCharged, { accountId: d.accountId, objectId: d.id, data: v });
    return 1;
  }

  /** One ended period's overage of a domain, charged once (0 when another run charged it). */
  async function chargePeriod(d: DomainRow, ended: Period, peak: number, currency: string, now: Date) {
    if (peak <= INCLUDED_MAILBOXES) return 0;
    return db.transaction((tx) => chargePeriodIn(tx, d, ended, peak, currency, now));
  }

  /**
   * A domain being removed, in its removal's transaction (R-LIC-4): its reports go with it, so what
   * they would have been charged is charged now. Each ended period not charged yet is charged on its
   * peak, and the running period on the peak reached so far, as a period that ends at the removal
   * (the overage is per period, not pro rata: the period-end charge would have been the same). Once
   * each: a period the job charged meanwhile is not charged again.
   */
  async function settle(tx: Tx, d: DomainRow, currency: string, now: Date): Promise<number> {
    const over = await queryRows<{ reported_at: string | Date; mailboxes: number }>(
      tx,
      sql`SELECT reported_at, mailboxes FROM spam_filter_mailbox_reports
          WHERE domain_id = ${d.id}::uuid AND mailboxes > ${INCLUDED_MAILBOXES}`,
    );
    const current = periodAt(d.periodAnchor, 1, now);
    let charged = 0;
    for (const { period, peak } of peaksByPeriod(d.periodAnchor, over)) {
      const upTo = period.index === current.index ? { ...period, end: now } : period;
      charged += await chargePeriodIn(tx, d, upTo, peak, currency, now);
    }
    return charged;
  }

  /** An unpriced period's charge priced at the catalogue's price, once it has one, and collected: 1 when charged. */
  async function priceUnpriced(tx: Tx, id: number, now: Date): Promise<number> {
    const [c] = await tx
      .select()
      .from(spamFilterCharges)
      .where(sql`id = ${id} AND status = 'unpriced'`)
      .for('update', { skipLocked: true });
    if (!c) return 0;
    const unit = await unitPrice(tx, c.currency);
    if (unit === null) return 0; // still no price: it waits, recorded unpriced
    const [row] = await tx
      .update(spamFilterCharges)
      .set({ amount: c.overage * unit, status: 'unpaid' })
      .where(sql`id = ${id}`)
      .returning();
    const status = await collect(tx, row!);
    const [d] = await tx
      .select()
      .from(spamFilterDomains)
      .where(sql`id = ${c.domainId}::uuid`);
    if (d) {
      const v = await view(tx, d, c.currency, now);
      await emitEvent(tx, SpamFilterOverageCharged, { accountId: d.accountId, objectId: d.id, data: v });
    }
    return status === 'charged' ? 1 : 0;
  }

  async function view(tx: Tx, d: DomainRow, currency: string, now: Date) {
    const period = periodAt(d.periodAnchor, 1, now);
    const [latest] = await tx
      .select()
      .from(spamFilterMailboxReports)
      .where(sql`domain_id = ${d.id}::uuid`)
      .orderBy(sql`reported_at DESC, id DESC`)
      .limit(1);
    const peak = await peakIn(tx, d.id, period.start, period.end);
    const unit = await unitPrice(tx, currency);
    const over = Math.max(0, peak - INCLUDED_MAILBOXES);
    const charges = await tx
      .select()
      .from(spamFilterCharges)
      .where(sql`domain_id = ${d.id}::uuid`)
      .orderBy(sql`period_start`);
    return {
      id: d.id,
      name: d.name,
      destinations: d.destinations as DestinationInput[],
      aliases: d.aliases,
      products: d.products as ('incoming' | 'outgoing' | 'archiving')[],
      mailboxes: {
        current: latest?.mailboxes ?? null,
        last_report_at: iso(latest?.reportedAt),
        peak_this_period: peak,
        included: INCLUDED_MAILBOXES,
        over,
        unit_price: unit === null ? null : { amount: unit, currency },
        projected_charge:
          unit !== null ? { amount: over * unit, currency } : over === 0 ? { amount: 0, currency } : null,
        period: { start: period.start.toISOString(), end: period.end.toISOString() },
      },
      charges: charges.map((c) => ({
        period_start: c.periodStart.toISOString(),
        period_end: c.periodEnd.toISOString(),
        mailboxes: c.mailboxes,
        overage: c.overage,
        amount: { amount: c.amount, currency: c.currency },
        status: c.status as 'charged' | 'unpaid' | 'unpriced',
      })),
      policies: (await currentPolicies(tx, 'spamexperts')).map(policyView),
      created_at: d.createdAt.toISOString(),
      updated_at: d.updatedAt.toISOString(),
    };
  }

  async function find(tx: Tx, accountId: string | null, name: string, lock = false): Promise<DomainRow> {
    const q = tx
      .select()
      .from(spamFilterDomains)
      .where(
        accountId
          ? sql`name = ${domainName(name, '/params/name')} AND account_id = ${accountId}::uuid`
          : sql`name = ${domainName(name, '/body/domain')}`,
      );
    const [d] = lock ? await q.for('update') : await q;
    if (!d) throw new NotFound('No such spam-filter domain');
    return d;
  }

  const aliasesOf = (aliases: string[] | undefined) =>
    [...new Set((aliases ?? []).map((a, i) => domainName(a, `/body/aliases/${i}`)))].sort();

  /**
   * 409 when one of `names` is the domain's own name used as an alias, or is a name or alias of
   * another domain (of any account: which one is not said). `self`: the domain being changed.
   */
  async function unclaimed(tx: Tx, self: string | null, names: string[], own: string) {
    const aliases = self === null ? names.slice(1) : names;
    if (aliases.includes(own)) throw new SpamFilterDomainTaken(`${own} is the domain itself, not an alias of it`);
    if (names.length === 0) return;
    const taken = await tx
      .select({ name: spamFilterNames.name })
      .from(spamFilterNames)
      .where(
        self === null
          ? inArray(spamFilterNames.name, names)
          : and(inArray(spamFilterNames.name, names), ne(spamFilterNames.domainId, self)),
      )
      .orderBy(spamFilterNames.name);
    if (taken.length)
      throw new SpamFilterDomainTaken(
        `Filtered already (by you or another account): ${taken.map((t) => t.name).join(', ')}`,
      );
  }

  /** Claims the name (when `withName`) and the aliases of a domain: a unique violation when another holds one. */
  async function claim(tx: Tx, domainId: string, name: string, aliases: string[], withName: boolean) {
    const rows = [
      ...(withName ? [{ name, domainId, kind: 'name' }] : []),
      ...aliases.map((a) => ({ name: a, domainId, kind: 'alias' })),
    ];
    if (rows.length) await tx.insert(spamFilterNames).values(rows);
  }

  return {
    async add(account: { id: string; currency: string }, input: SpamFilterInput) {
      const now = deps.now();
      const name = domainName(input.name, '/body/name');
      const aliases = aliasesOf(input.aliases);
      const destinations = checkedDestinations(input.destinations);
      try {
        return await db.transaction(async (tx) => {
          // R-LIC-4: the overage must be chargeable in the account's currency (as a Plesk quote
          // refuses an edition with no price in it).
          if ((await unitPrice(tx, account.currency)) === null)
            invalidField(
              '/body',
              'not_sold_in_currency',
              `The spam filter is not sold in ${account.currency}: ${OVERAGE_PRODUCT} has no price in it`,
            );
          await unclaimed(tx, null, [name, ...aliases], name);
          const [row] = await tx
            .insert(spamFilterDomains)
            .values({
              accountId: account.id,
              name,
              destinations,
              aliases,
              products: [...new Set(input.products)].sort(),
              periodAnchor: now,
              createdAt: now,
              updatedAt: now,
            })
            .returning();
          await claim(tx, row!.id, name, aliases, true);
          return view(tx, row!, account.currency, now);
        });
      } catch (err) {
        // A request at the same time claimed one of them first (the unique keys decide).
        if (isUniqueViolation(err))
          throw new SpamFilterDomainTaken(`${name} or one of its aliases is filtered already`);
        throw err;
      }
    },
    async get(account: { id: string; currency: string }, name: string) {
      return view(db, await find(db, account.id, name), account.currency, deps.now());
    },
    async list(account: { id: string; currency: string }, after: string | undefined, limit: number) {
      const rows = await db
        .select()
        .from(spamFilterDomains)
        .where(sql`account_id = ${account.id}::uuid ${after ? sql`AND name > ${after}` : sql``}`)
        .orderBy(sql`name`)
        .limit(limit + 1);
      const now = deps.now();
      const out = [];
      for (const d of rows) out.push(await view(db, d, account.currency, now));
      return out;
    },
    async update(
      account: { id: string; currency: string },
      name: string,
      patch: Partial<Omit<SpamFilterInput, 'name'>>,
    ) {
      const now = deps.now();
      const aliases = patch.aliases ? aliasesOf(patch.aliases) : undefined;
      const destinations = patch.destinations ? checkedDestinations(patch.destinations) : undefined;
      try {
        return await db.transaction(async (tx) => {
          const d = await find(tx, account.id, name, true);
          if (aliases) {
            await unclaimed(tx, d.id, aliases, d.name);
            await tx.delete(spamFilterNames).where(sql`domain_id = ${d.id}::uuid AND kind = 'alias'`);
            await claim(tx, d.id, d.name, aliases, false);
          }
          const [row] = await tx
            .update(spamFilterDomains)
            .set({
              destinations: destinations ?? (d.destinations as DestinationInput[]),
              aliases: aliases ?? d.aliases,
              products: patch.products ? [...new Set(patch.products)].sort() : d.products,
              updatedAt: now,
            })
            .where(sql`id = ${d.id}::uuid`)
            .returning();
          return view(tx, row!, account.currency, now);
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new SpamFilterDomainTaken('One of the aliases is filtered already');
        throw err;
      }
    },
    /** Stops filtering a domain; the overage it ran up and was not charged for is charged first. */
    async remove(account: { id: string; currency: string }, name: string) {
      const now = deps.now();
      await db.transaction(async (tx) => {
        const d = await find(tx, account.id, name, true);
        await settle(tx, d, account.currency, now);
        await tx.delete(spamFilterDomains).where(sql`id = ${d.id}::uuid`);
      });
    },

    /**
     * The vendor's recipients of a domain with a successful delivery in the last 7 days: mailboxes
     * of the domain itself count, each once (case-insensitively); addresses at its aliases and
     * entries marked alias or list do not. Emits spam_filter.over_limit when the count crosses the
     * included limit.
     */
    async report(
      domain: string,
      recipients: { address: string; kind?: 'mailbox' | 'alias' | 'list' }[],
      reportedAt?: Date,
    ) {
      const now = deps.now();
      const at = reportedAt && reportedAt < now ? reportedAt : now;
      const d = await find(db, null, domain);
      const currency = await deps.currencyOf(d.accountId);
      return db.transaction(async (tx) => {
        const row = await find(tx, null, domain, true);
        const mailboxes = new Set(
          recipients
            .filter((r) => (r.kind ?? 'mailbox') === 'mailbox')
            .map((r) => r.address.trim().toLowerCase())
            .filter((a) => a.endsWith(`@${row.name}`)),
        ).size;
        const [previous] = await tx
          .select()
          .from(spamFilterMailboxReports)
          .where(sql`domain_id = ${row.id}::uuid`)
          .orderBy(sql`reported_at DESC, id DESC`)
          .limit(1);
        await tx.insert(spamFilterMailboxReports).values({ domainId: row.id, mailboxes, reportedAt: at });
        const v = await view(tx, row, currency, now);
        const wasOver = (previous?.mailboxes ?? 0) > INCLUDED_MAILBOXES;
        if (mailboxes > INCLUDED_MAILBOXES && !wasOver)
          await emitEvent(tx, SpamFilterOverLimit, { accountId: row.accountId, objectId: row.id, data: v });
        return { mailboxes, domain: v };
      });
    },

    /**
     * The job: charges each domain's overage for every period that ended and was not charged yet,
     * the periods a stopped job missed included (exactly once each: the unique key per domain and
     * period). Only reports above the included mailboxes since the domain's last charged period are
     * read.
     */
    async chargeEndedPeriods(now: Date): Promise<number> {
      // One statement for every domain: the reports above the included mailboxes since the
      // domain's last charged period (its anchor when none), before now.
      const over = await queryRows<{ domain_id: string; reported_at: string | Date; mailboxes: number }>(
        db,
        sql`SELECT r.domain_id, r.reported_at, r.mailboxes
            FROM spam_filter_domains d JOIN spam_filter_mailbox_reports r ON r.domain_id = d.id
            WHERE r.mailboxes > ${INCLUDED_MAILBOXES} AND r.reported_at < ${now.toISOString()}::timestamptz
              AND r.reported_at >= coalesce((SELECT max(period_end) FROM spam_filter_charges c WHERE c.domain_id = d.id),
                                            d.period_anchor)`,
      );
      const ids = [...new Set(over.map((r) => r.domain_id))];
      const domains = new Map(
        (ids.length ? await db.select().from(spamFilterDomains).where(inArray(spamFilterDomains.id, ids)) : []).map(
          (d) => [d.id, d],
        ),
      );
      // Each domain's peak per ended period (the current period is not billed yet).
      const reports = new Map<string, typeof over>();
      for (const r of over) {
        const own = reports.get(r.domain_id) ?? [];
        reports.set(r.domain_id, own);
        own.push(r);
      }
      let charged = 0;
      for (const [domainId, own] of reports) {
        const d = domains.get(domainId);
        if (!d) continue; // removed meanwhile (the removal charged what was due)
        const current = periodAt(d.periodAnchor, 1, now).index;
        const ended = peaksByPeriod(d.periodAnchor, own).filter((p) => p.period.index < current);
        if (!ended.length) continue;
        const currency = await deps.currencyOf(d.accountId);
        for (const { period, peak } of ended) {
          try {
            charged += await chargePeriod(d, period, peak, currency, now);
          } catch (err) {
            // The later periods wait too: the next run starts again from this one.
            deps.log.error({ err, domain: d.name }, 'spam-filter overage charge failed');
            break;
          }
        }
      }
      // Periods settled while the catalogue had no price in their currency (of removed domains too):
      // priced at the catalogue's price once it has one, and collected (or left unpaid) like any other.
      const unpriced = await db
        .select({ id: spamFilterCharges.id })
        .from(spamFilterCharges)
        .where(sql`status = 'unpriced'`)
        .orderBy(spamFilterCharges.id);
      for (const { id } of unpriced) {
        try {
          charged += await db.transaction((tx) => priceUnpriced(tx, id, now));
        } catch (err) {
          deps.log.error({ err, charge: id }, 'spam-filter overage pricing failed');
        }
      }
      // Charges the balance did not cover when due (of removed domains too): collected once it does.
      const unpaid = await db
        .select({ id: spamFilterCharges.id })
        .from(spamFilterCharges)
        .where(sql`status = 'unpaid'`)
        .orderBy(spamFilterCharges.id);
      for (const { id } of unpaid) {
        try {
          await db.transaction(async (tx) => {
            const [c] = await tx
              .select()
              .from(spamFilterCharges)
              .where(sql`id = ${id} AND status = 'unpaid'`)
              .for('update', { skipLocked: true });
            if (c && (await collect(tx, c)) === 'charged') charged++;
          });
        } catch (err) {
          deps.log.error({ err, charge: id }, 'spam-filter overage collection failed');
        }
      }
      return charged;
    },
  };
}

/** The peak count of each period that has reports, oldest period first. */
function peaksByPeriod(
  anchor: Date,
  reports: { reported_at: string | Date; mailboxes: number }[],
): { period: Period; peak: number }[] {
  const peaks = new Map<number, { period: Period; peak: number }>();
  for (const r of reports) {
    const period = periodAt(anchor, 1, new Date(r.reported_at));
    const seen = peaks.get(period.index);
    if (!seen || seen.peak < Number(r.mailboxes)) peaks.set(period.index, { period, peak: Number(r.mailboxes) });
  }
  return [...peaks.values()].sort((a, b) => a.period.index - b.period.index);
}

export type SpamFilter = ReturnType<typeof createSpamFilter>;

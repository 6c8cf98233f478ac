// Registration (R-DOM-1, R-DOM-2, R-DOM-5): a checked name, a period the TLD allows, contacts that
// satisfy the TLD, the quoted or current price (never above max_price), the registry entry, the
// domain and the ledger charge in one transaction.
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import { batched, jsonValue, preparedStatement, type Db } from '../../db/client.js';
import { domains } from '../../db/schema/index.js';
import { Type } from 'typebox';
import { defineError, NotFound, ValidationFailed, type FieldErrorBody } from '../../errors.js';
import { Money as MoneySchema } from '../../schemas.js';
import { parseDomainName, tldOf } from '../../lib/domain-name.js';
import { randomToken } from '../../lib/tokens.js';
import type { AccountRow } from '../accounts/service.js';
import { abortUnlessMoved, chargeRefusal, ledgerCtes, ledgerParams, type Movement } from '../billing/ledger.js';
import { resellerDataWarnings, type ContactRow, type ContactWarning } from './contact-service.js';
import { checkNameservers, contactProblems, namedHandles, type ContactRole } from './domain-validation.js';
import { lifecycleDates } from './lifecycle-dates.js';
import { openQuote } from './quotes.js';
import { DomainNotAvailable, type RegistryBackend, type RegistryCreate } from './registry.js';
import type { TldCatalogue } from './tld-service.js';

export const AvailabilityCheckRequired = defineError(
  'availability_check_required',
  409,
  'Check the name with POST /v1/domains/check first',
);
export const PriceChanged = defineError(
  'price_changed',
  409,
  'The price is above max_price',
  Type.Object({ price: MoneySchema, max_price: MoneySchema }),
);
export const PremiumNotAccepted = defineError(
  'premium_not_accepted',
  409,
  'A premium name needs accept_premium: true',
  Type.Object({ price: MoneySchema }),
);
export const QuoteExpired = defineError('quote_expired', 409, 'The quote expired or is for another name');

import type { DomainRow } from './domain-schemas.js';
export type { DomainRow };

export interface RegisterInput {
  name: string;
  periodYears?: number;
  contacts: Partial<Record<ContactRole, string>>;
  nameservers: string[];
  quoteId?: string;
  maxPrice?: { amount: number; currency: string };
  acceptPremium?: boolean;
  autorenew?: boolean;
}

export interface RegisterDeps {
  /** registrationFacts(db), made once. */
  facts: (q: FactsQuery) => Promise<Facts>;
  /** registrationWriter(db, registry), made once. */
  write: RegistrationWriter;
  catalogue: TldCatalogue;
  seal(plaintext: string): string;
  /** The payload of a quote id this server signed, or null. */
  verifyQuote(token: string): string | null;
  checkWindowS: number;
}

type ContactFacts = Pick<ContactRow, 'handle' | 'country' | 'email' | 'organisation' | 'phone'>;

type AccountFacts = Pick<AccountRow, 'contactEmail' | 'companyName' | 'contactPhone'>;
interface FactsQuery {
  accountId: string;
  handles: string[];
  name: string;
  since: Date;
}
interface Facts {
  account: AccountFacts | null;
  contacts: ContactFacts[];
  check: { result: string } | null;
}

/**
 * What a registration reads before its transaction: the account's own contact data (for the
 * R-DOM-1 warning), the named contacts of the account, and the account's check of the name within
 * the window (R-DOM-2). Registrations running at the same time share one statement.
 */
export function registrationFacts(db: Db): (q: FactsQuery) => Promise<Facts> {
  const select = preparedStatement<{ ord: number; account: unknown; contacts: unknown; last_check: unknown }>(
    'registration_facts',
    sql`select q.ord,
        (select json_build_object('contactEmail', a.contact_email, 'companyName', a.company_name, 'contactPhone', a.contact_phone) from accounts a where a.id = q.account_id) as account,
        (select coalesce(json_agg(json_build_object('handle', c.handle, 'country', c.country, 'email', c.email, 'organisation', c.organisation, 'phone', c.phone)), '[]'::json)
           from contacts c where c.account_id = q.account_id and c.handle in (select jsonb_array_elements_text(q.handles))) as contacts,
        (select json_build_object('result', k.result) from domain_checks k where k.account_id = q.account_id and k.name = q.name and k.checked_at > q.since) as last_check
      from jsonb_to_recordset(${sql.placeholder('keys')}::jsonb) as q(ord integer, account_id uuid, handles jsonb, name text, since timestamptz)`,
  );
  return batched<FactsQuery, Facts>(async (items) => {
    const keys = items.map((i, ord) => ({
      ord,
      account_id: i.accountId,
      handles: i.handles,
      name: i.name,
      since: i.since.toISOString(),
    }));
    const rows = await select(db, { keys: JSON.stringify(keys) });
    const byOrd = new Map(rows.map((r) => [Number(r.ord), r]));
    return items.map((_, ord) => {
      const r = byOrd.get(ord)!;
      return {
        account: jsonValue<AccountFacts | null>(r.account),
        contacts: jsonValue<ContactFacts[]>(r.contacts),
        check: jsonValue<{ result: string } | null>(r.last_check),
      };
    });
  });
}

type NewDomain = Omit<DomainRow, 'id'>;
/** Writes a registration (registry entry, domain, charge) atomically and answers the stored domain. */
export type RegistrationWriter = (
  create: RegistryCreate,
  domain: (dates: { createdAt: Date; expiresAt: Date }) => NewDomain,
  charge: Movement,
) => Promise<DomainRow>;

// Every column but the generated id, in the schema's own names and types: a column added to the
// schema is part of the insert without touching this file.
const domainColumns = Object.entries(getTableColumns(domains)).filter(([key]) => key !== 'id');
const domainParams = (d: NewDomain): Record<string, unknown> =>
  Object.fromEntries(
    domainColumns.map(([key, col]) => {
      const v = (d as unknown as Record<string, unknown>)[key];
      return [`domain_${col.name}`, v instanceof Date ? v.toISOString() : v];
    }),
  );

/**
 * The domain row and its charge as one statement behind `registryCreate` (a CTE named
 * registry_create that yields a row when the registry created the name): no row from it, nothing
 * written and no row back; a refused charge aborts the whole statement (abortUnlessMoved).
 */
const registrationStatement = (registryCreate: SQL): SQL => sql`with ${registryCreate},
  domain_insert as (
    insert into domains (${sql.raw(domainColumns.map(([, col]) => col.name).join(', '))})
    select ${sql.join(
      domainColumns.map(([, col]) => sql`${sql.placeholder(`domain_${col.name}`)}::${sql.raw(col.getSQLType())}`),
      sql`, `,
    )} from registry_create
    returning id),
  ${ledgerCtes(sql`exists (select 1 from domain_insert)`)}
  select d.id, ${abortUnlessMoved} as refused from domain_insert d`;

/**
 * The write of a registration. A registry in our own database (createInStatement) joins the
 * statement, so a registration is one round trip with no BEGIN or COMMIT; any other registry is
 * called first, in a transaction with the same statement.
 */
export function registrationWriter(db: Db, registry: RegistryBackend): RegistrationWriter {
  const inDatabase = registry.createInStatement;
  const whole =
    inDatabase && preparedStatement<{ id: string }>('register_domain', registrationStatement(inDatabase.cte));
  const afterCreate = preparedStatement<{ id: string }>(
    'register_domain_after_create',
    registrationStatement(sql`registry_create as (select 1)`),
  );
  return async (create, domain, charge) => {
    try {
      if (inDatabase && whole) {
        const bound = inDatabase.bind(create);
        const values = domain(bound);
        const [row] = await whole(db, {
          ...bound.params,
          ...domainParams(values),
          ...ledgerParams(charge, create.now),
        });
        if (!row) throw new DomainNotAvailable(`${create.name} was registered a moment ago`);
        return { id: row.id, ...values };
      }
      return await db.transaction(async (tx) => {
        const values = domain(await registry.create(tx, create));
        const [row] = await afterCreate(tx, { ...domainParams(values), ...ledgerParams(charge, create.now) });
        return { id: row!.id, ...values };
      });
    } catch (err) {
      throw (await chargeRefusal(db, err, charge)) ?? err;
    }
  };
}

export async function registerDomain(
  deps: RegisterDeps,
  account: { id: string; currency: string },
  input: RegisterInput,
  now = new Date(),
): Promise<{ domain: DomainRow; charged: { amount: number; currency: string }; warnings: ContactWarning[] }> {
  const tld = tldOf(input.name);
  const entry = deps.catalogue.forCurrency(account.currency).get(tld);
  const invalid = (pointer: string, code: string, message: string): never => {
    throw new ValidationFailed(message, { errors: [{ pointer, code, message }] });
  };
  if (!entry) invalid('/body/name', 'tld_not_offered', `.${tld} is not offered`);
  const rules = entry!.rules;
  const parsed = parseDomainName(input.name, tld, {
    minLength: rules.minLabelLength,
    maxLength: rules.maxLabelLength,
    idnScripts: rules.idnScripts,
  });
  if (!parsed.ok) return invalid('/body/name', parsed.code, parsed.reason);
  const name = parsed.name;

  const problems: FieldErrorBody[] = [];
  const years = input.periodYears ?? rules.minPeriodYears;
  if (years < rules.minPeriodYears || years > rules.maxPeriodYears) {
    problems.push({
      pointer: '/body/period_years',
      code: 'period_not_allowed',
      message: `.${tld} registers for ${rules.minPeriodYears}-${rules.maxPeriodYears} years`,
    });
  }
  const ns = checkNameservers(input.nameservers, '/body/nameservers', problems);
  const facts = await deps.facts({
    accountId: account.id,
    handles: namedHandles(input.contacts),
    name,
    since: new Date(now.getTime() - deps.checkWindowS * 1000),
  });
  if (!facts.account) throw new NotFound('No such account');
  const owner = contactProblems(rules, input.contacts, facts.contacts, '/body/contacts', problems);
  if (problems.length)
    throw new ValidationFailed(`${problems.length} problem(s) with the registration`, { errors: problems });

  // R-DOM-2: this account checked this name and found it free within the window.
  const check = facts.check;
  if (!check || (check.result !== 'free' && check.result !== 'premium')) {
    throw new AvailabilityCheckRequired(
      check
        ? `The last check of ${name} found it ${check.result}`
        : `${name} was not checked by this account in the last ${Math.round(deps.checkWindowS / 60)} minutes`,
    );
  }
  const label = name.slice(0, name.indexOf('.'));
  if (entry!.reserved.some((r) => r.label === label)) throw new DomainNotAvailable(`${name} is reserved`);

  const premium = entry!.premium.find((p) => p.label === label);
  let yearly = premium ? premium.registerAmount : entry!.prices.find((p) => p.operation === 'register')?.amount;
  if (input.quoteId) {
    const quote = openQuote(deps.verifyQuote, input.quoteId);
    if (!quote || quote.accountId !== account.id || quote.currency !== account.currency)
      throw new QuoteExpired('No such quote for this account');
    if (quote.name !== name) throw new QuoteExpired(`The quote is for ${quote.name}, not ${name}`);
    if (quote.expiresAt <= now) throw new QuoteExpired(`The quote expired at ${quote.expiresAt.toISOString()}`);
    // A quote is a ceiling: if the price fell since, the lower one is charged.
    yearly = yearly === undefined ? quote.amount : Math.min(yearly, quote.amount);
  }
  if (yearly === undefined)
    return invalid('/body/name', 'not_sold_in_currency', `.${tld} is not sold in ${account.currency}`);
  const total = { amount: yearly * years, currency: account.currency };
  if (premium && !input.acceptPremium) {
    throw new PremiumNotAccepted(
      `${name} is a premium name at ${total.amount} ${total.currency} for ${years} year(s); send accept_premium: true`,
      { extensions: { price: total } },
    );
  }
  if (input.maxPrice && (input.maxPrice.currency !== total.currency || total.amount > input.maxPrice.amount)) {
    throw new PriceChanged(`The registration costs ${total.amount} ${total.currency}, above max_price`, {
      extensions: { price: total, max_price: input.maxPrice },
    });
  }

  const authCode = randomToken(12);
  const domain = await deps.write(
    { name, accountId: account.id, years, now, authCode },
    (created) => ({
      accountId: account.id,
      name,
      unicodeName: parsed.unicode,
      tld,
      status: 'active',
      premium: Boolean(premium),
      registeredAt: created.createdAt,
      // Equal to registered_at only on a domain registered here (not transferred in): add grace applies.
      createdAt: created.createdAt,
      updatedAt: created.createdAt,
      expiresAt: created.expiresAt,
      ...lifecycleDates(created.expiresAt, rules),
      autorenewFailedAt: null,
      autorenew: input.autorenew ?? true,
      // A new domain is locked (clientTransferProhibited), at the registry too.
      locked: true,
      authCodeSealed: deps.seal(authCode),
      nameservers: ns,
      ownerHandle: input.contacts.owner!,
      adminHandle: input.contacts.admin ?? null,
      techHandle: input.contacts.tech ?? null,
      billingHandle: input.contacts.billing ?? null,
    }),
    {
      accountId: account.id,
      type: 'charge',
      money: total,
      reason: `Registration of ${name} for ${years} year(s)`,
      reference: `domain:${name}`,
    },
  );
  return { domain, charged: total, warnings: owner ? resellerDataWarnings(owner, facts.account!) : [] };
}

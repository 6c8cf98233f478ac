// Registration (R-DOM-1, R-DOM-2, R-DOM-5): a checked name, a period the TLD allows, contacts that
// satisfy the TLD, the quoted or current price (never above max_price), the registry entry, the
// domain and the ledger charge in one transaction. Its SQL is in register-store.ts.
import { Type } from 'typebox';
import { defineError, invalidField, NotFound, type FieldErrorBody, ValidationFailed } from '../../errors.js';
import { Money as MoneySchema } from '../../schemas.js';
import { parseDomainName, tldOf } from '../../lib/domain-name.js';
import { randomToken } from '../../lib/tokens.js';
import type { Money } from '../billing/api.js';
import { resellerDataWarnings, type ContactWarning } from './contact-service.js';
import { checkNameservers, contactProblems, namedHandles, type ContactRole } from './domain-validation.js';
import { lifecycleDates } from './lifecycle-dates.js';
import { assertMaxPrice, honourQuote, isPremium, labelOf, registerPrice } from './pricing.js';
import { openQuote } from './quotes.js';
import type { RegistrationFacts, RegistrationWriter } from './register-store.js';
import { DomainNotAvailable } from './registry.js';
import type { TldCatalogue } from './tld-service.js';

export const AvailabilityCheckRequired = defineError(
  'availability_check_required',
  409,
  'Check the name with POST /v1/domains/check first',
);
export const PremiumNotAccepted = defineError(
  'premium_not_accepted',
  409,
  'A premium name needs accept_premium: true',
  Type.Object({ price: MoneySchema }),
);
// One error code for every area's quotes: the ledger's.
import { QuoteExpired } from '../billing/api.js';
export { QuoteExpired };

import type { DomainRow } from './domain-schemas.js';
export type { DomainRow };

export interface RegisterInput {
  name: string;
  periodYears?: number;
  contacts: Partial<Record<ContactRole, string>>;
  nameservers: string[];
  quoteId?: string;
  maxPrice?: Money;
  acceptPremium?: boolean;
  autorenew?: boolean;
}

export interface RegisterDeps {
  /** registrationFacts(db), made once. */
  facts: RegistrationFacts;
  /** registrationWriter(db, registry), made once. */
  write: RegistrationWriter;
  catalogue: TldCatalogue;
  seal: (plaintext: string) => string;
  /** The payload of a quote id this server signed, or null. */
  verifyQuote: (token: string) => string | null;
  checkWindowS: number;
}

export async function registerDomain(
  deps: RegisterDeps,
  account: { id: string; currency: string },
  input: RegisterInput,
  now = new Date(),
): Promise<{ domain: DomainRow; charged: Money; warnings: ContactWarning[] }> {
  const tld = tldOf(input.name);
  const entry = deps.catalogue.forCurrency(account.currency).get(tld);
  const invalid = invalidField;
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
  const label = labelOf(name);
  if (entry!.reserved.some((r) => r.label === label)) throw new DomainNotAvailable(`${name} is reserved`);

  const premium = isPremium(entry!, label);
  let yearly = registerPrice(entry!, label);
  if (input.quoteId) {
    const quote = openQuote(deps.verifyQuote, input.quoteId);
    if (!quote || quote.accountId !== account.id || quote.currency !== account.currency)
      throw new QuoteExpired('No such quote for this account');
    if (quote.name !== name) throw new QuoteExpired(`The quote is for ${quote.name}, not ${name}`);
    if (quote.expiresAt <= now) throw new QuoteExpired(`The quote expired at ${quote.expiresAt.toISOString()}`);
    yearly = honourQuote(yearly, quote.amount);
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
  assertMaxPrice(total, input.maxPrice, 'The registration');

  const authCode = randomToken(12);
  const domain = await deps.write(
    { name, accountId: account.id, years, now, authCode },
    (created) => ({
      accountId: account.id,
      name,
      unicodeName: parsed.unicode,
      tld,
      status: 'active',
      premium,
      registeredAt: created.createdAt,
      // Equal to registered_at only on a domain registered here (not transferred in): add grace applies.
      createdAt: created.createdAt,
      updatedAt: created.createdAt,
      expiresAt: created.expiresAt,
      ...lifecycleDates(created.expiresAt, rules),
      autorenewFailedAt: null,
      autorenew: input.autorenew ?? true,
      expiryNoticeFor: null,
      expiryNoticeDays: null,
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
      money: total,
      reason: `Registration of ${name} for ${years} year(s)`,
      reference: `domain:${name}`,
    },
  );
  return { domain, charged: total, warnings: owner ? resellerDataWarnings(owner, facts.account) : [] };
}

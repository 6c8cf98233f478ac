import { Type, type Static } from 'typebox';
import { Currency, DateTime, Int32, Money, MoneyAmount, named } from '../../schemas.js';
import type { TldEntry } from './tld-service.js';

const strict = { additionalProperties: false } as const;
const Operation = Type.Enum(['register', 'renew', 'transfer', 'restore']);
const Role = Type.Enum(['owner', 'admin', 'tech', 'billing']);
const Script = Type.String({
  pattern: '^[A-Z][a-z_]+$',
  description: 'Unicode script name, as in \\p{Script=...}',
  examples: ['Latin'],
});
const Label = Type.String({ pattern: '^[a-z0-9-]{1,63}$', examples: ['shop'] });

export const LDH_PATTERN = '^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$';

export const Tld = named(
  'Tld',
  Type.Object(
    {
      tld: Type.String({ description: 'A-label, without the dot' }),
      enabled: Type.Boolean(),
      label: Type.Object(
        {
          min_length: Int32(),
          max_length: Int32(),
          pattern: Type.String({
            description: 'The A-label (ASCII) form must match this; "--" in positions 3-4 only for xn-- labels',
          }),
          idn_scripts: Type.Array(Type.String(), {
            description: 'Scripts a U-label may use, one per label; empty = no IDN',
          }),
        },
        strict,
      ),
      periods: Type.Object({ min_years: Int32(), max_years: Int32() }, strict),
      transfer: Type.Object({ auth_code_required: Type.Boolean(), approval_days: Int32() }, strict),
      contacts: Type.Object(
        {
          required_roles: Type.Array(Role),
          owner_countries: Type.Array(Type.String(), { description: 'ISO 3166; empty = anywhere' }),
        },
        strict,
      ),
      lifecycle: Type.Object(
        {
          add_grace_days: Int32(),
          auto_renew_grace_days: Int32(),
          redemption_days: Int32(),
          pending_delete_days: Int32(),
        },
        strict,
      ),
      prices: Type.Array(
        Type.Object({ operation: Operation, price: Money, per: Type.Enum(['year', 'event']) }, strict),
      ),
      reserved_names: Type.Array(Type.String()),
      premium_names: Type.Array(Type.Object({ label: Type.String(), register: Money, renew: Money }, strict)),
      updated_at: DateTime,
    },
    { ...strict, description: 'A TLD we sell: its rules, lifecycle and prices' },
  ),
);

export function tldView(e: TldEntry): Static<typeof Tld> {
  const r = e.rules;
  return {
    tld: r.tld,
    enabled: r.enabled,
    label: {
      min_length: r.minLabelLength,
      max_length: r.maxLabelLength,
      pattern: LDH_PATTERN,
      idn_scripts: r.idnScripts,
    },
    periods: { min_years: r.minPeriodYears, max_years: r.maxPeriodYears },
    transfer: { auth_code_required: r.authCodeRequired, approval_days: r.transferApprovalDays },
    contacts: {
      required_roles: r.requiredContacts as Static<typeof Tld>['contacts']['required_roles'],
      owner_countries: r.ownerCountries,
    },
    lifecycle: {
      add_grace_days: r.addGraceDays,
      auto_renew_grace_days: r.autoRenewGraceDays,
      redemption_days: r.redemptionDays,
      pending_delete_days: r.pendingDeleteDays,
    },
    prices: e.prices.map((p) => ({
      operation: p.operation,
      price: { amount: p.amount, currency: p.currency },
      per: p.operation === 'restore' ? ('event' as const) : ('year' as const),
    })),
    reserved_names: e.reserved.map((x) => x.label),
    premium_names: e.premium.map((p) => ({
      label: p.label,
      register: { amount: p.registerAmount, currency: p.currency },
      renew: { amount: p.renewAmount, currency: p.currency },
    })),
    updated_at: r.updatedAt.toISOString(),
  };
}

export const TldRulesBody = Type.Object(
  {
    enabled: Type.Boolean(),
    min_label_length: Type.Integer({ minimum: 1, maximum: 63 }),
    max_label_length: Type.Integer({ minimum: 1, maximum: 63 }),
    idn_scripts: Type.Array(Script, { maxItems: 20, uniqueItems: true }),
    min_period_years: Type.Integer({ minimum: 1, maximum: 10 }),
    max_period_years: Type.Integer({ minimum: 1, maximum: 10 }),
    auth_code_required: Type.Boolean(),
    required_contacts: Type.Array(Role, { minItems: 1, uniqueItems: true }),
    owner_countries: Type.Array(Type.String({ pattern: '^[A-Z]{2}$', examples: ['DE'] }), { uniqueItems: true }),
    add_grace_days: Type.Integer({ minimum: 0, maximum: 60 }),
    auto_renew_grace_days: Type.Integer({ minimum: 0, maximum: 90 }),
    redemption_days: Type.Integer({ minimum: 0, maximum: 120 }),
    pending_delete_days: Type.Integer({ minimum: 0, maximum: 30 }),
    transfer_approval_days: Type.Integer({ minimum: 1, maximum: 30 }),
  },
  strict,
);

export const TldListsBody = Type.Object(
  {
    prices: Type.Optional(
      Type.Array(
        Type.Object({ operation: Operation, currency: Currency, amount: MoneyAmount({ minimum: 0 }) }, strict),
        { maxItems: 500 },
      ),
    ),
    reserved_names: Type.Optional(
      Type.Array(Type.Object({ label: Label, reason: Type.String({ minLength: 1, maxLength: 200 }) }, strict), {
        maxItems: 100_000,
      }),
    ),
    premium_names: Type.Optional(
      Type.Array(
        Type.Object(
          {
            label: Label,
            currency: Currency,
            register_amount: MoneyAmount({ minimum: 1 }),
            renew_amount: MoneyAmount({ minimum: 1 }),
          },
          strict,
        ),
        { maxItems: 100_000 },
      ),
    ),
  },
  { ...strict, minProperties: 1 },
);

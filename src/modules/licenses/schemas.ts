// Servers, licenses, the catalogue and the vendors' policies as the API shows them.
import { Type } from 'typebox';
import type { pleskLicenses, servers } from '../../db/schema/index.js';
import { BigIntId, Currency, DateTime, Int32, iso, Money, MoneyAmount, named, Page, Uuid } from '../../schemas.js';

export type ServerRow = typeof servers.$inferSelect;
export type LicenseRow = typeof pleskLicenses.$inferSelect;

export const strict = { additionalProperties: false } as const;
/** A term: 1 (monthly) or 12 (annual) months. */
export const PeriodMonths = Type.Integer({
  enum: [1, 12],
  minimum: 1,
  maximum: 12,
  description: 'Months per term: 1 (monthly) or 12 (annual)',
});
const NullableDateTime = Type.Union([DateTime, Type.Null()]);

export const IpAddress = Type.String({
  minLength: 2,
  maxLength: 45,
  description: 'An IPv4 or IPv6 address',
  examples: ['203.0.113.10', '2001:db8::10'],
});

export const ServerProvider = Type.Enum(['own', 'rented'], {
  description: "own: the reseller's own data centre; rented: a server rented from us",
});

export const Server = named(
  'Server',
  Type.Object(
    {
      id: Uuid,
      name: Type.String(),
      addresses: Type.Array(IpAddress, { description: 'Its public IPv4 and IPv6 addresses' }),
      location: Type.Union([Type.String(), Type.Null()]),
      provider: ServerProvider,
      created_at: DateTime,
      updated_at: DateTime,
    },
    strict,
  ),
);
export const ServerList = Page(Server);

export const serverView = (s: ServerRow) => ({
  id: s.id,
  name: s.name,
  addresses: s.addresses,
  location: s.location,
  provider: s.provider as 'own' | 'rented',
  created_at: s.createdAt.toISOString(),
  updated_at: s.updatedAt.toISOString(),
});

export const PolicyKind = Type.Enum(['eula', 'terms_of_use', 'fair_use']);
export const Vendor = Type.Enum(['plesk', 'spamexperts']);

export const VendorPolicy = named(
  'VendorPolicy',
  Type.Object(
    {
      vendor: Vendor,
      kind: PolicyKind,
      version: Type.String(),
      url: Type.String({ format: 'uri' }),
      published_at: DateTime,
    },
    { ...strict, description: 'A vendor policy the reseller must pass on to its customers (R-LIC-5)' },
  ),
);

export interface PolicyRow {
  vendor: string;
  kind: string;
  version: string;
  url: string;
  publishedAt: Date;
}

export const policyView = (p: PolicyRow) => ({
  vendor: p.vendor as 'plesk' | 'spamexperts',
  kind: p.kind as 'eula' | 'terms_of_use' | 'fair_use',
  version: p.version,
  url: p.url,
  published_at: p.publishedAt.toISOString(),
});

export const ProductPrice = Type.Object(
  {
    period_months: PeriodMonths,
    currency: Currency,
    amount: MoneyAmount({ minimum: 0 }),
  },
  strict,
);

export const LicenseProduct = named(
  'LicenseProduct',
  Type.Object(
    {
      id: Type.String({ description: 'The vendor item without its term (ordered as <id>-1M or <id>-1Y)' }),
      kind: Type.Enum(['edition', 'extra', 'overage'], {
        description:
          'edition and extra: Plesk items; overage: a unit price (a spam-filter mailbox above the included ones)',
      }),
      name: Type.String(),
      active: Type.Boolean(),
      prices: Type.Array(ProductPrice),
    },
    strict,
  ),
);

export const LicenseStatus = Type.Enum(['active', 'suspended', 'terminated']);
export const MultiUseState = Type.Enum(['none', 'potential', 'confirmed'], {
  description:
    'R-LIC-2. potential: seen on an address besides the bound one (resolve it within the notice period); confirmed: still seen after the confirmation period, every extra address charged one license fee per billing period',
});

export const ExtraAddress = Type.Object(
  {
    address: IpAddress,
    first_seen: DateTime,
    last_seen: DateTime,
    reports: Int32({ minimum: 1 }),
    resolved_at: NullableDateTime,
    resolution: Type.Union([Type.Enum(['stopped', 'rebound', 'cleared']), Type.Null()]),
  },
  strict,
);

export const Transition = Type.Object(
  {
    at: DateTime,
    kind: Type.String({ examples: ['multi_use_detected'] }),
    note: Type.Union([Type.String(), Type.Null()]),
    evidence: Type.Record(Type.String(), Type.Unknown(), {
      description: 'What the transition rests on: the reports (ids), the addresses, the charges',
    }),
  },
  strict,
);

export const MultiUseCharge = named(
  'MultiUseCharge',
  Type.Object(
    {
      id: BigIntId(),
      license_id: Uuid,
      address: IpAddress,
      period_start: DateTime,
      period_end: DateTime,
      amount: Money,
      status: Type.Enum(['charged', 'unpaid', 'waived'], {
        description: 'unpaid: the balance did not cover it when due; charged as soon as it does',
      }),
      created_at: DateTime,
      waived_at: NullableDateTime,
      waive_note: Type.Union([Type.String(), Type.Null()]),
    },
    strict,
  ),
);

export interface ChargeRow {
  id: number;
  licenseId: string;
  address: string;
  periodStart: Date;
  periodEnd: Date;
  amount: number;
  currency: string;
  status: string;
  createdAt: Date;
  waivedAt: Date | null;
  waiveNote: string | null;
}

export const chargeView = (c: ChargeRow) => ({
  id: c.id,
  license_id: c.licenseId,
  address: c.address,
  period_start: c.periodStart.toISOString(),
  period_end: c.periodEnd.toISOString(),
  amount: { amount: c.amount, currency: c.currency },
  status: c.status as 'charged' | 'unpaid' | 'waived',
  created_at: c.createdAt.toISOString(),
  waived_at: iso(c.waivedAt),
  waive_note: c.waiveNote,
});

export const License = named(
  'PleskLicense',
  Type.Object(
    {
      id: Uuid,
      key_number: Type.String(),
      product: Type.String(),
      extras: Type.Array(Type.String()),
      item: Type.String({ description: 'The vendor item ordered, e.g. PLESK-12-WEB-ADMIN-1M' }),
      period_months: PeriodMonths,
      server_id: Uuid,
      bound_address: IpAddress,
      binding_mode: Type.Enum(['lookup', 'lookup_and_restrict']),
      status: LicenseStatus,
      autorenew: Type.Boolean(),
      expires_at: DateTime,
      current_period: Type.Object({ start: DateTime, end: DateTime }, strict),
      rebinds_left_this_period: Type.Integer({ minimum: 0, maximum: 100 }),
      multi_use: Type.Object(
        {
          state: MultiUseState,
          since: NullableDateTime,
          notice_until: NullableDateTime,
          confirmed_at: NullableDateTime,
          extra_addresses: Type.Array(ExtraAddress),
          charges: Type.Array(MultiUseCharge),
        },
        strict,
      ),
      policies: Type.Array(VendorPolicy, { description: 'R-LIC-5: pass these on to your customers' }),
      history: Type.Array(Transition, { description: 'Every transition, oldest first, with its evidence' }),
      created_at: DateTime,
      suspended_at: NullableDateTime,
      terminated_at: NullableDateTime,
      terminated_reason: Type.Union([Type.String(), Type.Null()]),
    },
    strict,
  ),
);
export const LicenseList = Page(License);

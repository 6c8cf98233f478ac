// The domain resource as the API shows it, shared by every /v1/domains route.
import { domainToASCII } from 'node:url';
import { Type, type TSchema } from 'typebox';
import type { domains } from '../../db/schema/index.js';
import { DateTime, documentAs, Money, named, Page } from '../../schemas.js';

export type DomainRow = typeof domains.$inferSelect;

export const strict = { additionalProperties: false } as const;
export const Handle = Type.String({ pattern: '^RA-[A-Z0-9]{10}$', examples: ['RA-7K2M9X4Q1Z'] });
export const Warning = Type.Object({ code: Type.String(), message: Type.String() }, strict);
/** R-API-2: what an order names besides its path: a change to any of them makes a failed order new. */
export const NAMED_BY_ORDER = [
  { kind: 'domains', at: '/body/name' },
  { kind: 'contacts', at: '/body/contacts/*' },
  { kind: 'hosts', at: '/body/nameservers/*' },
];

/** The confirmation of an irreversible DELETE: in the query, which every HTTP client sends with a DELETE. */
export const ConfirmQuery = Type.Object(
  {
    confirm: Type.Optional(
      Type.Boolean({ description: 'true to do it; without it the answer says what would happen (422)' }),
    ),
  },
  strict,
);
/** The same confirmation as a JSON body, as older clients send it (some HTTP clients drop DELETE bodies). */
export const ConfirmBody = Type.Object({ confirm: Type.Optional(Type.Boolean()) }, { ...strict, deprecated: true });
export const NameParams = Type.Object({ name: Type.String({ minLength: 3, maxLength: 253 }) }, strict);
const NullableDateTime = Type.Union([DateTime, Type.Null()]);

export const DomainStatus = Type.Enum(
  ['active', 'grace', 'redemption', 'pending_delete', 'released', 'transferred_out'],
  {
    description:
      'active; grace: expired and not renewed (auto-renew grace, renewable at the renewal price); redemption: restorable for the restore fee; pending_delete: nothing can be done, the name is released at pending_delete_ends_at; released and transferred_out are final.',
  },
);

export const Domain = named(
  'Domain',
  Type.Object(
    {
      id: Type.String({ format: 'uuid' }),
      name: Type.String({ description: 'A-label form' }),
      unicode_name: Type.String(),
      tld: Type.String(),
      status: DomainStatus,
      premium: Type.Boolean(),
      registered_at: DateTime,
      expires_at: DateTime,
      grace_ends_at: Type.String({
        format: 'date-time',
        description: 'End of the auto-renew grace period after expiry (or the deletion time for a deleted domain)',
      }),
      redemption_ends_at: Type.String({
        format: 'date-time',
        description: 'Until then a domain in redemption can be restored',
      }),
      pending_delete_ends_at: Type.String({
        format: 'date-time',
        description: 'When the name is released to the public',
      }),
      autorenew: Type.Boolean(),
      autorenew_failed_at: NullableDateTime,
      locked: Type.Boolean({
        description: 'Transfer lock (clientTransferProhibited); a locked domain also cannot be deleted',
      }),
      nameservers: Type.Array(Type.String()),
      contacts: Type.Object(
        {
          owner: Handle,
          admin: Type.Union([Handle, Type.Null()]),
          tech: Type.Union([Handle, Type.Null()]),
          billing: Type.Union([Handle, Type.Null()]),
        },
        strict,
      ),
    },
    {
      ...strict,
      description: 'A registered domain',
      examples: [
        {
          id: '7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c3b',
          name: 'example.com',
          unicode_name: 'example.com',
          tld: 'com',
          status: 'active',
          premium: false,
          registered_at: '2026-03-01T08:05:00.000Z',
          expires_at: '2027-03-01T08:05:00.000Z',
          grace_ends_at: '2027-04-15T08:05:00.000Z',
          redemption_ends_at: '2027-05-15T08:05:00.000Z',
          pending_delete_ends_at: '2027-05-20T08:05:00.000Z',
          autorenew: true,
          autorenew_failed_at: null,
          locked: true,
          nameservers: ['ns1.example-hosting.test', 'ns2.example-hosting.test'],
          contacts: { owner: 'RA-7K2M9X4Q1Z', admin: null, tech: null, billing: null },
        },
      ],
    },
  ),
);
export const DomainList = Page(Domain);

const CheckResultObject = Type.Object(
  {
    input: Type.String(),
    name: Type.Union([Type.String(), Type.Null()], { description: 'A-label form, as registered and billed' }),
    unicode: Type.Union([Type.String(), Type.Null()]),
    status: Type.Enum(['free', 'taken', 'reserved', 'premium', 'invalid']),
    reason: Type.Union([Type.String(), Type.Null()]),
    quote: Type.Union([
      Type.Object(
        {
          id: Type.String({
            pattern: '^rq_',
            examples: ['rq_eyJhIjoiOGExZDJjM2IifQ.c2lnbmF0dXJl'],
            maxLength: 400,
            description: 'Pass as quote_id to the registration; the quote is sealed in it',
          }),
          price: Money,
          per: Type.Literal('year'),
          expires_at: Type.String({ format: 'date-time' }),
        },
        strict,
      ),
      Type.Null(),
    ]),
  },
  {
    ...strict,
    description: 'The answer for one name of a check',
    examples: [
      {
        input: 'example.com',
        name: 'example.com',
        unicode: 'example.com',
        status: 'free',
        reason: null,
        quote: {
          id: 'rq_eyJhIjoiOGExZDJjM2IifQ.c2lnbmF0dXJl',
          price: { amount: 1299, currency: 'EUR' },
          per: 'year',
          expires_at: '2026-03-01T08:20:00.000Z',
        },
      },
    ],
  },
);

export const CheckResult = named('CheckResult', CheckResultObject);

// The document shows a check result as one variant per status (runtime: one object, serialised fast).
const Quote = CheckResultObject.properties.quote.anyOf[0];
const checkVariant = (status: string[], shape: Record<string, TSchema>, description: string) =>
  Type.Object(
    {
      input: Type.String({ description: 'The name as you sent it' }),
      status: Type.Enum(status),
      ...shape,
    },
    { ...strict, description },
  );
const CHECK_VARIANTS = {
  AvailableCheckResult: checkVariant(
    ['free', 'premium'],
    {
      name: Type.String({ description: 'A-label form, as registered and billed' }),
      unicode: Type.String(),
      reason: Type.Null(),
      quote: Quote,
    },
    'Registrable: at the quoted price (premium: a premium price; register with accept_premium)',
  ),
  TakenCheckResult: checkVariant(
    ['taken'],
    {
      name: Type.String(),
      unicode: Type.String(),
      reason: Type.String({ examples: ['registered'] }),
      quote: Type.Null(),
    },
    'Registered already',
  ),
  ReservedCheckResult: checkVariant(
    ['reserved'],
    { name: Type.String(), unicode: Type.String(), reason: Type.String(), quote: Type.Null() },
    'Reserved by the registry or by us; not registrable',
  ),
  InvalidCheckResult: checkVariant(
    ['invalid'],
    {
      name: Type.Union([Type.String(), Type.Null()], { description: 'Null when the input is not a valid name' }),
      unicode: Type.Union([Type.String(), Type.Null()]),
      reason: Type.String({ description: 'Why: a syntax rule of the TLD, or the TLD not offered in your currency' }),
      quote: Type.Null(),
    },
    'Not a name we can register',
  ),
};
documentAs({
  ...CHECK_VARIANTS,
  CheckResult: Type.Unsafe({
    oneOf: Object.keys(CHECK_VARIANTS).map((id) => Type.Ref(id)),
    description: 'The answer for one name of a check; its shape depends on `status`',
    discriminator: {
      propertyName: 'status',
      mapping: Object.fromEntries(
        Object.entries(CHECK_VARIANTS).flatMap(([id, v]) =>
          v.properties.status.enum.map((status) => [status, `#/components/schemas/${id}`]),
        ),
      ),
    },
  }),
});

export const domainView = (d: DomainRow) => ({
  id: d.id,
  name: d.name,
  unicode_name: d.unicodeName,
  tld: d.tld,
  status: d.status as 'active',
  premium: d.premium,
  registered_at: d.registeredAt.toISOString(),
  expires_at: d.expiresAt.toISOString(),
  grace_ends_at: d.graceEndsAt.toISOString(),
  redemption_ends_at: d.redemptionEndsAt.toISOString(),
  pending_delete_ends_at: d.purgeAt.toISOString(),
  autorenew: d.autorenew,
  autorenew_failed_at: d.autorenewFailedAt ? d.autorenewFailedAt.toISOString() : null,
  locked: d.locked,
  nameservers: d.nameservers,
  contacts: { owner: d.ownerHandle, admin: d.adminHandle, tech: d.techHandle, billing: d.billingHandle },
});

/** A domain name from a path parameter, A-label or Unicode, to the A-label form we store. */
export function nameFromParam(param: string): string {
  const raw = param.toLowerCase().replace(/\.$/, '');
  return domainToASCII(raw) || raw;
}

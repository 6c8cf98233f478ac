// The domain resource as the API shows it, shared by every /v1/domains route.
import { domainToASCII } from 'node:url';
import { Type } from 'typebox';
import type { domains } from '../../db/schema/index.js';
import { DateTime } from '../../schemas.js';

export type DomainRow = typeof domains.$inferSelect;

export const strict = { additionalProperties: false } as const;
export const Handle = Type.String({ pattern: '^RA-[A-Z0-9]{10}$' });
export const Warning = Type.Object({ code: Type.String(), message: Type.String() }, strict);
/** R-API-2: what an order names besides its path: a change to any of them makes a failed order new. */
export const NAMED_BY_ORDER = [
  { kind: 'domains', at: '/body/name' },
  { kind: 'contacts', at: '/body/contacts/*' },
  { kind: 'hosts', at: '/body/nameservers/*' },
];

export const NameParams = Type.Object({ name: Type.String({ minLength: 3, maxLength: 253 }) }, strict);
const NullableDateTime = Type.Union([DateTime, Type.Null()]);

export const DomainStatus = Type.Enum(
  ['active', 'grace', 'redemption', 'pending_delete', 'released', 'transferred_out'],
  {
    description:
      'active; grace: expired and not renewed (auto-renew grace, renewable at the renewal price); redemption: restorable for the restore fee; pending_delete: nothing can be done, the name is released at pending_delete_ends_at; released and transferred_out are final.',
  },
);

export const Domain = Type.Object(
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
  strict,
);

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

// Contact handles (R-DOM-1): complete, valid contact data per handle, owned by one account.
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { randomBytes } from 'node:crypto';
import { and, asc, eq, gt, inArray, notInArray, or, sql } from 'drizzle-orm';
import { queryRows, type Db } from '../../db/client.js';
import { contacts, domains, domainTransfers } from '../../db/schema/index.js';
import { defineError, NotFound, ValidationFailed, type FieldErrorBody } from '../../errors.js';
import { isCountryCode } from '../../lib/countries.js';
import type { AccountRow } from '../accounts/api.js';
import { bindDeps } from '../../lib/bind-deps.js';

export type ContactRow = typeof contacts.$inferSelect;
export type ContactInput = Pick<
  ContactRow,
  'name' | 'organisation' | 'email' | 'phone' | 'country' | 'street' | 'city' | 'state' | 'postalCode'
>;

const HANDLE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export function newHandle(): string {
  const bytes = randomBytes(10);
  return `RA-${[...bytes].map((b) => HANDLE_ALPHABET[b % HANDLE_ALPHABET.length]).join('')}`;
}

/** Checks a schema cannot express; every problem is reported with its pointer. */
/**
 * R-DOM-1: a phone number (+CC.NUMBER, the form the schema checks) whose CC is a country calling
 * code in use and whose number has a length possible there (libphonenumber's metadata); why not, or null.
 */
export function phoneProblem(phone: string): string | null {
  const [cc = '', national = ''] = phone.slice(1).split('.');
  const parsed = parsePhoneNumberFromString(`+${cc}${national}`);
  if (!parsed || parsed.countryCallingCode !== cc) return `+${cc} is not a country calling code`;
  if (!parsed.isPossible()) return `${phone} is not a possible length for a +${cc} number`;
  return null;
}

export function contactProblems(c: Partial<ContactInput>): FieldErrorBody[] {
  const out: FieldErrorBody[] = [];
  if (c.country !== undefined && !isCountryCode(c.country))
    out.push({
      pointer: '/body/country',
      code: 'invalid_country',
      message: `${c.country} is not an ISO 3166-1 alpha-2 country code`,
    });
  const phone = c.phone === undefined ? null : phoneProblem(c.phone);
  if (phone) out.push({ pointer: '/body/phone', code: 'invalid_phone', message: phone });
  if (c.street !== undefined && c.street.every((l) => l.trim() === ''))
    out.push({ pointer: '/body/street', code: 'required', message: 'at least one street line' });
  for (const [field, value] of Object.entries({ name: c.name, city: c.city, postal_code: c.postalCode })) {
    if (value !== undefined && value.trim() === '')
      out.push({ pointer: `/body/${field}`, code: 'required', message: 'must not be blank' });
  }
  return out;
}

export interface ContactWarning {
  code: 'reseller_data_as_contact';
  message: string;
}

/** R-DOM-1: the reseller's own data standing in for its customer's. */
export function resellerDataWarnings(
  c: Pick<ContactRow, 'email' | 'organisation' | 'phone'>,
  account: Pick<AccountRow, 'contactEmail' | 'companyName' | 'contactPhone'>,
): ContactWarning[] {
  const same = (a: string, b: string) => a.trim() !== '' && a.trim().toLowerCase() === b.trim().toLowerCase();
  const matches = [
    same(c.email, account.contactEmail) && 'e-mail',
    same(c.organisation, account.companyName) && 'organisation',
    same(c.phone, account.contactPhone) && 'phone',
  ].filter(Boolean);
  return matches.length
    ? [
        {
          code: 'reseller_data_as_contact',
          message: `This contact carries your own ${matches.join(', ')}: a domain's contacts must be your customer's real data (R-DOM-1)`,
        },
      ]
    : [];
}

function assertValid(c: Partial<ContactInput>) {
  const problems = contactProblems(c);
  if (problems.length)
    throw new ValidationFailed(`${problems.length} field(s) failed validation`, { errors: problems });
}

export async function createContact(db: Db, accountId: string, input: ContactInput): Promise<ContactRow> {
  assertValid(input);
  const [row] = await db
    .insert(contacts)
    .values({ accountId, handle: newHandle(), ...input })
    .returning();
  return row!;
}

export async function getContact(db: Db, accountId: string, handle: string): Promise<ContactRow> {
  const [row] = await db
    .select()
    .from(contacts)
    .where(and(eq(contacts.accountId, accountId), eq(contacts.handle, handle)));
  if (!row) throw new NotFound(`No contact ${handle}`);
  return row;
}

export async function listContacts(
  db: Db,
  accountId: string,
  opts: { limit: number; after?: string },
): Promise<ContactRow[]> {
  return db
    .select()
    .from(contacts)
    .where(and(eq(contacts.accountId, accountId), opts.after ? gt(contacts.handle, opts.after) : undefined))
    .orderBy(asc(contacts.handle))
    .limit(opts.limit + 1);
}

export async function updateContact(
  db: Db,
  accountId: string,
  handle: string,
  patch: Partial<ContactInput>,
): Promise<ContactRow> {
  assertValid(patch);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(contacts)
      .set({ ...patch, updatedAt: new Date() })
      .where(and(eq(contacts.accountId, accountId), eq(contacts.handle, handle)))
      .returning();
    if (!row) throw new NotFound(`No contact ${handle}`);
    // R-DOM-1: a domain (or an open transfer in) that has this handle as its owner keeps meeting its
    // TLD's owner rule: a move to a country the TLD does not take is refused, as at registration.
    if (patch.country !== undefined) {
      const misfits = await queryRows<{ name: string; tld: string; countries: string[] }>(
        tx,
        sql`select d.name, t.tld, t.owner_countries as countries
            from (select name, tld from domains
                   where account_id = ${accountId}::uuid and owner_handle = ${handle}
                     and status not in ('released', 'transferred_out')
                  union all
                  select name, tld from domain_transfers
                   where account_id = ${accountId}::uuid and owner_handle = ${handle}
                     and status in ('pending_approval', 'approved')) d
            join tlds t on t.tld = d.tld
            where cardinality(t.owner_countries) > 0 and not (${row.country} = any(t.owner_countries))
            order by d.name limit 5`,
      );
      if (misfits.length)
        throw new ValidationFailed('The contact would no longer meet its domains’ owner rules', {
          errors: [
            {
              pointer: '/body/country',
              code: 'contact_not_eligible',
              message: `${handle} owns ${misfits.map((m) => m.name).join(', ')}: .${misfits[0]!.tld} owners must be in ${misfits[0]!.countries.join(', ')}`,
            },
          ],
        });
    }
    return row;
  });
}

export const ContactInUse = defineError('contact_in_use', 409, 'The contact is used by a domain');

/** Deletes a handle no live domain uses (R-DOM-1): a domain never loses a contact it names. */
export async function deleteContact(db: Db, accountId: string, handle: string): Promise<void> {
  const using = await db
    .select({ name: domains.name })
    .from(domains)
    .where(
      and(
        eq(domains.accountId, accountId),
        notInArray(domains.status, ['released', 'transferred_out']),
        or(
          eq(domains.ownerHandle, handle),
          eq(domains.adminHandle, handle),
          eq(domains.techHandle, handle),
          eq(domains.billingHandle, handle),
        ),
      ),
    )
    .limit(5);
  // An open transfer in will give its domain these contacts.
  const transferring = await db
    .select({ name: domainTransfers.name })
    .from(domainTransfers)
    .where(
      and(
        eq(domainTransfers.accountId, accountId),
        inArray(domainTransfers.status, ['pending_approval', 'approved']),
        or(
          eq(domainTransfers.ownerHandle, handle),
          eq(domainTransfers.adminHandle, handle),
          eq(domainTransfers.techHandle, handle),
          eq(domainTransfers.billingHandle, handle),
        ),
      ),
    )
    .limit(5);
  using.push(...transferring);
  if (using.length > 0) {
    throw new ContactInUse(
      `${handle} is a contact of ${using.map((d) => d.name).join(', ')}${using.length === 5 ? ' and more' : ''}; replace it there first`,
    );
  }
  const gone = await db
    .delete(contacts)
    .where(and(eq(contacts.accountId, accountId), eq(contacts.handle, handle)))
    .returning({ id: contacts.id });
  if (gone.length === 0) throw new NotFound(`No contact ${handle}`);
}

/** Contact handles for the routes: the functions above with the database bound. */
export function createContactService(deps: { db: Db }) {
  return bindDeps(deps.db, { createContact, getContact, listContacts, updateContact, deleteContact });
}
export type ContactService = ReturnType<typeof createContactService>;

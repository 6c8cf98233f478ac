// Checks a domain's name servers and contact handles against the TLD's rules (R-DOM-1, R-DOM-5).
// Used by registration, transfers and updates, so each applies the same rules.
import { and, eq, inArray } from 'drizzle-orm';
import { contacts } from '../../db/schema/index.js';
import type { FieldErrorBody } from '../../errors.js';
import type { Tx } from '../../db/client.js';
import type { TldRow } from './tld-service.js';

export type ContactRole = 'owner' | 'admin' | 'tech' | 'billing';
export type ContactRow = typeof contacts.$inferSelect;

const HOSTNAME = /^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** Lower-cased, without the root dot; none, or 2 to 13 distinct host names. */
export function checkNameservers(input: string[], pointer: string, problems: FieldErrorBody[]): string[] {
  const ns = input.map((h) => h.toLowerCase().replace(/\.$/, ''));
  if (ns.length === 1 || ns.length > 13)
    problems.push({ pointer, code: 'invalid_count', message: 'none, or 2 to 13 name servers' });
  ns.forEach((h, i) => {
    if (!HOSTNAME.test(h))
      problems.push({ pointer: `${pointer}/${i}`, code: 'invalid_hostname', message: `${h} is not a host name` });
  });
  if (new Set(ns).size !== ns.length)
    problems.push({ pointer, code: 'duplicate_items', message: 'name servers must be distinct' });
  return ns;
}

type Rules = Pick<TldRow, 'tld' | 'requiredContacts' | 'ownerCountries'>;

/** The handles named in `given` (one per role), for loading them. */
export const namedHandles = (given: Partial<Record<ContactRole, string | null>>): string[] => [
  ...new Set(Object.values(given).filter((h): h is string => Boolean(h))),
];

/**
 * The roles the TLD requires, handles of this account (`found`: the account's contacts among those
 * named), and an owner where the TLD allows owners. Returns the owner's contact when it exists.
 */
export function contactProblems<C extends Pick<ContactRow, 'handle' | 'country'>>(
  rules: Rules,
  given: Partial<Record<ContactRole, string | null>>,
  found: C[],
  pointer: string,
  problems: FieldErrorBody[],
): C | undefined {
  for (const role of rules.requiredContacts as ContactRole[]) {
    if (!given[role])
      problems.push({
        pointer: `${pointer}/${role}`,
        code: 'required',
        message: `.${rules.tld} requires a ${role} contact`,
      });
  }
  const byHandle = new Map(found.map((c) => [c.handle, c]));
  for (const [role, handle] of Object.entries(given) as [ContactRole, string | null][]) {
    if (handle && !byHandle.has(handle))
      problems.push({
        pointer: `${pointer}/${role}`,
        code: 'contact_not_found',
        message: `No contact ${handle} in your account`,
      });
  }
  const owner = given.owner ? byHandle.get(given.owner) : undefined;
  if (owner && rules.ownerCountries.length && !rules.ownerCountries.includes(owner.country)) {
    problems.push({
      pointer: `${pointer}/owner`,
      code: 'contact_not_eligible',
      message: `.${rules.tld} owners must be in ${rules.ownerCountries.join(', ')}; ${owner.handle} is in ${owner.country}`,
    });
  }
  return owner;
}

/** contactProblems() for handles it loads from the account. */
export async function checkContacts(
  tx: Tx,
  accountId: string,
  rules: Rules,
  given: Partial<Record<ContactRole, string | null>>,
  pointer: string,
  problems: FieldErrorBody[],
): Promise<ContactRow | undefined> {
  const handles = namedHandles(given);
  const found = handles.length
    ? await tx
        .select()
        .from(contacts)
        .where(and(eq(contacts.accountId, accountId), inArray(contacts.handle, handles)))
    : [];
  return contactProblems(rules, given, found, pointer, problems);
}

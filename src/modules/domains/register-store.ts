// The SQL of registrations: what a registration reads before it decides (one statement shared by
// the registrations running at the same time) and its write (registry entry, domain, charge and the
// domain.registered event in one statement when the registry is in our own database).
import { randomUUID } from 'node:crypto';
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import { batched, jsonValue, preparedStatement, statementParams, type Db } from '../../db/client.js';
import { domains } from '../../db/schema/index.js';
import type { AccountRow } from '../accounts/api.js';
import { statementWithCharge, type Posting } from '../billing/api.js';
import { eventCtes, eventStatementParams } from '../events/api.js';
import type { ContactRow } from './contact-service.js';
import { domainView, type DomainRow } from './domain-schemas.js';
import { DomainRegistered } from './events.js';
import { DomainNotAvailable, type RegistryBackend, type RegistryCreate } from './registry.js';

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
export type RegistrationFacts = (q: FactsQuery) => Promise<Facts>;

/**
 * What a registration reads before its transaction: the account's own contact data (for the
 * R-DOM-1 warning), the named contacts of the account, and the account's check of the name within
 * the window (R-DOM-2). Registrations running at the same time share one statement.
 */
export function registrationFacts(db: Db): RegistrationFacts {
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
/** Writes a registration (registry entry, domain, charge, event) atomically and answers the stored domain. */
export type RegistrationWriter = (
  create: RegistryCreate,
  domain: (dates: { createdAt: Date; expiresAt: Date }) => NewDomain,
  charge: Posting,
) => Promise<DomainRow>;

// Every column, in the schema's own names and types: a column added to the schema is part of the
// insert without touching this file. The id is made here, not by the database, so that the event's
// data (the domain as GET shows it) is complete before the statement runs.
const domainColumns = Object.entries(getTableColumns(domains));
const domainPlaceholders = domainColumns.map(([key, col]) => [key, `domain_${col.name}`] as const);
const domainParams = (d: DomainRow, out: Record<string, unknown>): Record<string, unknown> => {
  for (const [key, name] of domainPlaceholders) {
    const v = (d as unknown as Record<string, unknown>)[key];
    out[name] = v instanceof Date ? v.toISOString() : v;
  }
  return out;
};

/**
 * The domain row behind `registryCreate` (a CTE named registry_create that yields a row when the
 * registry created the name), charged by the ledger and reported by its domain.registered event in
 * the same statement: no row from it, nothing written (no event either) and no row back; a refused
 * charge undoes the whole statement, event included.
 */
const registration = (registryCreate: SQL) => ({
  with: sql`${registryCreate},
  domain_insert as (
    insert into domains (${sql.raw(domainColumns.map(([, col]) => col.name).join(', '))})
    select ${sql.join(
      domainColumns.map(([, col]) => sql`${sql.placeholder(`domain_${col.name}`)}::${sql.raw(col.getSQLType())}`),
      sql`, `,
    )} from registry_create
    returning id),
  ${eventCtes(sql`exists (select 1 from domain_insert)`)}`,
  when: sql`exists (select 1 from domain_insert)`,
  select: sql`d.id`,
  from: sql`domain_insert d`,
});

/**
 * The write of a registration. A registry in our own database (createInStatement) joins the
 * statement, so a registration is one round trip with no BEGIN or COMMIT; any other registry is
 * called first, in a transaction with the same statement.
 */
export function registrationWriter(db: Db, registry: RegistryBackend): RegistrationWriter {
  const inDatabase = registry.createInStatement;
  const whole = inDatabase && statementWithCharge<{ id: string }>('register_domain', registration(inDatabase.cte));
  const afterCreate = statementWithCharge<{ id: string }>(
    'register_domain_after_create',
    registration(sql`registry_create as (select 1)`),
  );
  // The domain with its id, and the statement's values for it and for its event (added to `params`).
  const written = (values: NewDomain, params: Record<string, unknown> = {}) => {
    const row: DomainRow = { id: randomUUID(), ...values };
    domainParams(row, params);
    eventStatementParams(
      DomainRegistered,
      { accountId: row.accountId, objectId: row.name, data: domainView(row) },
      'event',
      params,
    );
    return { row, params };
  };
  return async (create, domain, charge) => {
    if (inDatabase && whole) {
      const bound = inDatabase.bind(create);
      const { row, params } = written(domain(bound), statementParams(bound.params));
      const [inserted] = await whole.alone(db, params, { ...charge, at: create.now });
      if (!inserted) throw new DomainNotAvailable(`${create.name} was registered a moment ago`);
      return row;
    }
    return db.transaction(async (tx) => {
      const { row, params } = written(domain(await registry.create(tx, create)));
      await afterCreate.within(tx, params, { ...charge, at: create.now });
      return row;
    });
  };
}

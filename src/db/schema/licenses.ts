// Licenses (R-LIC): the reseller's servers, the license catalogue and the vendors' policies (data that
// operators edit), the built-in vendor's keys, Plesk licenses with their multi-use ladder (address
// reports, extra addresses, transitions, per-period charges) and the EULA acceptances.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });

/** A server of the reseller's own infrastructure (R-LIC-3): a Plesk license is attached to one. */
export const servers = pgTable(
  'servers',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    accountId: uuid('account_id').notNull(),
    name: text('name').notNull(),
    /** Public IPv4 and IPv6 addresses, in canonical text form. */
    addresses: text('addresses').array().notNull(),
    location: text('location'),
    /** 'own' (the reseller's data centre) | 'rented' (rented from us) */
    provider: text('provider').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('servers_account_name_key').on(t.accountId, t.name),
    index('servers_account_idx').on(t.accountId, t.createdAt),
  ],
);

/** The license catalogue: editions and extras, as Plesk items without their term suffix. */
export const licenseProducts = pgTable('license_products', {
  /** The vendor item without its term, e.g. PLESK-12-WEB-ADMIN (ordered as PLESK-12-WEB-ADMIN-1M / -1Y). */
  id: text('id').primaryKey(),
  /** 'edition' | 'extra' */
  kind: text('kind').notNull(),
  name: text('name').notNull(),
  active: boolean('active').notNull().default(true),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** Prices per term (1 or 12 months) and currency, in minor units. */
export const licensePrices = pgTable(
  'license_prices',
  {
    productId: text('product_id')
      .notNull()
      .references(() => licenseProducts.id, { onDelete: 'cascade' }),
    periodMonths: integer('period_months').notNull(),
    currency: text('currency').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.productId, t.periodMonths, t.currency] })],
);

/** The vendors' policies (R-LIC-1, R-LIC-5), versioned: the newest published version of a kind is current. */
export const vendorPolicies = pgTable(
  'vendor_policies',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    /** 'plesk' | 'spamexperts' */
    vendor: text('vendor').notNull(),
    /** 'eula' | 'terms_of_use' | 'fair_use' */
    kind: text('kind').notNull(),
    version: text('version').notNull(),
    url: text('url').notNull(),
    publishedAt: ts('published_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('vendor_policies_version_key').on(t.vendor, t.kind, t.version)],
);

/** The built-in vendor's keys (the Key Administrator's state, kept here). */
export const licenseKeys = pgTable(
  'license_keys',
  {
    keyNumber: text('key_number').primaryKey(),
    activationCode: text('activation_code').notNull(),
    item: text('item').notNull(),
    boundAddress: text('bound_address'),
    restrictBinding: boolean('restrict_binding').notNull(),
    /** 'active' | 'suspended' | 'terminated' */
    status: text('status').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  // One live key per address: binding an address another key holds is refused.
  (t) => [
    uniqueIndex('license_keys_bound_address_key')
      .on(t.boundAddress)
      .where(sql`${t.status} <> 'terminated' AND ${t.boundAddress} IS NOT NULL`),
  ],
);

export const pleskLicenses = pgTable(
  'plesk_licenses',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    accountId: uuid('account_id').notNull(),
    /** No foreign key: a server may be deleted once its licenses are terminated, which keep its id. */
    serverId: uuid('server_id').notNull(),
    product: text('product').notNull(),
    extras: text('extras')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    periodMonths: integer('period_months').notNull(),
    keyNumber: text('key_number').notNull().unique(),
    activationCodeSealed: text('activation_code_sealed').notNull(),
    boundAddress: text('bound_address').notNull(),
    /** 'lookup' | 'lookup_and_restrict' */
    bindingMode: text('binding_mode').notNull(),
    /** 'active' | 'suspended' | 'terminated' */
    status: text('status').notNull().default('active'),
    /** 'none' | 'potential' | 'confirmed' (R-LIC-2) */
    multiUse: text('multi_use').notNull().default('none'),
    /** When the current run of multi-use was first detected. */
    multiUseSince: ts('multi_use_since'),
    /** Until then the reseller may resolve a potential multi-use (rebind, or the other server stopped). */
    noticeUntil: ts('notice_until'),
    confirmedAt: ts('confirmed_at'),
    autorenew: boolean('autorenew').notNull().default(true),
    /** Billing periods run from here in steps of period_months. */
    periodAnchor: ts('period_anchor').notNull(),
    expiresAt: ts('expires_at').notNull(),
    suspendedAt: ts('suspended_at'),
    terminatedAt: ts('terminated_at'),
    terminatedReason: text('terminated_reason'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('plesk_licenses_account_idx').on(t.accountId, t.createdAt),
    index('plesk_licenses_server_idx').on(t.serverId),
    index('plesk_licenses_multi_use_idx')
      .on(t.multiUse)
      .where(sql`${t.multiUse} <> 'none'`),
  ],
);

/** Addresses a license was reported on other than its bound one (R-LIC-2). */
export const licenseAddresses = pgTable(
  'license_addresses',
  {
    licenseId: uuid('license_id')
      .notNull()
      .references(() => pleskLicenses.id, { onDelete: 'cascade' }),
    address: text('address').notNull(),
    firstSeen: ts('first_seen').notNull(),
    lastSeen: ts('last_seen').notNull(),
    reports: integer('reports').notNull().default(1),
    /** Set when resolved (the other server stopped, a rebind, an operator's clearing); a later report opens it again. */
    resolvedAt: ts('resolved_at'),
    resolution: text('resolution'),
  },
  (t) => [primaryKey({ columns: [t.licenseId, t.address] })],
);

/**
 * Each report of where a license runs (its check-in, or an operator's import): the evidence. A
 * check-in is also its own audit record (R-SEC-7): the request's who, credential, address and id
 * are kept on its report, and the audit trail (GET /v1/audit-events) shows it beside audit_events'
 * rows. Its id is drawn from audit_events' sequence, so that one id orders both; the request
 * columns are null for reports an operator imported in bulk (that request has its own audit row).
 */
export const licenseIpReports = pgTable(
  'license_ip_reports',
  {
    id: bigint('id', { mode: 'number' })
      .primaryKey()
      .default(sql`nextval('audit_events_id_seq')`),
    // No cascade: a check-in's report is an audit record (R-SEC-7), which nothing deletes.
    licenseId: uuid('license_id')
      .notNull()
      .references(() => pleskLicenses.id),
    addresses: text('addresses').array().notNull(),
    /** 'check_in' | 'operator' */
    source: text('source').notNull(),
    seenAt: ts('seen_at').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    /** The requester's account (null for an operator), as an audit row's account_id. */
    requestAccountId: uuid('request_account_id'),
    requestUserId: uuid('request_user_id'),
    requestCredentialType: text('request_credential_type'),
    requestCredentialId: text('request_credential_id'),
    /** The client's address, as an audit row's address. */
    requestAddress: text('request_address'),
    requestId: text('request_id'),
  },
  (t) => [
    index('license_ip_reports_license_idx').on(t.licenseId, t.id),
    // The audit trail of one account, newest first (check-ins only).
    index('license_ip_reports_audit_idx')
      .on(t.requestAccountId, t.id)
      .where(sql`request_id IS NOT NULL`),
  ],
);

/** Every transition of a license, with its evidence: shown on the license. */
export const licenseTransitions = pgTable(
  'license_transitions',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    licenseId: uuid('license_id')
      .notNull()
      .references(() => pleskLicenses.id, { onDelete: 'cascade' }),
    at: ts('at').notNull(),
    kind: text('kind').notNull(),
    note: text('note'),
    evidence: jsonb('evidence')
      .notNull()
      .default(sql`'{}'::jsonb`),
  },
  (t) => [index('license_transitions_license_idx').on(t.licenseId, t.id)],
);

/** One fee per extra address and billing period of a confirmed multi-use: never twice (the unique key). */
export const licenseMultiUseCharges = pgTable(
  'license_multi_use_charges',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    licenseId: uuid('license_id')
      .notNull()
      .references(() => pleskLicenses.id, { onDelete: 'cascade' }),
    accountId: uuid('account_id').notNull(),
    address: text('address').notNull(),
    periodStart: ts('period_start').notNull(),
    periodEnd: ts('period_end').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    /** 'charged' | 'unpaid' (the balance did not cover it; charged when it does) | 'waived' */
    status: text('status').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    waivedAt: ts('waived_at'),
    waivedBy: uuid('waived_by'),
    waiveNote: text('waive_note'),
  },
  (t) => [
    uniqueIndex('license_multi_use_charges_once_key').on(t.licenseId, t.address, t.periodStart),
    index('license_multi_use_charges_account_idx').on(t.accountId, t.id),
  ],
);

/** Who accepted which EULA and terms version, when and from where (R-LIC-1). */
export const eulaAcceptances = pgTable(
  'eula_acceptances',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    accountId: uuid('account_id').notNull(),
    userId: uuid('user_id'),
    apiKeyId: uuid('api_key_id'),
    licenseId: uuid('license_id'),
    vendor: text('vendor').notNull(),
    eulaVersion: text('eula_version').notNull(),
    termsVersion: text('terms_version'),
    ip: text('ip').notNull(),
    acceptedAt: ts('accepted_at').notNull(),
  },
  (t) => [index('eula_acceptances_account_idx').on(t.accountId, t.acceptedAt)],
);

/** A domain filtered by the spam-filter vendor (SpamExperts): its mail routes and products (R-LIC-4). */
export const spamFilterDomains = pgTable(
  'spam_filter_domains',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    accountId: uuid('account_id').notNull(),
    /** A-label, lower case; one account filters a domain at a time. */
    name: text('name').notNull().unique(),
    /** [{host, port}]: where filtered mail is delivered. */
    destinations: jsonb('destinations').notNull(),
    aliases: text('aliases')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** 'incoming' | 'outgoing' | 'archiving' */
    products: text('products').array().notNull(),
    /** Monthly billing periods run from here. */
    periodAnchor: ts('period_anchor').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [index('spam_filter_domains_account_idx').on(t.accountId, t.name)],
);

/**
 * Every name and alias of every spam-filter domain, claimed once across all accounts (R-LIC-4,
 * R-SEC-6): the primary key refuses a second claim, in the same transaction as the domain's row.
 */
export const spamFilterNames = pgTable(
  'spam_filter_names',
  {
    /** A-label, lower case: a domain's name or one of its aliases. */
    name: text('name').primaryKey(),
    domainId: uuid('domain_id')
      .notNull()
      .references(() => spamFilterDomains.id, { onDelete: 'cascade' }),
    /** 'name' | 'alias' */
    kind: text('kind').notNull(),
  },
  (t) => [index('spam_filter_names_domain_idx').on(t.domainId)],
);

/** The vendor's count of a domain's mailboxes: recipients with a successful delivery in the last 7 days. */
export const spamFilterMailboxReports = pgTable(
  'spam_filter_mailbox_reports',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    domainId: uuid('domain_id')
      .notNull()
      .references(() => spamFilterDomains.id, { onDelete: 'cascade' }),
    mailboxes: integer('mailboxes').notNull(),
    reportedAt: ts('reported_at').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('spam_filter_mailbox_reports_domain_idx').on(t.domainId, t.reportedAt)],
);

/** The overage of one domain in one billing period: charged once (the unique key). */
export const spamFilterCharges = pgTable(
  'spam_filter_charges',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    domainId: uuid('domain_id').notNull(),
    accountId: uuid('account_id').notNull(),
    domainName: text('domain_name').notNull(),
    periodStart: ts('period_start').notNull(),
    periodEnd: ts('period_end').notNull(),
    mailboxes: integer('mailboxes').notNull(),
    overage: integer('overage').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    /** 'charged' | 'unpaid' */
    status: text('status').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('spam_filter_charges_once_key').on(t.domainId, t.periodStart),
    index('spam_filter_charges_account_idx').on(t.accountId, t.id),
  ],
);

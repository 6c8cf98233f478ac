// Domains (R-DOM): the TLD catalogue. Registry rules are data that operators edit (R-DOM-5).
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const tlds = pgTable('tlds', {
  /** A-label, without the dot: 'com', 'xn--p1ai'. */
  tld: text('tld').primaryKey(),
  enabled: boolean('enabled').notNull().default(true),
  minLabelLength: integer('min_label_length').notNull().default(1),
  maxLabelLength: integer('max_label_length').notNull().default(63),
  /** Unicode scripts allowed in U-labels (one per label); empty = no IDN. */
  idnScripts: text('idn_scripts')
    .array()
    .notNull()
    .default(sql`'{}'::text[]`),
  minPeriodYears: integer('min_period_years').notNull().default(1),
  maxPeriodYears: integer('max_period_years').notNull().default(10),
  authCodeRequired: boolean('auth_code_required').notNull().default(true),
  /** Contact roles a registration must name: owner, admin, tech, billing. */
  requiredContacts: text('required_contacts').array().notNull(),
  /** ISO 3166 countries the owner must be in; empty = anywhere. */
  ownerCountries: text('owner_countries')
    .array()
    .notNull()
    .default(sql`'{}'::text[]`),
  addGraceDays: integer('add_grace_days').notNull(),
  autoRenewGraceDays: integer('auto_renew_grace_days').notNull(),
  redemptionDays: integer('redemption_days').notNull(),
  pendingDeleteDays: integer('pending_delete_days').notNull(),
  transferApprovalDays: integer('transfer_approval_days').notNull().default(5),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

export const tldOperation = pgEnum('tld_operation', ['register', 'renew', 'transfer', 'restore']);

/** Price per year (restore: per event) in minor units, per TLD, operation and currency. */
export const tldPrices = pgTable(
  'tld_prices',
  {
    tld: text('tld')
      .notNull()
      .references(() => tlds.tld, { onDelete: 'cascade' }),
    operation: tldOperation('operation').notNull(),
    currency: text('currency').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tld, t.operation, t.currency] })],
);

export const tldReservedNames = pgTable(
  'tld_reserved_names',
  {
    tld: text('tld')
      .notNull()
      .references(() => tlds.tld, { onDelete: 'cascade' }),
    label: text('label').notNull(),
    reason: text('reason').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tld, t.label] })],
);

/** Premium names: their own yearly prices instead of the TLD's. */
export const tldPremiumNames = pgTable(
  'tld_premium_names',
  {
    tld: text('tld')
      .notNull()
      .references(() => tlds.tld, { onDelete: 'cascade' }),
    label: text('label').notNull(),
    currency: text('currency').notNull(),
    registerAmount: bigint('register_amount', { mode: 'number' }).notNull(),
    renewAmount: bigint('renew_amount', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tld, t.label, t.currency] })],
);

/** R-DOM-1: contact handles a reseller uses for its customers' domains. */
export const contacts = pgTable(
  'contacts',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    accountId: uuid('account_id').notNull(),
    /** Registry-style handle, unique across the registry: 'RA-' + 10 characters. */
    handle: text('handle').notNull(),
    name: text('name').notNull(),
    organisation: text('organisation').notNull().default(''),
    email: text('email').notNull(),
    phone: text('phone').notNull(),
    country: text('country').notNull(),
    street: text('street').array().notNull(),
    city: text('city').notNull(),
    state: text('state').notNull().default(''),
    postalCode: text('postal_code').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('contacts_handle_key').on(t.handle), index('contacts_account_idx').on(t.accountId, t.handle)],
);

/** The built-in registry's own state (what an EPP registry would hold): who holds which name. */
export const registryNames = pgTable('registry_names', {
  name: text('name').primaryKey(),
  /** The sponsoring reseller account, or null for names held at other registrars. */
  sponsorAccountId: uuid('sponsor_account_id'),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
  /** SHA-256 of the auth code (EPP authInfo); null: unknown here, the name cannot be transferred in. */
  authCodeHash: text('auth_code_hash'),
  /** clientTransferProhibited: the sponsor's lock. */
  transferProhibited: boolean('transfer_prohibited').notNull().default(false),
  /**
   * The owner's e-mail of record for a name held at another registrar (R-DOM-3: where a transfer's
   * approval request goes). Null for names sponsored here: their owner contact's e-mail is used.
   */
  registrantEmail: text('registrant_email'),
});

/** R-DOM-2: the availability checks an account made, and what they found. */
export const domainChecks = pgTable(
  'domain_checks',
  {
    accountId: uuid('account_id').notNull(),
    name: text('name').notNull(),
    result: text('result').notNull(), // free | taken | reserved | premium
    checkedAt: timestamp('checked_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.name] }), index('domain_checks_checked_idx').on(t.checkedAt)],
);

/** Domains a reseller holds for its customers. One live record per name. */
export const domains = pgTable(
  'domains',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    accountId: uuid('account_id').notNull(),
    name: text('name').notNull(),
    unicodeName: text('unicode_name').notNull(),
    tld: text('tld').notNull(),
    /** active | grace (expired, auto-renew grace) | redemption | pending_delete | released | transferred_out */
    status: text('status').notNull().default('active'),
    premium: boolean('premium').notNull().default(false),
    registeredAt: timestamp('registered_at', { withTimezone: true, precision: 3 }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    /**
     * The lifecycle dates, stored once and read by both the API and the sweeps (one source of truth).
     * Set from expires_at and the TLD's periods whenever expires_at changes (lifecycleDates()), and
     * from the deletion time when a domain is deleted.
     */
    graceEndsAt: timestamp('grace_ends_at', { withTimezone: true, precision: 3 }).notNull(),
    redemptionEndsAt: timestamp('redemption_ends_at', { withTimezone: true, precision: 3 }).notNull(),
    purgeAt: timestamp('purge_at', { withTimezone: true, precision: 3 }).notNull(),
    /** The last auto-renewal that failed for lack of funds (retried once a day during grace). */
    autorenewFailedAt: timestamp('autorenew_failed_at', { withTimezone: true, precision: 3 }),
    autorenew: boolean('autorenew').notNull().default(true),
    /**
     * The domain.expiring notices sent (issue 13): for which expiry date, and the last notice's days
     * (30, then 7). A renewal changes expires_at, so the notices start over for the new date.
     */
    expiryNoticeFor: timestamp('expiry_notice_for', { withTimezone: true, precision: 3 }),
    expiryNoticeDays: integer('expiry_notice_days'),
    locked: boolean('locked').notNull().default(true),
    authCodeSealed: text('auth_code_sealed').notNull(),
    nameservers: text('nameservers').array().notNull(),
    ownerHandle: text('owner_handle').notNull(),
    adminHandle: text('admin_handle'),
    techHandle: text('tech_handle'),
    billingHandle: text('billing_handle'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('domains_live_name_key')
      .on(t.name)
      .where(sql`${t.status} NOT IN ('released', 'transferred_out')`),
    index('domains_account_idx').on(t.accountId, t.name),
    // The lifecycle sweep's scans: what is due next, per status.
    index('domains_lifecycle_idx').on(t.status, t.expiresAt),
  ],
);

/** R-DOM-3: transfers in, waiting for the owner's approval. */
export const domainTransfers = pgTable(
  'domain_transfers',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    /** The gaining reseller. */
    accountId: uuid('account_id').notNull(),
    name: text('name').notNull(),
    unicodeName: text('unicode_name').notNull(),
    tld: text('tld').notNull(),
    /** The losing reseller, when the name is held by another account here. */
    losingAccountId: uuid('losing_account_id'),
    /** pending_approval | approved | completed | rejected | cancelled | expired */
    status: text('status').notNull().default('pending_approval'),
    /** SHA-256 of the approval token e-mailed to the owner of record (the gaining reseller never sees it). */
    approvalTokenHash: text('approval_token_hash').notNull(),
    /** The owner's e-mail of record the approval request went to. */
    approvalSentTo: text('approval_sent_to'),
    /** When the latest approval e-mail was queued (the request, or a resend). */
    approvalQueuedAt: timestamp('approval_queued_at', { withTimezone: true, precision: 3 }),
    /** When the relay took the latest approval e-mail; null while it is queued. */
    approvalMailedAt: timestamp('approval_mailed_at', { withTimezone: true, precision: 3 }),
    /** Approval e-mails asked for: the request's, then each resend. */
    approvalMails: integer('approval_mails').notNull().default(1),
    ownerHandle: text('owner_handle').notNull(),
    adminHandle: text('admin_handle'),
    techHandle: text('tech_handle'),
    billingHandle: text('billing_handle'),
    nameservers: text('nameservers').array(),
    currency: text('currency').notNull(),
    /** The price at request time, per year; charged on completion at the price then current. */
    quotedAmount: bigint('quoted_amount', { mode: 'number' }).notNull(),
    chargedAmount: bigint('charged_amount', { mode: 'number' }),
    /** Why an approved transfer has not completed yet (insufficient_funds), or why it was rejected. */
    note: text('note'),
    domainId: uuid('domain_id'),
    requestedAt: timestamp('requested_at', { withTimezone: true, precision: 3 }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true, precision: 3 }),
    completedAt: timestamp('completed_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    uniqueIndex('domain_transfers_token_key').on(t.approvalTokenHash),
    // One open transfer per name.
    uniqueIndex('domain_transfers_open_name_key')
      .on(t.name)
      .where(sql`${t.status} IN ('pending_approval', 'approved')`),
    index('domain_transfers_account_idx').on(t.accountId, t.requestedAt),
    index('domain_transfers_open_idx').on(t.status, t.expiresAt),
  ],
);

/** R-DOM-6: abuse complaints about a domain, answered by its reseller within a set time. */
export const abuseComplaints = pgTable(
  'abuse_complaints',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    domainId: uuid('domain_id').notNull(),
    domainName: text('domain_name').notNull(),
    /** The reseller holding the domain when the complaint was filed. */
    accountId: uuid('account_id').notNull(),
    /** spam | phishing | malware | botnet | fraud | copyright | other */
    category: text('category').notNull(),
    description: text('description').notNull(),
    evidenceUrls: text('evidence_urls')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    reporterName: text('reporter_name'),
    reporterEmail: text('reporter_email'),
    /** operator | public */
    source: text('source').notNull(),
    filedByUserId: uuid('filed_by_user_id'),
    filedFromIp: text('filed_from_ip'),
    /** open | responded | escalated | closed */
    status: text('status').notNull().default('open'),
    respondBy: timestamp('respond_by', { withTimezone: true, precision: 3 }).notNull(),
    /** What the reseller did: investigating | suspended | removed | no_violation | other */
    responseAction: text('response_action'),
    responseMessage: text('response_message'),
    respondedAt: timestamp('responded_at', { withTimezone: true, precision: 3 }),
    respondedByUserId: uuid('responded_by_user_id'),
    escalatedAt: timestamp('escalated_at', { withTimezone: true, precision: 3 }),
    closedAt: timestamp('closed_at', { withTimezone: true, precision: 3 }),
    closeNote: text('close_note'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    index('abuse_complaints_account_idx').on(t.accountId, t.createdAt),
    index('abuse_complaints_due_idx').on(t.status, t.respondBy),
  ],
);

// Reseller accounts (the tenant root), their users (one per person) and operators (account_id null),
// sessions, API keys, and what login and signed requests need to remember.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });

export const accountStatus = pgEnum('account_status', ['active', 'suspended', 'terminated']);
export const userRole = pgEnum('user_role', [
  'owner',
  'admin',
  'technical',
  'billing',
  'support',
  'read_only',
  'operator',
]);
export const userStatus = pgEnum('user_status', ['active', 'disabled']);

export const accounts = pgTable(
  'accounts',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    name: text('name').notNull(),
    status: accountStatus('status').notNull().default('active'),
    companyName: text('company_name').notNull().default(''),
    contactEmail: text('contact_email').notNull().default(''),
    contactPhone: text('contact_phone').notNull().default(''),
    country: text('country').notNull().default(''),
    address: text('address').notNull().default(''),
    currency: text('currency').notNull().default('EUR'),
    /** Minor units. Charges may take the balance down to -credit_limit. */
    balance: bigint('balance', { mode: 'number' }).notNull().default(0),
    creditLimit: bigint('credit_limit', { mode: 'number' }).notNull().default(0),
    requireTwoFactor: boolean('require_two_factor').notNull().default(false),
    ipAllowlist: text('ip_allowlist')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    suspendedReason: text('suspended_reason'),
    /** R-API-4: API access suspended by the fair-use ladder until this time. */
    apiSuspendedUntil: ts('api_suspended_until'),
    /** R-API-4: flagged for operators to review for termination. */
    terminationReview: boolean('termination_review').notNull().default(false),
    /** Minor units: a balance falling below it emits billing.balance_low once per crossing (null: off). */
    lowBalanceThreshold: bigint('low_balance_threshold', { mode: 'number' }),
    /** The balance is below the threshold and billing.balance_low was emitted for it. */
    lowBalanceNotified: boolean('low_balance_notified').notNull().default(false),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('accounts_balance_floor', sql`${t.balance} >= -${t.creditLimit}`),
    check('accounts_credit_limit_nonneg', sql`${t.creditLimit} >= 0`),
  ],
);

export const users = pgTable(
  'users',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    /** Null for operators (the provider's staff). */
    accountId: uuid('account_id').references(() => accounts.id),
    username: text('username').notNull(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    role: userRole('role').notNull(),
    status: userStatus('status').notNull().default('active'),
    passwordHash: text('password_hash').notNull(),
    passwordChangedAt: ts('password_changed_at').notNull().defaultNow(),
    /** AES-256-GCM sealed TOTP secret; set at enrolment, active once confirmed. */
    totpSecret: text('totp_secret'),
    totpEnabled: boolean('totp_enabled').notNull().default(false),
    /** Last accepted TOTP time step: a code is never accepted twice. */
    totpLastStep: bigint('totp_last_step', { mode: 'number' }),
    ipAllowlist: text('ip_allowlist')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** Until when the user's username is locked after failed logins (R-API-5), shown in the user view; login_name_failures decides. */
    lockedUntil: ts('locked_until'),
    lastLoginAt: ts('last_login_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('users_username_key').on(sql`lower(${t.username})`),
    index('users_account_idx').on(t.accountId),
    check('users_operator_has_no_account', sql`(${t.role} = 'operator') = (${t.accountId} is null)`),
  ],
);

export const recoveryCodes = pgTable(
  'recovery_codes',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    usedAt: ts('used_at'),
  },
  (t) => [primaryKey({ columns: [t.userId, t.codeHash] })],
);

export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** SHA-256 (hex) of the bearer token; the token itself is never stored. */
    tokenHash: text('token_hash').notNull(),
    /** Only the two-factor enrolment routes (account requires 2FA, user has none yet). */
    enrolmentOnly: boolean('enrolment_only').notNull().default(false),
    createdAt: ts('created_at').notNull().defaultNow(),
    expiresAt: ts('expires_at').notNull(),
    revokedAt: ts('revoked_at'),
    lastUsedAt: ts('last_used_at'),
    lastUsedAddress: text('last_used_address'),
    createdAddress: text('created_address').notNull(),
    userAgent: text('user_agent').notNull().default(''),
  },
  (t) => [uniqueIndex('sessions_token_hash_key').on(t.tokenHash), index('sessions_user_idx').on(t.userId)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id')
      .primaryKey()
      .default(sql`gen_random_uuid()`),
    /** Public identifier, also the HMAC Credential. */
    keyId: text('key_id').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** SHA-256 (hex) of the whole bearer key. */
    secretHash: text('secret_hash').notNull(),
    /** The secret sealed with the master key, so signatures can be verified. */
    secretSealed: text('secret_sealed').notNull(),
    scopes: text('scopes').array().notNull(),
    ipAllowlist: text('ip_allowlist')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    createdAt: ts('created_at').notNull().defaultNow(),
    rotatedAt: ts('rotated_at'),
    expiresAt: ts('expires_at'),
    revokedAt: ts('revoked_at'),
    lastUsedAt: ts('last_used_at'),
    lastUsedAddress: text('last_used_address'),
  },
  (t) => [
    uniqueIndex('api_keys_key_id_key').on(t.keyId),
    uniqueIndex('api_keys_secret_hash_key').on(t.secretHash),
    index('api_keys_user_idx').on(t.userId),
  ],
);

/** Failed logins by address, for the per-address limit (per-user counts live on users). */
export const loginFailures = pgTable(
  'login_failures',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    address: text('address').notNull(),
    at: ts('at').notNull().defaultNow(),
  },
  (t) => [index('login_failures_address_at_idx').on(t.address, t.at)],
);

/**
 * Consecutive failed logins per username as typed (lower-cased), whether or not a user has that name
 * (R-API-5): an unknown name is counted and locked exactly like a known one, so neither the answers
 * nor the lock tell which names exist.
 */
export const loginNameFailures = pgTable(
  'login_name_failures',
  {
    username: text('username').primaryKey(),
    failures: integer('failures').notNull(),
    lastFailureAt: ts('last_failure_at').notNull(),
    lockedUntil: ts('locked_until'),
  },
  (t) => [index('login_name_failures_last_failure_idx').on(t.lastFailureAt)],
);

/** Signed-request nonces seen (R-SEC-5): the only record of them, for every instance. */
export const usedNonces = pgTable(
  'used_nonces',
  {
    keyId: text('key_id').notNull(),
    nonce: text('nonce').notNull(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.nonce] }), index('used_nonces_expires_idx').on(t.expiresAt)],
);

export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    at: ts('at').notNull().defaultNow(),
    accountId: uuid('account_id'),
    userId: uuid('user_id'),
    credentialType: text('credential_type'),
    credentialId: text('credential_id'),
    address: text('address').notNull(),
    operation: text('operation').notNull(),
    method: text('method').notNull(),
    path: text('path').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    statusCode: integer('status_code').notNull(),
    result: text('result').notNull(),
    errorCode: text('error_code'),
    requestId: text('request_id').notNull(),
    details: jsonb('details'),
  },
  (t) => [index('audit_events_account_id_idx').on(t.accountId, t.id)],
);

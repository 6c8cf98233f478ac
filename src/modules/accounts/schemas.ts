// Request and response schemas of the accounts area, and the views that map rows onto them.
import { Type, type Static } from 'typebox';
import {
  BigIntId,
  Currency,
  DateTime,
  Int32,
  iso,
  Money,
  MoneyAmount,
  named,
  Page,
  PageQuery,
  Uuid,
} from '../../schemas.js';
import type { ApiKeyRow } from './auth-service.js';
import { ALL_PERMISSIONS, RESELLER_ROLES } from './permissions.js';
import type { AccountRow, UserRow } from './service.js';

const strict = { additionalProperties: false } as const;

export const Username = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$',
  examples: ['alice'],
  description: '3-64 characters: letters, digits, . _ @ -',
});
export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Password = Type.String({
  minLength: 1,
  maxLength: 256,
  description: 'At least 12 characters and hard to guess (zxcvbn score >= 3)',
});
export const Phone = Type.String({
  pattern: '^\\+[0-9]{1,3}\\.[0-9]{4,14}$',
  description: '+CC.NUMBER',
  examples: ['+49.301234567'],
});
export const Country = Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2', examples: ['DE'] });
export const AllowlistEntries = Type.Array(Type.String({ maxLength: 64 }), {
  maxItems: 100,
  description: 'IPv4/IPv6 addresses or CIDRs; empty = any address',
});
export const ResellerRoleSchema = Type.Enum([...RESELLER_ROLES]);
export const Scope = Type.Enum([...ALL_PERMISSIONS]);

// ---- accounts -----------------------------------------------------------------------------

export const Account = named(
  'Account',
  Type.Object(
    {
      id: Uuid,
      name: Type.String(),
      status: Type.Enum(['active', 'suspended', 'terminated']),
      company_name: Type.String(),
      contact_email: Type.String(),
      contact_phone: Type.String(),
      country: Type.String(),
      address: Type.String(),
      currency: Currency,
      balance: Money,
      credit_limit: Money,
      low_balance_threshold: Type.Union([Money, Type.Null()], {
        description: 'A balance falling below it emits billing.balance_low, once per fall (null: off)',
      }),
      require_two_factor: Type.Boolean(),
      ip_allowlist: Type.Array(Type.String()),
      suspended_reason: Type.Union([Type.String(), Type.Null()]),
      created_at: DateTime,
      updated_at: DateTime,
    },
    {
      ...strict,
      description: 'A reseller account',
      examples: [
        {
          id: '8a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
          name: 'Example Hosting',
          status: 'active',
          company_name: 'Example Hosting GmbH',
          contact_email: 'billing@example-hosting.test',
          contact_phone: '+49.301234567',
          country: 'DE',
          address: 'Friedrichstr. 1, 10117 Berlin',
          currency: 'EUR',
          balance: { amount: 250000, currency: 'EUR' },
          credit_limit: { amount: 0, currency: 'EUR' },
          low_balance_threshold: { amount: 50000, currency: 'EUR' },
          require_two_factor: false,
          ip_allowlist: [],
          suspended_reason: null,
          created_at: '2026-01-15T09:30:00.000Z',
          updated_at: '2026-03-01T12:00:00.000Z',
        },
      ],
    },
  ),
);
export const AccountList = Page(Account);

export const accountView = (a: AccountRow): Static<typeof Account> => ({
  id: a.id,
  name: a.name,
  status: a.status,
  company_name: a.companyName,
  contact_email: a.contactEmail,
  contact_phone: a.contactPhone,
  country: a.country,
  address: a.address,
  currency: a.currency,
  balance: { amount: a.balance, currency: a.currency },
  credit_limit: { amount: a.creditLimit, currency: a.currency },
  low_balance_threshold:
    a.lowBalanceThreshold === null ? null : { amount: a.lowBalanceThreshold, currency: a.currency },
  require_two_factor: a.requireTwoFactor,
  ip_allowlist: a.ipAllowlist,
  suspended_reason: a.suspendedReason,
  created_at: a.createdAt.toISOString(),
  updated_at: a.updatedAt.toISOString(),
});

const contactFields = {
  company_name: Type.String({ maxLength: 200 }),
  contact_email: Email,
  contact_phone: Phone,
  country: Country,
  address: Type.String({ maxLength: 500 }),
};

const optionalContactFields = {
  company_name: Type.Optional(contactFields.company_name),
  contact_email: Type.Optional(contactFields.contact_email),
  contact_phone: Type.Optional(contactFields.contact_phone),
  country: Type.Optional(contactFields.country),
  address: Type.Optional(contactFields.address),
};

/** The contact fields of a body, in the service's names (absent stays absent). */
export function contactFromBody<B extends Partial<Record<keyof typeof contactFields, string>>>(
  b: B,
): {
  companyName: B['company_name'];
  contactEmail: B['contact_email'];
  contactPhone: B['contact_phone'];
  country: B['country'];
  address: B['address'];
} {
  return {
    companyName: b.company_name,
    contactEmail: b.contact_email,
    contactPhone: b.contact_phone,
    country: b.country,
    address: b.address,
  };
}

export const CreateAccountBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    ...contactFields,
    currency: Currency,
    credit_limit: Type.Optional(MoneyAmount({ minimum: 0, description: 'Minor units the balance may go below zero' })),
    owner: Type.Object(
      { username: Username, email: Email, name: Type.String({ minLength: 1, maxLength: 200 }), password: Password },
      strict,
    ),
  },
  strict,
);

export const AdminAccountPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    ...optionalContactFields,
    credit_limit: Type.Optional(MoneyAmount({ minimum: 0 })),
  },
  { ...strict, minProperties: 1 },
);

export const OwnAccountPatch = Type.Object(
  {
    ...optionalContactFields,
    require_two_factor: Type.Optional(Type.Boolean()),
    low_balance_threshold: Type.Optional(
      Type.Union(
        [
          Type.Object(
            {
              amount: MoneyAmount({ minimum: 0, description: 'Minor units of the account currency' }),
              currency: Currency,
            },
            strict,
          ),
          Type.Null(),
        ],
        {
          description:
            "Emit billing.balance_low when a movement takes the balance below this amount (in the account's currency; null: off). Set above the current balance, it is emitted at once.",
        },
      ),
    ),
  },
  { ...strict, minProperties: 1 },
);

export const SuspendBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 1000 }) }, strict);

export const CreditBody = Type.Object(
  {
    amount: Type.Object(
      { amount: MoneyAmount({ minimum: 1, description: 'Minor units, positive' }), currency: Currency },
      strict,
    ),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    reference: Type.Optional(Type.String({ maxLength: 200 })),
  },
  strict,
);

export const AllowlistBody = Type.Object(
  {
    entries: AllowlistEntries,
    confirm: Type.Optional(
      Type.Boolean({ description: 'Required when the list would exclude the address you are calling from' }),
    ),
  },
  strict,
);
export const Allowlist = Type.Object({ entries: Type.Array(Type.String()) }, strict);

export const ListAccountsQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(Type.Enum(['active', 'suspended', 'terminated'])) },
  strict,
);

// ---- users --------------------------------------------------------------------------------

export const User = named(
  'User',
  Type.Object(
    {
      id: Uuid,
      account_id: Type.Union([Uuid, Type.Null()]),
      username: Type.String(),
      email: Type.String(),
      name: Type.String(),
      role: Type.Enum([...RESELLER_ROLES, 'operator']),
      status: Type.Enum(['active', 'disabled']),
      two_factor_enabled: Type.Boolean(),
      ip_allowlist: Type.Array(Type.String()),
      locked_until: Type.Union([DateTime, Type.Null()]),
      last_login_at: Type.Union([DateTime, Type.Null()]),
      created_at: DateTime,
    },
    {
      ...strict,
      description: 'A login of a reseller account (or an operator, with account_id null)',
      examples: [
        {
          id: '3f2b8c1e-5d4a-4e6b-9c7d-1a2b3c4d5e6f',
          account_id: '8a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
          username: 'alice',
          email: 'alice@example-hosting.test',
          name: 'Alice Example',
          role: 'admin',
          status: 'active',
          two_factor_enabled: true,
          ip_allowlist: [],
          locked_until: null,
          last_login_at: '2026-03-01T08:00:00.000Z',
          created_at: '2026-01-15T09:30:00.000Z',
        },
      ],
    },
  ),
);
export const UserList = Page(User);

export const userView = (u: UserRow): Static<typeof User> => ({
  id: u.id,
  account_id: u.accountId,
  username: u.username,
  email: u.email,
  name: u.name,
  role: u.role,
  status: u.status,
  two_factor_enabled: u.totpEnabled,
  ip_allowlist: u.ipAllowlist,
  locked_until: iso(u.lockedUntil),
  last_login_at: iso(u.lastLoginAt),
  created_at: u.createdAt.toISOString(),
});

export const CreateUserBody = Type.Object(
  {
    username: Username,
    email: Email,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: ResellerRoleSchema,
    password: Password,
    ip_allowlist: Type.Optional(AllowlistEntries),
  },
  strict,
);

export const UserPatchBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    email: Type.Optional(Email),
    role: Type.Optional(ResellerRoleSchema),
    status: Type.Optional(Type.Enum(['active', 'disabled'])),
    ip_allowlist: Type.Optional(AllowlistEntries),
  },
  { ...strict, minProperties: 1 },
);

export const PasswordBody = Type.Object(
  {
    current_password: Type.Optional(
      Type.String({ maxLength: 256, description: 'Required when changing your own password' }),
    ),
    new_password: Password,
  },
  strict,
);

// ---- auth ---------------------------------------------------------------------------------

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
    totp_code: Type.Optional(Type.String({ pattern: '^[0-9]{6}$', examples: ['492039'] })),
    recovery_code: Type.Optional(Type.String({ minLength: 8, maxLength: 32 })),
  },
  strict,
);

export const LoginResult = Type.Object(
  { token: Type.String(), token_type: Type.Literal('Bearer'), session_id: Uuid, expires_at: DateTime, user: User },
  strict,
);

export const Session = named(
  'Session',
  Type.Object(
    {
      id: Uuid,
      current: Type.Boolean(),
      created_at: DateTime,
      expires_at: DateTime,
      created_address: Type.String(),
      user_agent: Type.String(),
      last_used_at: Type.Union([DateTime, Type.Null()]),
      last_used_address: Type.Union([Type.String(), Type.Null()]),
    },
    {
      ...strict,
      description: 'A signed-in session of a user',
      examples: [
        {
          id: '5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e',
          current: true,
          created_at: '2026-03-01T08:00:00.000Z',
          expires_at: '2026-03-01T20:00:00.000Z',
          created_address: '203.0.113.7',
          user_agent: 'curl/8.5.0',
          last_used_at: '2026-03-01T08:05:00.000Z',
          last_used_address: '203.0.113.7',
        },
      ],
    },
  ),
);

export const TwoFactorEnrolment = Type.Object(
  {
    secret: Type.String({ description: 'Base32 TOTP secret' }),
    otpauth_uri: Type.String({ description: 'otpauth://totp/... for authenticator apps' }),
  },
  strict,
);
export const CodeBody = Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$', examples: ['492039'] }) }, strict);
export const OptionalCodeBody = Type.Object(
  { code: Type.Optional(Type.String({ pattern: '^[0-9]{6}$', examples: ['492039'] })) },
  strict,
);
export const RecoveryCodes = Type.Object(
  { recovery_codes: Type.Array(Type.String(), { description: 'Shown once; each works once' }) },
  strict,
);

// ---- API keys -----------------------------------------------------------------------------

export const ApiKey = named(
  'ApiKey',
  Type.Object(
    {
      id: Uuid,
      key_id: Type.String({ description: 'Public; the Credential of signed requests' }),
      user_id: Uuid,
      name: Type.String(),
      scopes: Type.Array(Scope),
      ip_allowlist: Type.Array(Type.String()),
      created_at: DateTime,
      rotated_at: Type.Union([DateTime, Type.Null()]),
      expires_at: Type.Union([DateTime, Type.Null()]),
      revoked_at: Type.Union([DateTime, Type.Null()]),
      last_used_at: Type.Union([DateTime, Type.Null()]),
      last_used_address: Type.Union([Type.String(), Type.Null()]),
    },
    {
      ...strict,
      description: 'An API key; its secret is shown once, when created or rotated',
      examples: [
        {
          id: 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f',
          key_id: 'k7Qm2xPq9Zt4',
          user_id: '3f2b8c1e-5d4a-4e6b-9c7d-1a2b3c4d5e6f',
          name: 'billing sync',
          scopes: ['domains:read', 'domains:write'],
          ip_allowlist: ['203.0.113.0/24'],
          created_at: '2026-02-01T10:00:00.000Z',
          rotated_at: null,
          expires_at: null,
          revoked_at: null,
          last_used_at: null,
          last_used_address: null,
        },
      ],
    },
  ),
);

export const apiKeyView = (k: ApiKeyRow): Static<typeof ApiKey> => ({
  id: k.id,
  key_id: k.keyId,
  user_id: k.userId,
  name: k.name,
  scopes: k.scopes as Static<typeof ApiKey>['scopes'],
  ip_allowlist: k.ipAllowlist,
  created_at: k.createdAt.toISOString(),
  rotated_at: iso(k.rotatedAt),
  expires_at: iso(k.expiresAt),
  revoked_at: iso(k.revokedAt),
  last_used_at: iso(k.lastUsedAt),
  last_used_address: k.lastUsedAddress,
});

export const ApiKeyWithSecret = Type.Object(
  {
    api_key: ApiKey,
    key: Type.String({ description: 'rak_<key_id>_<secret>: send as Bearer. Shown once.' }),
    secret: Type.String({ description: 'The HMAC signing secret (the part of `key` after key_id). Shown once.' }),
  },
  strict,
);

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Array(Scope, { minItems: 1, uniqueItems: true }),
    ip_allowlist: Type.Optional(AllowlistEntries),
    expires_at: Type.Optional(DateTime),
  },
  strict,
);

// ---- audit --------------------------------------------------------------------------------

/** An audited call's outcome: a named schema, so generated clients give it one type (query and record). */
export const AuditResult = named('AuditResult', Type.Enum(['success', 'failure']));

export const AuditEvent = named(
  'AuditEvent',
  Type.Object(
    {
      id: BigIntId(),
      at: DateTime,
      account_id: Type.Union([Uuid, Type.Null()]),
      user_id: Type.Union([Uuid, Type.Null()]),
      credential_type: Type.Union([Type.Enum(['session', 'api_key']), Type.Null()]),
      credential_id: Type.Union([Type.String(), Type.Null()]),
      address: Type.String(),
      operation: Type.String(),
      method: Type.String(),
      path: Type.String(),
      target_type: Type.Union([Type.String(), Type.Null()]),
      target_id: Type.Union([Type.String(), Type.Null()]),
      status_code: Int32(),
      result: AuditResult,
      error_code: Type.Union([Type.String(), Type.Null()]),
      request_id: Type.String(),
      details: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
    },
    {
      ...strict,
      description: 'One change recorded in the audit trail',
      examples: [
        {
          id: 1042,
          at: '2026-03-01T08:05:00.000Z',
          account_id: '8a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
          user_id: '3f2b8c1e-5d4a-4e6b-9c7d-1a2b3c4d5e6f',
          credential_type: 'api_key',
          credential_id: 'k7Qm2xPq9Zt4',
          address: '203.0.113.7',
          operation: 'registerDomain',
          method: 'POST',
          path: '/v1/domains',
          target_type: 'domain',
          target_id: 'example.com',
          status_code: 201,
          result: 'success',
          error_code: null,
          request_id: 'req-7f3a9c2e',
          details: null,
        },
      ],
    },
  ),
);
export const AuditEventList = Page(AuditEvent);

export const AuditQuery = Type.Object(
  {
    ...PageQuery,
    operation: Type.Optional(Type.String({ maxLength: 100 })),
    user_id: Type.Optional(Uuid),
    result: Type.Optional(AuditResult),
    since: Type.Optional(DateTime),
    until: Type.Optional(DateTime),
    account_id: Type.Optional(Type.String({ format: 'uuid', description: 'Operators only' })),
  },
  strict,
);

// Coded errors of the accounts and credentials area.
import { Type } from 'typebox';
import { defineError } from '../../errors.js';

export const AuthenticationRequired = defineError('authentication_required', 401, 'Authentication required');
export const InvalidCredentials = defineError('invalid_credentials', 401, 'Invalid credentials');
export const TokenExpired = defineError('token_expired', 401, 'The token has expired');
export const CredentialRevoked = defineError('credential_revoked', 401, 'The credential was revoked');
export const SignatureInvalid = defineError('signature_invalid', 401, 'The request signature does not verify');
export const SignatureExpired = defineError(
  'signature_expired',
  401,
  'The signed timestamp is outside the allowed skew',
);
export const NonceReused = defineError('nonce_reused', 401, 'The nonce was already used');
export const TwoFactorRequired = defineError('two_factor_required', 401, 'A TOTP code or recovery code is required');
export const InvalidTwoFactorCode = defineError(
  'invalid_two_factor_code',
  401,
  'The TOTP or recovery code is wrong or already used',
);
export const TwoFactorEnrolmentRequired = defineError(
  'two_factor_enrolment_required',
  403,
  'The account requires two-factor authentication',
  Type.Object({
    enrolment_token: Type.Optional(
      Type.String({
        description:
          'At login: a short-lived token that may only enrol two-factor authentication (POST /v1/users/{id}/two-factor)',
      }),
    ),
    user_id: Type.Optional(Type.String({ format: 'uuid', description: 'At login: the user to enrol' })),
    expires_at: Type.Optional(Type.String({ format: 'date-time', description: 'At login: when the token expires' })),
  }),
);
export const LoginLocked = defineError(
  'login_locked',
  429,
  'Too many failed logins; try again later',
  Type.Object({ retry_after_seconds: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) }),
);
export const IpNotAllowed = defineError('ip_not_allowed', 403, 'This address is not on the allowlist');
export const AccountSuspended = defineError('account_suspended', 403, 'The account is suspended');
export const AccountTerminated = defineError('account_terminated', 403, 'The account is terminated');
export const PermissionDenied = defineError('permission_denied', 403, 'Your role or API key scope does not allow this');
export const WeakPassword = defineError('weak_password', 422, 'The password is too weak');
export const WrongPassword = defineError('wrong_password', 422, 'The current password is wrong');
export const UsernameTaken = defineError('username_taken', 409, 'The username is taken');
export const RoleNotAssignable = defineError('role_not_assignable', 403, 'You cannot assign this role');
export const ScopeNotPermitted = defineError(
  'scope_not_permitted',
  422,
  'An API key cannot hold permissions its user lacks',
);
export const ApiKeyExpired = defineError(
  'api_key_expired',
  409,
  'The API key has expired: a rotation would hand out a secret that works nowhere; create a new key',
);
export const InvalidAllowlist = defineError(
  'invalid_allowlist',
  422,
  'An allowlist entry is not an IP address or CIDR',
);
export const AllowlistWouldLockOut = defineError(
  'allowlist_would_lock_out',
  422,
  'The allowlist would exclude the address you are calling from',
);
export const TwoFactorAlreadyEnabled = defineError(
  'two_factor_already_enabled',
  409,
  'Two-factor authentication is already enabled',
);
export const TwoFactorNotEnrolled = defineError('two_factor_not_enrolled', 409, 'Start enrolment before confirming');
export const TwoFactorNeededForPolicy = defineError(
  'two_factor_needed_for_policy',
  409,
  'Enable two-factor authentication for yourself before requiring it',
);
export const ContactEmailInUse = defineError(
  'contact_email_in_use',
  409,
  'Another account has this contact address: e-mail from it opens that account’s tickets (R-TKT-10)',
);
export const LastOwner = defineError('last_owner', 409, 'An account keeps at least one active owner');
export const AccountNotActive = defineError(
  'account_not_active',
  409,
  'The account is not in a state that allows this',
);
export const NotASession = defineError('not_a_session', 409, 'This credential is an API key, not a login session');
export const ApiSuspended = defineError(
  'api_suspended',
  403,
  'API access is suspended for breaches of fair use',
  Type.Object({ ends_at: Type.String({ format: 'date-time', description: 'When API access returns' }) }),
);

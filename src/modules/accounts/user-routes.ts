// /v1/users: one login per person (R-SEC-1), passwords (R-SEC-2) and two-factor (R-SEC-3).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { pageSize } from '../../plugins/cursors.js';
import { IdParams, Page, PageQuery } from '../../schemas.js';
import type { AuthService } from './auth-service.js';
import {
  CodeBody,
  CreateUserBody,
  OptionalCodeBody,
  PasswordBody,
  RecoveryCodes,
  TwoFactorEnrolment,
  User,
  UserPatchBody,
  userView,
} from './schemas.js';
import type { AccountService } from './service.js';
import {
  InvalidAllowlist,
  InvalidTwoFactorCode,
  LastOwner,
  RoleNotAssignable,
  TwoFactorAlreadyEnabled,
  TwoFactorNotEnrolled,
  UsernameTaken,
  WeakPassword,
  WrongPassword,
} from './errors.js';
import { NotFound } from '../../errors.js';

export const userRoutes: FastifyPluginAsyncTypebox<{ accounts: AccountService; auth: AuthService }> = async (
  app,
  { accounts, auth },
) => {
  app.get(
    '/v1/users',
    {
      schema: {
        operationId: 'listUsers',
        tags: ['users'],
        summary: 'Users of your account',
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        errors: [NotFound],
        response: { 200: Page(User) },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const after = cursor.position({ id: 'uuid' })?.id;
      const rows = await accounts.listUsers(req.principal!, { limit, after });
      return cursor.page(rows, limit, (u) => ({ id: u.id }), userView);
    },
  );

  app.post(
    '/v1/users',
    {
      schema: {
        operationId: 'createUser',
        tags: ['users'],
        summary: 'Add a user (one per person; credentials are never shared)',
        body: CreateUserBody,
        errors: [NotFound, RoleNotAssignable, WeakPassword, InvalidAllowlist, UsernameTaken],
        response: { 201: User },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const user = await accounts.createUser(req.principal!, {
        username: b.username,
        email: b.email,
        name: b.name,
        role: b.role,
        password: b.password,
        ipAllowlist: b.ip_allowlist,
      });
      req.audit = { targetType: 'user', targetId: user.id };
      return reply.code(201).send(userView(user));
    },
  );

  app.get(
    '/v1/users/:id',
    {
      schema: {
        operationId: 'getUser',
        tags: ['users'],
        summary: 'One user (yourself, or any with users:read)',
        params: IdParams,
        errors: [NotFound],
        response: { 200: User },
      },
    },
    async (req) => userView(await accounts.getUserVisibleTo(req.principal!, req.params.id)),
  );

  app.patch(
    '/v1/users/:id',
    {
      schema: {
        operationId: 'updateUser',
        tags: ['users'],
        summary: 'Update a user; role, status and allowlist need users:write',
        description:
          'Disabling a user revokes all their sessions and API keys. An account keeps at least one active owner (409 last_owner).',
        params: IdParams,
        body: UserPatchBody,
        errors: [NotFound, RoleNotAssignable, InvalidAllowlist, LastOwner],
        response: { 200: User },
      },
    },
    async (req) => {
      const b = req.body;
      const { user, credentialsChanged } = await accounts.updateUser(req.principal!, req.params.id, {
        name: b.name,
        email: b.email,
        role: b.role,
        status: b.status,
        ipAllowlist: b.ip_allowlist,
      });
      if (credentialsChanged) app.credentialCache.revoke({ userId: user.id });
      req.audit = { targetType: 'user', targetId: user.id };
      return userView(user);
    },
  );

  app.delete(
    '/v1/users/:id',
    {
      schema: {
        operationId: 'disableUser',
        tags: ['users'],
        summary: 'Disable a user and revoke their sessions and keys (kept for the audit trail)',
        params: IdParams,
        errors: [NotFound, RoleNotAssignable, LastOwner],
        response: { 200: User },
      },
    },
    async (req) => {
      const { user } = await accounts.updateUser(req.principal!, req.params.id, { status: 'disabled' }, 'disableUser');
      app.credentialCache.revoke({ userId: user.id });
      req.audit = { targetType: 'user', targetId: user.id };
      return userView(user);
    },
  );

  app.put(
    '/v1/users/:id/password',
    {
      schema: {
        operationId: 'setUserPassword',
        tags: ['users'],
        summary: "Change your password (with the current one) or reset another user's (users:write)",
        description:
          "Changing your own password signs out your other sessions; a reset revokes all of the user's sessions and API keys.",
        params: IdParams,
        body: PasswordBody,
        errors: [NotFound, RoleNotAssignable, WrongPassword, WeakPassword],
        response: { 204: Type.Null({ description: 'Password set' }) },
      },
    },
    async (req, reply) => {
      await accounts.changePassword(req.principal!, req.params.id, {
        currentPassword: req.body.current_password,
        newPassword: req.body.new_password,
      });
      app.credentialCache.revoke({ userId: req.params.id });
      req.audit = { targetType: 'user', targetId: req.params.id };
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/users/:id/two-factor',
    {
      schema: {
        operationId: 'startTwoFactorEnrolment',
        tags: ['users'],
        summary: 'Start TOTP enrolment for yourself: returns the secret and an otpauth:// URI',
        params: IdParams,
        errors: [NotFound, RoleNotAssignable, TwoFactorAlreadyEnabled],
        response: { 200: TwoFactorEnrolment },
      },
      config: { allowEnrolment: true, sensitive: true },
    },
    async (req) => {
      const r = await auth.startTwoFactorEnrolment(req.principal!, req.params.id);
      req.audit = { targetType: 'user', targetId: req.params.id };
      return { secret: r.secret, otpauth_uri: r.otpauthUri };
    },
  );

  app.post(
    '/v1/users/:id/two-factor/confirm',
    {
      schema: {
        operationId: 'confirmTwoFactor',
        tags: ['users'],
        summary: 'Confirm enrolment with a current code; returns 10 one-time recovery codes (shown once)',
        params: IdParams,
        body: CodeBody,
        errors: [NotFound, RoleNotAssignable, TwoFactorAlreadyEnabled, TwoFactorNotEnrolled, InvalidTwoFactorCode],
        response: { 200: RecoveryCodes },
      },
      config: { allowEnrolment: true, sensitive: true },
    },
    async (req) => {
      const codes = await auth.confirmTwoFactor(req.principal!, req.params.id, req.body.code);
      app.credentialCache.revoke({ userId: req.params.id });
      req.audit = { targetType: 'user', targetId: req.params.id };
      return { recovery_codes: codes };
    },
  );

  app.delete(
    '/v1/users/:id/two-factor',
    {
      schema: {
        operationId: 'disableTwoFactor',
        tags: ['users'],
        summary: 'Turn two-factor off: yourself with a current code, or another user with users:write',
        params: IdParams,
        body: OptionalCodeBody,
        errors: [NotFound, RoleNotAssignable, InvalidTwoFactorCode],
        response: { 204: Type.Null({ description: 'Disabled' }) },
      },
    },
    async (req, reply) => {
      const done = await auth.disableTwoFactor(req.principal!, req.params.id, req.body.code);
      if (done.sessionsRevoked) app.credentialCache.revoke({ userId: done.userId });
      req.audit = { targetType: 'user', targetId: req.params.id };
      return reply.code(204).send(null);
    },
  );
};

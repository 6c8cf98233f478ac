// /v1/auth: login, logout, sessions.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { IdParams } from '../../schemas.js';
import { iso } from '../../schemas.js';
import type { AuthService } from './auth-service.js';
import { NotASession } from './errors.js';
import { LoginBody, LoginResult, Session, userView } from './schemas.js';
import { NotFound } from '../../errors.js';
import {
  AccountSuspended,
  AccountTerminated,
  InvalidCredentials,
  InvalidTwoFactorCode,
  LoginLocked,
  TwoFactorEnrolmentRequired,
  TwoFactorRequired,
} from './errors.js';

export const authRoutes: FastifyPluginAsyncTypebox<{ auth: AuthService }> = async (app, { auth }) => {
  app.post(
    '/v1/auth/login',
    {
      schema: {
        operationId: 'login',
        tags: ['auth'],
        summary: 'Log in with username and password (and a TOTP or recovery code when 2FA is on)',
        description:
          "Returns an opaque bearer token valid for 48 hours. An unknown username, a wrong password and a login from outside the user's IP allowlist all answer the same 401 invalid_credentials. Failed attempts are limited per username (whether or not a user has it) and per address (429 login_locked with Retry-After). When the account requires two-factor authentication and the user has none, the answer is 403 two_factor_enrolment_required with an `enrolment_token` that may only enrol a second factor.",
        body: LoginBody,
        errors: [
          InvalidCredentials,
          AccountSuspended,
          AccountTerminated,
          InvalidTwoFactorCode,
          TwoFactorRequired,
          TwoFactorEnrolmentRequired,
          LoginLocked,
        ],
        response: { 200: LoginResult },
      },
      config: { sensitive: true },
    },
    async (req) => {
      const session = await auth.login(
        {
          username: req.body.username,
          password: req.body.password,
          totpCode: req.body.totp_code,
          recoveryCode: req.body.recovery_code,
        },
        { address: req.ip, userAgent: req.headers['user-agent'] ?? '' },
        (user) => (req.audit = { accountId: user.accountId, userId: user.id, targetType: 'user', targetId: user.id }),
      );
      return {
        token: session.token,
        token_type: 'Bearer' as const,
        session_id: session.sessionId,
        expires_at: session.expiresAt.toISOString(),
        user: userView(session.user),
      };
    },
  );

  app.post(
    '/v1/auth/logout',
    {
      schema: {
        operationId: 'logout',
        tags: ['auth'],
        summary: 'Revoke the session this request is made with',
        errors: [NotASession, NotFound],
        response: { 204: Type.Null({ description: 'Logged out' }) },
      },
      config: { allowEnrolment: true },
    },
    async (req, reply) => {
      const p = req.principal!;
      if (p.credential.type !== 'session') throw new NotASession('Revoke API keys with DELETE /v1/api-keys/{id}');
      await auth.revokeSession(p, p.credential.id);
      app.credentialCache.revoke({ credentialId: p.credential.id });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/auth/sessions',
    {
      schema: {
        operationId: 'listSessions',
        tags: ['auth'],
        summary: 'Your active login sessions',
        response: { 200: Type.Object({ data: Type.Array(Session) }, { additionalProperties: false }) },
      },
    },
    async (req) => {
      const p = req.principal!;
      const rows = await auth.listSessions(p);
      return {
        data: rows.map((s) => ({
          id: s.id,
          current: p.credential.type === 'session' && p.credential.id === s.id,
          created_at: s.createdAt.toISOString(),
          expires_at: s.expiresAt.toISOString(),
          created_address: s.createdAddress,
          user_agent: s.userAgent,
          last_used_at: iso(s.lastUsedAt),
          last_used_address: s.lastUsedAddress,
        })),
      };
    },
  );

  app.delete(
    '/v1/auth/sessions/:id',
    {
      schema: {
        operationId: 'revokeSession',
        tags: ['auth'],
        summary: 'Revoke one of your sessions',
        params: IdParams,
        errors: [NotFound],
        response: { 204: Type.Null({ description: 'Revoked' }) },
      },
    },
    async (req, reply) => {
      await auth.revokeSession(req.principal!, req.params.id);
      app.credentialCache.revoke({ credentialId: req.params.id });
      req.audit = { targetType: 'session', targetId: req.params.id };
      return reply.code(204).send(null);
    },
  );
};

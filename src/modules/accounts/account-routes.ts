// /v1/account: the caller's own reseller account and its IP allowlist.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Account, accountView, contactFromBody, Allowlist, AllowlistBody, OwnAccountPatch } from './schemas.js';
import type { AccountService } from './service.js';
import { tenantOf } from './tenancy.js';
import { AllowlistWouldLockOut, ContactEmailInUse, InvalidAllowlist, TwoFactorNeededForPolicy } from './errors.js';
import { NotFound } from '../../errors.js';
import { CurrencyMismatch } from '../billing/api.js';

export const accountRoutes: FastifyPluginAsyncTypebox<{ accounts: AccountService }> = async (app, { accounts }) => {
  app.get(
    '/v1/account',
    {
      schema: {
        operationId: 'getAccount',
        tags: ['account'],
        summary: 'Your reseller account',
        errors: [NotFound],
        response: { 200: Account },
      },
    },
    async (req) => accountView(await accounts.getAccount(tenantOf(req.principal))),
  );

  app.patch(
    '/v1/account',
    {
      schema: {
        operationId: 'updateAccount',
        tags: ['account'],
        summary: 'Update contact data, the two-factor policy or the low-balance threshold',
        description:
          "Setting require_two_factor, or lifting it, needs two-factor authentication enabled on your own user first (409 two_factor_needed_for_policy); it signs out the open sessions of users without it (API keys stay). low_balance_threshold is in the account's currency (422 currency_mismatch otherwise); null switches the notice off.",
        body: OwnAccountPatch,
        errors: [NotFound, TwoFactorNeededForPolicy, CurrencyMismatch, ContactEmailInUse],
        response: { 200: Account },
      },
    },
    async (req) => {
      const b = req.body;
      const row = await accounts.updateOwnAccount(req.principal!, {
        ...contactFromBody(b),
        requireTwoFactor: b.require_two_factor,
        lowBalanceThreshold: b.low_balance_threshold,
      });
      // Sessions of users without 2FA were revoked in the change (R-SEC-3): drop the cached ones.
      if (row.sessionsRevoked) app.credentialCache.revoke({ accountId: row.id });
      req.audit = { targetType: 'account', targetId: row.id };
      return accountView(row);
    },
  );

  app.get(
    '/v1/account/ip-allowlist',
    {
      schema: {
        operationId: 'getAccountIpAllowlist',
        tags: ['account'],
        summary: 'Addresses allowed to call for this account',
        errors: [NotFound],
        response: { 200: Allowlist },
      },
    },
    async (req) => ({ entries: (await accounts.getAccount(tenantOf(req.principal))).ipAllowlist }),
  );

  app.put(
    '/v1/account/ip-allowlist',
    {
      schema: {
        operationId: 'setAccountIpAllowlist',
        tags: ['account'],
        summary: 'Replace the account IP allowlist (IPv4/IPv6 CIDR; empty = any address)',
        description:
          'A list that would exclude the address of this very request is refused (422 allowlist_would_lock_out) unless `confirm: true`.',
        body: AllowlistBody,
        errors: [NotFound, InvalidAllowlist, AllowlistWouldLockOut],
        response: { 200: Allowlist },
      },
    },
    async (req) => {
      const principal = req.principal!;
      const entries = await accounts.replaceAccountAllowlist(principal, req.body.entries, {
        address: req.ip,
        confirm: req.body.confirm === true,
      });
      app.credentialCache.revoke({ accountId: principal.accountId! });
      req.audit = { targetType: 'account', targetId: principal.accountId! };
      return { entries };
    },
  );
};

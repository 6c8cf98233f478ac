// /v1/admin/accounts: operators create, inspect, edit, suspend, resume and credit reseller accounts.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { pageSize } from '../../plugins/cursors.js';
import { IdParams, Page } from '../../schemas.js';
import { Transaction, transactionView } from '../billing/api.js';
import {
  Account,
  accountView,
  contactFromBody,
  AdminAccountPatch,
  Allowlist,
  AllowlistBody,
  CreateAccountBody,
  CreditBody,
  ListAccountsQuery,
  SuspendBody,
  User,
  userView,
} from './schemas.js';
import type { AccountService } from './service.js';
import { AccountNotActive, ContactEmailInUse, InvalidAllowlist, UsernameTaken, WeakPassword } from './errors.js';
import { CurrencyMismatch } from '../billing/api.js';
import { NotFound } from '../../errors.js';

/** R-API-2: a credit (or a new credit limit) changes what an insufficient_funds failure depended on. */
const CHANGES_FUNDS = { guardSubjects: [{ kind: 'balance' }], guardAccount: '/params/id' };

export const adminAccountRoutes: FastifyPluginAsyncTypebox<{ accounts: AccountService }> = async (
  app,
  { accounts },
) => {
  app.post(
    '/v1/admin/accounts',
    {
      schema: {
        operationId: 'adminCreateAccount',
        tags: ['admin'],
        summary: 'Create a reseller account with its first owner',
        body: CreateAccountBody,
        errors: [WeakPassword, UsernameTaken, ContactEmailInUse],
        response: {
          201: Type.Object({ account: Account, owner: User }, { additionalProperties: false }),
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const { account, owner } = await accounts.createAccount({
        name: b.name,
        ...contactFromBody(b),
        currency: b.currency,
        creditLimit: b.credit_limit ?? 0,
        owner: b.owner,
      });
      req.audit = { accountId: account.id, targetType: 'account', targetId: account.id };
      return reply.code(201).send({ account: accountView(account), owner: userView(owner) });
    },
  );

  app.get(
    '/v1/admin/accounts',
    {
      schema: {
        operationId: 'adminListAccounts',
        tags: ['admin'],
        summary: 'Reseller accounts',
        querystring: ListAccountsQuery,
        response: { 200: Page(Account) },
      },
    },
    async (req) => {
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      const after = cursor.position({ id: 'uuid' })?.id;
      const rows = await accounts.listAccounts({ limit, after, status: req.query.status });
      return cursor.page(rows, limit, (a) => ({ id: a.id }), accountView);
    },
  );

  app.get(
    '/v1/admin/accounts/:id',
    {
      schema: {
        operationId: 'adminGetAccount',
        tags: ['admin'],
        summary: 'One reseller account',
        params: IdParams,
        errors: [NotFound],
        response: { 200: Account },
      },
    },
    async (req) => accountView(await accounts.getAccount(req.params.id)),
  );

  app.patch(
    '/v1/admin/accounts/:id',
    {
      schema: {
        operationId: 'adminUpdateAccount',
        tags: ['admin'],
        summary: 'Edit an account (contact data, credit limit)',
        params: IdParams,
        body: AdminAccountPatch,
        errors: [NotFound, ContactEmailInUse],
        response: { 200: Account },
      },
      config: { ...CHANGES_FUNDS },
    },
    async (req) => {
      const b = req.body;
      const row = await accounts.updateAccount(req.params.id, {
        name: b.name,
        ...contactFromBody(b),
        creditLimit: b.credit_limit,
      });
      req.audit = { accountId: row.id, targetType: 'account', targetId: row.id };
      return accountView(row);
    },
  );

  for (const [action, to] of [
    ['suspend', 'suspended'],
    ['resume', 'active'],
  ] as const) {
    app.post(
      `/v1/admin/accounts/:id/${action}`,
      {
        schema: {
          operationId: action === 'suspend' ? 'adminSuspendAccount' : 'adminResumeAccount',
          tags: ['admin'],
          summary:
            action === 'suspend' ? 'Suspend an account: its calls answer 403 account_suspended' : 'Lift a suspension',
          params: IdParams,
          ...(action === 'suspend' ? { body: SuspendBody } : {}),
          errors: [NotFound, AccountNotActive],
          response: { 200: Account },
        },
      },
      async (req) => {
        const reason = action === 'suspend' ? (req.body as { reason: string }).reason : null;
        const row = await accounts.setAccountStatus(req.params.id, to, reason);
        app.credentialCache.revoke({ accountId: row.id });
        req.audit = { accountId: row.id, targetType: 'account', targetId: row.id };
        return accountView(row);
      },
    );
  }

  app.put(
    '/v1/admin/accounts/:id/ip-allowlist',
    {
      schema: {
        operationId: 'adminSetAccountIpAllowlist',
        tags: ['admin'],
        summary: 'Replace an account’s IP allowlist (R-SEC-4): the way back for an account that locked itself out',
        description:
          'The same list as PUT /v1/account/ip-allowlist (empty = any address); no lock-out check, since the operator calls from elsewhere. Takes effect at once on every credential of the account.',
        params: IdParams,
        body: Type.Object({ entries: AllowlistBody.properties.entries }, { additionalProperties: false }),
        errors: [NotFound, InvalidAllowlist],
        response: { 200: Allowlist },
      },
    },
    async (req) => {
      const entries = await accounts.setAccountAllowlist(req.params.id, req.body.entries);
      app.credentialCache.revoke({ accountId: req.params.id });
      req.audit = { accountId: req.params.id, targetType: 'account', targetId: req.params.id };
      return { entries };
    },
  );

  app.post(
    '/v1/admin/accounts/:id/credit',
    {
      schema: {
        operationId: 'adminCreditAccount',
        tags: ['admin'],
        summary: 'Add funds to an account (a ledger credit)',
        params: IdParams,
        body: CreditBody,
        errors: [NotFound, CurrencyMismatch],
        response: {
          201: Type.Object({ transaction: Transaction }, { additionalProperties: false }),
        },
      },
      config: { ...CHANGES_FUNDS },
    },
    async (req, reply) => {
      const entry = await accounts.creditAccount(req.params.id, {
        money: { amount: req.body.amount.amount, currency: req.body.amount.currency },
        reason: req.body.reason,
        reference: req.body.reference,
        createdBy: req.principal!.userId,
      });
      req.audit = { accountId: req.params.id, targetType: 'ledger_transaction', targetId: String(entry.id) };
      return reply.code(201).send({ transaction: transactionView(entry) });
    },
  );
};

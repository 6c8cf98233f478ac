// /v1/billing: the account's balance and ledger.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Page, PageQuery } from '../../schemas.js';
import { tenantOf } from '../accounts/api.js';
import { getBalance, listTransactions } from './ledger.js';
import { Balance, balanceView, Transaction, transactionView } from './schemas.js';
import { NotFound } from '../../errors.js';

export const billingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/billing/balance',
    {
      schema: {
        operationId: 'getBalance',
        tags: ['billing'],
        summary: 'Balance, credit limit, what is available to spend and the low-balance threshold',
        errors: [NotFound],
        response: { 200: Balance },
      },
    },
    async (req) => balanceView(await getBalance(app.db, tenantOf(req.principal))),
  );

  app.get(
    '/v1/billing/transactions',
    {
      schema: {
        operationId: 'listTransactions',
        tags: ['billing'],
        summary: 'Ledger entries, newest first',
        querystring: Type.Object(
          { ...PageQuery, type: Type.Optional(Type.Enum(['credit', 'charge', 'refund', 'fee'])) },
          { additionalProperties: false },
        ),
        errors: [NotFound],
        response: { 200: Page(Transaction) },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const cursor = app.listCursor(req);
      const rows = await listTransactions(app.db, tenantOf(req.principal), {
        limit: limit + 1,
        before: cursor.position({ id: 'id' })?.id,
        type: req.query.type,
      });
      return cursor.page(rows, limit, (t) => ({ id: t.id }), transactionView);
    },
  );
};

// /v1/domain-transfers (R-DOM-3): request with the auth code, approve or reject with the token
// e-mailed to the owner (public: the owner has no API credentials), resend it, cancel, list.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { pageSize } from '../../plugins/cursors.js';
import { Currency, IdParams, MoneyAmount, Page, PageQuery } from '../../schemas.js';
import { Transfer, TransferStatus, transferView as view } from './transfer-schemas.js';
import { tenantOf, type AccountReader } from '../accounts/api.js';
import { Handle, NAMED_BY_ORDER, strict } from './domain-schemas.js';
import type { TransferService } from './transfer-service.js';
import {
  AlreadyYours,
  ApprovalMailLimit,
  ApprovalMailTooSoon,
  DomainNotRegistered,
  InvalidAuthCode,
  OwnerEmailUnknown,
  TransferMailOff,
  TransferNotOpen,
  TransferPending,
  TransferProhibited,
} from './transfer-service.js';
import { DomainNotAvailable, TransferRefused } from './registry.js';
import { InsufficientFunds } from '../billing/api.js';
import { NotFound } from '../../errors.js';
import { PriceChanged } from './pricing.js';

const Token = Type.String({
  minLength: 20,
  maxLength: 100,
  description: 'The approval token from the approval e-mail the domain’s owner received',
});

export interface TransferRouteOptions {
  transfers: TransferService;
  accounts: AccountReader;
}

export const transferRoutes: FastifyPluginAsyncTypebox<TransferRouteOptions> = async (app, { transfers, accounts }) => {
  app.post(
    '/v1/domain-transfers',
    {
      schema: {
        operationId: 'requestDomainTransfer',
        tags: ['domains'],
        summary: 'Transfer a domain in: needs its auth code, then the owner’s approval',
        description:
          'R-DOM-3. An approval token is e-mailed to the domain’s owner of record (approval_sent_to shows where, masked; approval_mailed_at when it left), never to you: the owner approves (or rejects) with POST /v1/domain-transfers/{id}/approve (or /reject). Without approval by expires_at the transfer expires. The transfer is charged (one year added to the expiry) when it completes. 503 transfer_approval_mail_off when the server has no e-mail (or no PUBLIC_URL); 409 approval_mail_too_soon or approval_mail_limit when the name’s owner was mailed under 10 minutes ago or 5 times today; 409 owner_email_unknown when the registry has no address for the owner.',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 253 }),
            auth_code: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 255,
                description: 'Required where the TLD’s auth_code_required is true',
              }),
            ),
            contacts: Type.Object(
              {
                owner: Handle,
                admin: Type.Optional(Handle),
                tech: Type.Optional(Handle),
                billing: Type.Optional(Handle),
              },
              strict,
            ),
            nameservers: Type.Optional(
              Type.Array(Type.String({ maxLength: 253 }), {
                maxItems: 13,
                description: 'Default: keep the current ones',
              }),
            ),
            max_price: Type.Optional(Type.Object({ amount: MoneyAmount({ minimum: 0 }), currency: Currency }, strict)),
          },
          strict,
        ),
        errors: [
          NotFound,
          DomainNotRegistered,
          AlreadyYours,
          TransferProhibited,
          InvalidAuthCode,
          TransferPending,
          PriceChanged,
          OwnerEmailUnknown,
          ApprovalMailTooSoon,
          ApprovalMailLimit,
          TransferMailOff,
        ],
        response: {
          201: Type.Object({ transfer: Transfer }, strict),
        },
      },
      config: { guardSubjects: NAMED_BY_ORDER },
    },
    async (req, reply) => {
      const account = await accounts.getAccount(tenantOf(req.principal));
      const b = req.body;
      const transfer = await transfers.requestTransfer(account, {
        name: b.name,
        authCode: b.auth_code,
        contacts: b.contacts,
        nameservers: b.nameservers,
        maxPrice: b.max_price,
      });
      req.audit = { targetType: 'domain_transfer', targetId: transfer.id, details: { name: transfer.name } };
      return reply.code(201).send({ transfer: view(account.id)(transfer) });
    },
  );

  app.get(
    '/v1/domain-transfers',
    {
      schema: {
        operationId: 'listDomainTransfers',
        tags: ['domains'],
        summary: 'Transfers of your domains: in (you gain) and out (you lose), newest first',
        querystring: Type.Object(
          { ...PageQuery, status: Type.Optional(TransferStatus), direction: Type.Optional(Type.Enum(['in', 'out'])) },
          strict,
        ),
        errors: [NotFound],
        response: { 200: Page(Transfer) },
      },
    },
    async (req) => {
      const me = tenantOf(req.principal);
      const limit = pageSize(req.query);
      const cursor = app.listCursor(req);
      // The cursor carries the last row's position itself: no row is looked up by cursor.
      const after = cursor.position({ t: 'time', id: 'uuid' });
      const rows = await transfers.listTransfers(me, {
        direction: req.query.direction,
        status: req.query.status,
        after,
        limit,
      });
      return cursor.page(rows, limit, (t) => ({ t: t.requestedAt, id: t.id }), view(me));
    },
  );

  app.get(
    '/v1/domain-transfers/:id',
    {
      schema: {
        operationId: 'getDomainTransfer',
        tags: ['domains'],
        summary: 'One transfer (in or out)',
        params: IdParams,
        errors: [NotFound],
        response: { 200: Transfer },
      },
    },
    async (req) => {
      const me = tenantOf(req.principal);
      return view(me)(await transfers.getTransfer(me, req.params.id));
    },
  );

  app.post(
    '/v1/domain-transfers/:id/cancel',
    {
      schema: {
        operationId: 'cancelDomainTransfer',
        tags: ['domains'],
        summary: 'Cancel a transfer that has not completed',
        params: IdParams,
        errors: [NotFound, TransferNotOpen],
        response: { 200: Transfer },
      },
    },
    async (req) => {
      const me = tenantOf(req.principal);
      req.audit = { targetType: 'domain_transfer', targetId: req.params.id };
      return view(me)(await transfers.cancelTransfer(me, req.params.id));
    },
  );

  app.post(
    '/v1/domain-transfers/:id/resend-approval',
    {
      schema: {
        operationId: 'resendDomainTransferApproval',
        tags: ['domains'],
        summary: 'E-mail the owner a new approval request (the earlier token stops working)',
        description:
          'R-DOM-3. To the owner of record as the registry has it now. 409 approval_mail_too_soon within 10 minutes of the last one (retry_after says when), approval_mail_limit after 5 e-mails for the transfer.',
        params: IdParams,
        errors: [
          NotFound,
          TransferNotOpen,
          ApprovalMailTooSoon,
          ApprovalMailLimit,
          DomainNotRegistered,
          OwnerEmailUnknown,
          TransferMailOff,
        ],
        response: { 200: Transfer },
      },
    },
    async (req) => {
      const me = tenantOf(req.principal);
      req.audit = { targetType: 'domain_transfer', targetId: req.params.id };
      return view(me)(await transfers.resendApproval(me, req.params.id));
    },
  );

  // The owner's side: no API credentials, the approval token instead. Rate limited per address. The
  // audit rows are the operators' only: the owner's address is not the gaining reseller's to see.
  app.post(
    '/v1/domain-transfers/:id/approve',
    {
      schema: {
        operationId: 'approveDomainTransfer',
        tags: ['domains'],
        summary: 'The owner approves the transfer with the approval token (no credentials)',
        description:
          'Completes the transfer at once when the gaining reseller can pay; otherwise it stays approved (see note) and completes when it can, until expires_at.',
        params: IdParams,
        body: Type.Object({ token: Token }, strict),
        errors: [
          NotFound,
          TransferNotOpen,
          DomainNotRegistered,
          TransferProhibited,
          InsufficientFunds,
          DomainNotAvailable,
          TransferRefused,
        ],
        response: { 200: Transfer },
      },
    },
    async (req) => {
      req.audit = { targetType: 'domain_transfer', targetId: req.params.id };
      const t = await transfers.approveTransfer(req.params.id, req.body.token);
      return view(null)(t);
    },
  );

  app.post(
    '/v1/domain-transfers/:id/reject',
    {
      schema: {
        operationId: 'rejectDomainTransfer',
        tags: ['domains'],
        summary: 'The owner rejects the transfer with the approval token (no credentials)',
        params: IdParams,
        body: Type.Object({ token: Token, reason: Type.Optional(Type.String({ maxLength: 500 })) }, strict),
        errors: [NotFound, TransferNotOpen],
        response: { 200: Transfer },
      },
    },
    async (req) => {
      req.audit = { targetType: 'domain_transfer', targetId: req.params.id };
      const t = await transfers.rejectTransfer(req.params.id, req.body.token, req.body.reason);
      return view(null)(t);
    },
  );
};

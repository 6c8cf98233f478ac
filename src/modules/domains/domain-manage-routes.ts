// /v1/domains/{name}: update, renew, restore, lock, unlock, auth code, delete (issue 5 item 5).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { Currency, Money, MoneyAmount } from '../../schemas.js';
import { tenantOf, type AccountReader } from '../accounts/api.js';
import { resellerDataWarnings } from './contact-service.js';
import type { DomainManageService } from './domain-manage-service.js';
import {
  ConfirmBody,
  ConfirmQuery,
  Domain,
  domainView,
  Handle,
  NameParams,
  nameFromParam,
  strict,
  Warning,
} from './domain-schemas.js';
import { DomainStatusConflict, ExpiryMismatch } from './domain-manage-service.js';
import { InsufficientFunds } from '../billing/api.js';
import { NotFound } from '../../errors.js';
import { PriceChanged } from './pricing.js';
import { ConfirmationRequired, DomainLocked } from './domain-manage-service.js';

const MaxPrice = Type.Object(
  { amount: MoneyAmount({ minimum: 0 }), currency: Currency },
  { ...strict, description: 'Refuse (409 price_changed) if the charge would be higher' },
);
const Charged = Type.Object({ domain: Domain, charged: Money }, strict);
const NullableHandle = Type.Union([Handle, Type.Null()]);
const AuthCode = Type.Object(
  {
    auth_code: Type.String({
      description: 'The transfer auth code (EPP authInfo); give it only to the domain’s owner',
    }),
  },
  strict,
);

export interface DomainManageRouteOptions {
  manage: DomainManageService;
  accounts: AccountReader;
}

export const domainManageRoutes: FastifyPluginAsyncTypebox<DomainManageRouteOptions> = async (
  app,
  { manage, accounts },
) => {
  const caller = (req: FastifyRequest) => accounts.getAccount(tenantOf(req.principal));

  app.patch(
    '/v1/domains/:name',
    {
      schema: {
        operationId: 'updateDomain',
        tags: ['domains'],
        summary: 'Change name servers, contacts or autorenew',
        description:
          'Only the fields sent change. Contacts: a role set to null is removed (owner cannot be). The TLD’s contact rules apply to the result (R-DOM-1).',
        params: NameParams,
        body: Type.Object(
          {
            autorenew: Type.Optional(Type.Boolean()),
            nameservers: Type.Optional(
              Type.Array(Type.String({ maxLength: 253 }), { maxItems: 13, description: 'None, or 2 to 13' }),
            ),
            contacts: Type.Optional(
              Type.Object(
                {
                  owner: Type.Optional(Handle),
                  admin: Type.Optional(NullableHandle),
                  tech: Type.Optional(NullableHandle),
                  billing: Type.Optional(NullableHandle),
                },
                { ...strict, minProperties: 1 },
              ),
            ),
          },
          { ...strict, minProperties: 1 },
        ),
        errors: [NotFound, DomainStatusConflict],
        response: {
          200: Type.Object({ domain: Domain, warnings: Type.Array(Warning) }, strict),
        },
      },
      config: {
        guardSubjects: [
          { kind: 'contacts', at: '/body/contacts/*' },
          { kind: 'hosts', at: '/body/nameservers/*' },
        ],
      },
    },
    async (req) => {
      const account = await caller(req);
      const name = nameFromParam(req.params.name);
      req.audit = { targetType: 'domain', targetId: name };
      const r = await manage.updateDomain(account, name, req.body);
      return { domain: domainView(r.domain), warnings: r.owner ? resellerDataWarnings(r.owner, account) : [] };
    },
  );

  app.post(
    '/v1/domains/:name/renew',
    {
      schema: {
        operationId: 'renewDomain',
        tags: ['domains'],
        summary: 'Renew: extends from the current expiry, charged to the balance',
        description:
          'Allowed while active or in auto-renew grace, for the TLD’s periods, up to its maximum registration period ahead. Send current_expires_at (as EPP does) so a retried renewal is never applied twice, or an Idempotency-Key.',
        params: NameParams,
        body: Type.Object(
          {
            period_years: Type.Optional(
              Type.Integer({ minimum: 1, maximum: 10, description: 'Default: the TLD minimum' }),
            ),
            current_expires_at: Type.Optional(
              Type.String({
                format: 'date-time',
                description: '409 expiry_mismatch if the domain’s expiry is not this',
              }),
            ),
            max_price: Type.Optional(MaxPrice),
          },
          strict,
        ),
        errors: [NotFound, DomainStatusConflict, ExpiryMismatch, PriceChanged, InsufficientFunds],
        response: { 200: Charged },
      },
    },
    async (req) => {
      const account = await caller(req);
      const name = nameFromParam(req.params.name);
      req.audit = { targetType: 'domain', targetId: name };
      const b = req.body;
      const r = await manage.renewDomain(account, name, {
        years: b.period_years,
        currentExpiresAt: b.current_expires_at ? new Date(b.current_expires_at) : undefined,
        maxPrice: b.max_price,
      });
      return { domain: domainView(r.domain), charged: r.charged };
    },
  );

  app.post(
    '/v1/domains/:name/restore',
    {
      schema: {
        operationId: 'restoreDomain',
        tags: ['domains'],
        summary: 'Restore a domain from redemption: the restore fee, plus renewal if it has expired',
        params: NameParams,
        body: Type.Object({ max_price: Type.Optional(MaxPrice) }, strict),
        errors: [NotFound, DomainStatusConflict, PriceChanged, InsufficientFunds],
        response: { 200: Charged },
      },
    },
    async (req) => {
      const account = await caller(req);
      const name = nameFromParam(req.params.name);
      req.audit = { targetType: 'domain', targetId: name };
      const r = await manage.restoreDomain(account, name, { maxPrice: req.body.max_price });
      return { domain: domainView(r.domain), charged: r.charged };
    },
  );

  for (const [path, locked, operationId, summary] of [
    ['/v1/domains/:name/lock', true, 'lockDomain', 'Lock against transfer out and deletion (the default)'],
    ['/v1/domains/:name/unlock', false, 'unlockDomain', 'Unlock, to transfer the domain out or delete it'],
  ] as const) {
    app.post(
      path,
      {
        schema: {
          operationId,
          tags: ['domains'],
          summary,
          params: NameParams,
          errors: [NotFound, DomainStatusConflict],
          response: { 200: Domain },
        },
      },
      async (req) => {
        const account = await caller(req);
        const name = nameFromParam(req.params.name);
        req.audit = { targetType: 'domain', targetId: name };
        return domainView(await manage.setLock(account, name, locked));
      },
    );
  }

  app.get(
    '/v1/domains/:name/auth-code',
    {
      schema: {
        operationId: 'getDomainAuthCode',
        tags: ['domains'],
        summary: 'The auth code, for a transfer out',
        params: NameParams,
        errors: [NotFound, DomainStatusConflict],
        response: { 200: AuthCode },
      },
      // A GET that hands out a secret: audited (its domains:write permission is in the operation table).
      config: { audit: true, sensitive: true },
    },
    async (req) => {
      const name = nameFromParam(req.params.name);
      req.audit = { targetType: 'domain', targetId: name };
      return { auth_code: await manage.readAuthCode(await caller(req), name) };
    },
  );

  app.post(
    '/v1/domains/:name/auth-code/reset',
    {
      schema: {
        operationId: 'resetDomainAuthCode',
        tags: ['domains'],
        summary: 'A new auth code; the old one stops working',
        params: NameParams,
        errors: [NotFound, DomainStatusConflict],
        response: { 200: AuthCode },
      },
      config: { sensitive: true },
    },
    async (req) => {
      const name = nameFromParam(req.params.name);
      req.audit = { targetType: 'domain', targetId: name };
      return { auth_code: await manage.resetAuthCode(await caller(req), name) };
    },
  );

  app.delete(
    '/v1/domains/:name',
    {
      schema: {
        operationId: 'deleteDomain',
        tags: ['domains'],
        summary: 'Delete: needs ?confirm=true; refunded within the add grace period, otherwise into redemption',
        description:
          'Without confirm=true (in the query; a JSON body {"confirm": true} is accepted too, for older clients) the answer is 422 confirmation_required saying what would happen (effect, refund, redemption_ends_at). A locked domain answers 409 domain_locked. Within the TLD’s add grace period the registration is refunded and the name released at once; later the domain enters redemption, restorable with POST /v1/domains/{name}/restore until redemption_ends_at.',
        params: NameParams,
        querystring: ConfirmQuery,
        body: Type.Optional(ConfirmBody),
        errors: [NotFound, DomainStatusConflict, ConfirmationRequired, DomainLocked],
        response: {
          200: Type.Object({ domain: Domain, refunded: Type.Union([Money, Type.Null()]) }, strict),
        },
      },
    },
    async (req) => {
      const account = await caller(req);
      const name = nameFromParam(req.params.name);
      req.audit = { targetType: 'domain', targetId: name };
      const r = await manage.deleteDomain(account, name, req.query.confirm === true || req.body?.confirm === true);
      return { domain: domainView(r.domain), refunded: r.refunded };
    },
  );
};

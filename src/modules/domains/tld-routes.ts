// /v1/tlds (resellers: the rules and their prices) and /v1/admin/tlds (operators edit them).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { TldService } from './tld-service.js';
import { Tld, TldListsBody, TldRulesBody, tldView } from './tld-schemas.js';
import { NotFound } from '../../errors.js';

const TldParams = Type.Object(
  { tld: Type.String({ pattern: '^[a-z0-9-]{2,63}$', description: 'A-label, without the dot' }) },
  { additionalProperties: false },
);
const TldList = Type.Object({ data: Type.Array(Tld) }, { additionalProperties: false });

export const tldRoutes: FastifyPluginAsyncTypebox<{ tlds: TldService }> = async (app, { tlds }) => {
  app.get(
    '/v1/tlds',
    {
      schema: {
        operationId: 'listTlds',
        tags: ['domains'],
        summary: 'The TLD catalogue: syntax, periods, contacts, lifecycle, prices, reserved and premium names',
        errors: [NotFound],
        response: { 200: TldList },
      },
    },
    async (req) => ({
      data: (await tlds.loadTlds({ currency: await tlds.currencyOf(req.principal!.accountId) }))
        .filter((e) => e.rules.enabled)
        .map(tldView),
    }),
  );

  app.get(
    '/v1/tlds/:tld',
    {
      schema: {
        operationId: 'getTld',
        tags: ['domains'],
        summary: "One TLD's rules and prices",
        params: TldParams,
        errors: [NotFound],
        response: { 200: Tld },
      },
    },
    async (req) => {
      const [entry] = await tlds.loadTlds({
        tld: req.params.tld,
        currency: await tlds.currencyOf(req.principal!.accountId),
      });
      return tldView(entry!);
    },
  );

  app.get(
    '/v1/admin/tlds',
    {
      schema: {
        operationId: 'adminListTlds',
        tags: ['admin'],
        summary: 'Every TLD, enabled or not, with prices in every currency',
        response: { 200: TldList },
      },
    },
    async () => ({ data: (await tlds.loadTlds()).map(tldView) }),
  );

  app.put(
    '/v1/admin/tlds/:tld',
    {
      schema: {
        operationId: 'adminSetTld',
        tags: ['admin'],
        summary: "Create or replace a TLD's rules",
        params: TldParams,
        body: TldRulesBody,
        response: { 200: Tld },
      },
    },
    async (req) => {
      const b = req.body;
      const entry = await tlds.setTldRules(req.params.tld, {
        enabled: b.enabled,
        minLabelLength: b.min_label_length,
        maxLabelLength: b.max_label_length,
        idnScripts: b.idn_scripts,
        minPeriodYears: b.min_period_years,
        maxPeriodYears: b.max_period_years,
        authCodeRequired: b.auth_code_required,
        requiredContacts: b.required_contacts,
        ownerCountries: b.owner_countries,
        addGraceDays: b.add_grace_days,
        autoRenewGraceDays: b.auto_renew_grace_days,
        redemptionDays: b.redemption_days,
        pendingDeleteDays: b.pending_delete_days,
        transferApprovalDays: b.transfer_approval_days,
      });
      req.audit = { targetType: 'tld', targetId: req.params.tld };
      return tldView(entry);
    },
  );

  app.put(
    '/v1/admin/tlds/:tld/lists',
    {
      schema: {
        operationId: 'adminSetTldLists',
        tags: ['admin'],
        summary: "Replace a TLD's prices, reserved names or premium names (each list given is replaced whole)",
        params: TldParams,
        body: TldListsBody,
        errors: [NotFound],
        response: { 200: Tld },
      },
    },
    async (req) => {
      const entry = await tlds.setTldLists(req.params.tld, {
        prices: req.body.prices,
        reserved: req.body.reserved_names,
        premium: req.body.premium_names?.map((p) => ({
          label: p.label,
          currency: p.currency,
          registerAmount: p.register_amount,
          renewAmount: p.renew_amount,
        })),
      });
      req.audit = { targetType: 'tld', targetId: req.params.tld };
      return tldView(entry);
    },
  );
};

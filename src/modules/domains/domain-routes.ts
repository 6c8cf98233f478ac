// /v1/domains: availability checks (R-DOM-2, R-DOM-4).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Money } from '../../schemas.js';
import { getAccount, tenantOf } from '../accounts/service.js';
import { checkNames } from './check-service.js';
import { builtInRegistry, type RegistryBackend } from './registry.js';

const strict = { additionalProperties: false } as const;
const CheckBody = Type.Object({ names: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 50 }) }, strict);
const CheckResult = Type.Object(
  {
    input: Type.String(),
    name: Type.Union([Type.String(), Type.Null()], { description: 'A-label form, as registered and billed' }),
    unicode: Type.Union([Type.String(), Type.Null()]),
    status: Type.Enum(['free', 'taken', 'reserved', 'premium', 'invalid']),
    reason: Type.Union([Type.String(), Type.Null()]),
    quote: Type.Union([
      Type.Object({ id: Type.String({ format: 'uuid' }), price: Money, per: Type.Literal('year'), expires_at: Type.String({ format: 'date-time' }) }, strict),
      Type.Null(),
    ]),
  },
  strict,
);

export interface DomainRouteOptions {
  registry?: RegistryBackend;
  quoteTtlS: number;
  dropCatchNamesPerMinute: number;
}

export const domainRoutes: FastifyPluginAsyncTypebox<DomainRouteOptions> = async (app, opts) => {
  const registry = opts.registry ?? builtInRegistry;
  // R-DOM-4: many distinct names at a high rate is the drop-catch pattern; one incident an hour.
  const names = new Map<string, { minute: number; n: number }>();

  app.post(
    '/v1/domains/check',
    {
      schema: {
        operationId: 'checkDomains',
        tags: ['domains'],
        summary: 'Check up to 50 names: free, taken, reserved, premium or invalid, with a quote',
        description:
          'A registration needs a check of the same name by the same account that found it free (or premium) within the last hour (R-DOM-2). The same account may check the same name once per 5 seconds (429 with Retry-After, R-DOM-4).',
        body: CheckBody,
        response: { 200: Type.Object({ results: Type.Array(CheckResult) }, strict) },
      },
      config: { permission: 'domains:read' },
    },
    async (req) => {
      const account = await getAccount(app.db, tenantOf(req.principal));
      const results = await checkNames({ db: app.db, registry, dropCatch: app.dropCatch, quoteTtlMs: opts.quoteTtlS * 1000 }, { id: account.id, currency: account.currency }, req.body.names);
      const minute = Math.floor(Date.now() / 60_000);
      const c = names.get(account.id);
      const n = (c && c.minute === minute ? c.n : 0) + results.filter((r) => r.name).length;
      names.set(account.id, { minute, n });
      if (names.size > 10_000) names.clear();
      if (n >= opts.dropCatchNamesPerMinute && (!c || c.n < opts.dropCatchNamesPerMinute || c.minute !== minute)) {
        await app.incidents.record({
          accountId: account.id,
          type: 'drop_catch_pattern',
          dedupeKey: new Date(minute * 60_000).toISOString().slice(0, 13),
          evidence: { names_in_minute: n, minute: new Date(minute * 60_000).toISOString(), request_id: req.id },
        });
      }
      return { results };
    },
  );
};

// The hosting area (R-PLAN, R-ADD): plans and add-on products (operator-edited), reseller
// subscriptions on the hosting backend behind backend.ts, their customers and usage, add-ons, and the
// renewal job.
import type { FastifyInstance } from 'fastify';
import { createAccountReader } from '../accounts/api.js';
import type { AreaOptions } from '../area.js';
import { adminHostingRoutes } from './admin-routes.js';
import { createAddonService } from './addons.js';
import { builtInBackend } from './backend.js';
import { createCatalogue } from './catalogue.js';
import { hostingRoutes } from './routes.js';
import { createSubscriptionService } from './subscriptions.js';

export default async function hostingArea(app: FastifyInstance, opts: AreaOptions): Promise<void> {
  const db = app.db;
  const now = opts.now ?? (() => new Date());
  const quotes = app.secretBox.signer('hosting-quotes');
  const quoteTtlS = opts.config.hosting.quoteTtlS;
  const accounts = createAccountReader({ db });
  const currencyOf = async (accountId: string) => (await accounts.getAccount(accountId)).currency;
  const subscriptions = createSubscriptionService({
    db,
    backend: builtInBackend,
    quotes,
    quoteTtlS,
    now,
    log: app.log,
  });
  const addons = createAddonService({
    db,
    backend: builtInBackend,
    quotes,
    quoteTtlS,
    now,
    seal: app.secretBox.seal,
    open: app.secretBox.open,
    currencyOf,
  });
  const catalogue = createCatalogue(db, builtInBackend, now);
  // Renewals from a day before the term ends, expiry at its end: hourly is soon enough.
  app.jobs.register('hosting-renewals', (at) => subscriptions.runRenewals(at, currencyOf), { every: 3_600_000 });

  await app.register(hostingRoutes, { subscriptions, addons, catalogue });
  await app.register(adminHostingRoutes, { catalogue, subscriptions, addons });
}

// The licenses area (R-LIC): servers, the license catalogue and vendor policies, Plesk licenses on
// the vendor behind vendor.ts, their address reports and the multi-use job, and spam-filter domains
// with their mailbox overage (R-LIC-4).
import type { FastifyInstance } from 'fastify';
import { createAccountReader } from '../accounts/api.js';
import type { AreaOptions } from '../area.js';
import { createLicenseAdmin } from './admin-service.js';
import { adminLicenseRoutes } from './admin-routes.js';
import { createLicenseService } from './license-service.js';
import { licenseRoutes } from './license-routes.js';
import { runMultiUse, type MultiUseDeps } from './multi-use.js';
import { createServerService } from './server-service.js';
import { serverRoutes } from './server-routes.js';
import { createSpamFilter } from './spam-filter.js';
import { spamFilterRoutes } from './spam-filter-routes.js';
import { checkInAuditSource, listPolicies, listProducts } from './store.js';
import { builtInVendor } from './vendor.js';

export default async function licensesArea(app: FastifyInstance, opts: AreaOptions): Promise<void> {
  const db = app.db;
  const settings = opts.config.licenses;
  const now = opts.now ?? (() => new Date());
  const vendor = builtInVendor;
  const accounts = createAccountReader({ db });
  const currencyOf = async (accountId: string) => (await accounts.getAccount(accountId)).currency;
  const licenses = createLicenseService({
    db,
    currencyOf,
    vendor,
    settings,
    seal: app.secretBox.seal,
    open: app.secretBox.open,
    quotes: app.secretBox.signer('license-quotes'),
    now,
  });
  const multiUse: MultiUseDeps = {
    db,
    vendor,
    settings,
    log: app.log,
    currencyOf,
  };
  const admin = createLicenseAdmin({ ...multiUse, now });
  // A check-in's report is its own audit record (R-SEC-7): the audit trail reads it from there.
  app.auditSources.push(checkInAuditSource);
  // R-LIC-2: hourly is soon enough for a ladder counted in days; tests run it at injected times.
  app.jobs.register('license-multi-use', (at) => runMultiUse(multiUse, at), { every: 3_600_000 });
  // Licenses past their expiry: renewed (autorenew) or terminated.
  app.jobs.register('license-renewals', (at) => licenses.runRenewals(at), { every: 3_600_000 });

  await app.register(serverRoutes, { servers: createServerService({ db, now }) });
  await app.register(licenseRoutes, {
    licenses,
    catalogue: { products: () => listProducts(db), policies: () => listPolicies(db) },
  });
  await app.register(adminLicenseRoutes, { licenses, admin });
  const spam = createSpamFilter({ db, now, currencyOf, log: app.log });
  // R-LIC-4: overage is charged once a monthly period has ended; hourly is soon enough.
  app.jobs.register('spam-filter-overage', (at) => spam.chargeEndedPeriods(at), { every: 3_600_000 });
  await app.register(spamFilterRoutes, { spam });
}

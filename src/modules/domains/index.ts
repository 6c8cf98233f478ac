// The domains area: the TLD catalogue, contacts, checks and registrations, management, transfers
// and abuse complaints. Builds the catalogue (refreshed on a timer until close), picks the registry
// backend, builds its services, registers its routes and its jobs.
import type { FastifyInstance } from 'fastify';
import { sweepExpiredRows } from '../../db/sweep.js';
import { createAccountReader } from '../accounts/api.js';
import type { AreaOptions } from '../area.js';
import { abuseRoutes } from './abuse-routes.js';
import { createAbuseService, escalateOverdueComplaints } from './abuse-service.js';
import { contactRoutes } from './contact-routes.js';
import { createContactService } from './contact-service.js';
import { domainManageRoutes } from './domain-manage-routes.js';
import { createDomainManageService } from './domain-manage-service.js';
import { domainRoutes } from './domain-routes.js';
import { createDomainService } from './domain-service.js';
import { deleteStaleChecks } from './domain-store.js';
import { runLifecycle, sendExpiryNotices } from './lifecycle.js';
import { builtInRegistry } from './registry.js';
import { tldRoutes } from './tld-routes.js';
import { createTldService, TldCatalogue } from './tld-service.js';
import { transferRoutes } from './transfer-routes.js';
import { createTransferService, runTransferJob, type TransferDeps } from './transfer-service.js';

export default async function domainsArea(app: FastifyInstance, opts: AreaOptions): Promise<void> {
  const { config } = opts;
  const settings = config.domains;
  const db = app.db;
  // The registry backend: the built-in one (state in our database) unless another (EPP) is given.
  const registry = opts.registry ?? builtInRegistry;
  const accounts = createAccountReader({ db });
  const recordIncident = app.incidents.record;

  const catalogue = new TldCatalogue(db);
  await catalogue.refresh();
  catalogue.start(config.fairUseRefreshMs, (err) =>
    app.log.error({ err }, 'could not refresh the TLD catalogue; keeping the last one'),
  );
  app.addHook('onClose', async () => catalogue.stop());

  const tlds = createTldService({ db, catalogue, accounts });
  const contacts = createContactService({ db });
  const domains = createDomainService({
    db,
    registry,
    catalogue,
    dropCatch: app.dropCatch,
    quotes: app.secretBox.signer('domain-quotes'),
    seal: app.secretBox.seal,
    checkWindowS: settings.checkWindowS,
    quoteTtlS: settings.quoteTtlS,
    dropCatchNamesPerMinute: settings.dropCatchNamesPerMinute,
    recordIncident,
  });
  const manage = createDomainManageService({
    db,
    catalogue,
    registry,
    seal: app.secretBox.seal,
    open: app.secretBox.open,
  });
  const transferDeps: TransferDeps = {
    db,
    catalogue,
    registry,
    seal: app.secretBox.seal,
    approvalHours: settings.transferApprovalHours,
    log: app.log,
  };
  const transfers = createTransferService(transferDeps);
  const abuse = createAbuseService({ db, responseHours: settings.abuseResponseHours, recordIncident });

  // Checks older than the R-DOM-2 window serve nothing any more.
  sweepExpiredRows(app, 'domain-checks', (now) => deleteStaleChecks(db, settings.checkWindowS, now));
  app.jobs.register('domain-lifecycle', async (now) => {
    const c = await runLifecycle({ db, catalogue, registry, log: app.log }, now);
    return Object.values<number>(c).reduce((a, b) => a + b, 0);
  });
  // domain.expiring, 30 and 7 days ahead: hourly is soon enough for a notice counted in days.
  app.jobs.register(
    'domain-expiry-notices',
    (now) => sendExpiryNotices({ db, catalogue, registry, log: app.log }, now),
    {
      every: 3_600_000,
    },
  );
  app.jobs.register('domain-transfers', (now) => runTransferJob(transferDeps, now));
  app.jobs.register('abuse-escalation', (now) => escalateOverdueComplaints(db, recordIncident, now));

  await app.register(tldRoutes, { tlds });
  await app.register(contactRoutes, { contacts, accounts });
  await app.register(domainRoutes, { domains });
  await app.register(domainManageRoutes, { manage, accounts });
  await app.register(transferRoutes, { transfers, accounts });
  await app.register(abuseRoutes, { abuse });
}

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
import { APPROVAL_MAIL_JOB, APPROVAL_MAIL_JOB_OPTIONS, sendApprovalMail } from './transfer-approval-mail.js';
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
  // R-DOM-3: the approval request goes to the owner by e-mail; with e-mail off (or no PUBLIC_URL
  // to answer at), transfers are refused.
  const mailer = app.mailer;
  const transferDeps: TransferDeps = {
    db,
    catalogue,
    registry,
    seal: app.secretBox.seal,
    // The mail tells the owner where to answer: without PUBLIC_URL it could not.
    queueApprovalMail:
      mailer && config.publicUrl ? (tx, payload) => app.jobs.enqueue(APPROVAL_MAIL_JOB, payload, { tx }) : undefined,
    approvalHours: settings.transferApprovalHours,
    log: app.log,
  };
  if (mailer === null) {
    // Mail off: approval e-mails queued while it was on are dropped (the reseller may resend once
    // it is back), not retried into the dead letters.
    app.jobs.register(
      APPROVAL_MAIL_JOB,
      async () => {
        app.log.warn({ job: APPROVAL_MAIL_JOB }, 'e-mail is off (SMTP_URL unset): approval e-mail dropped');
        return 0;
      },
      APPROVAL_MAIL_JOB_OPTIONS,
    );
  } else {
    const mailDeps = {
      db,
      transport: mailer,
      open: app.secretBox.open,
      publicUrl: config.publicUrl,
      accountName: (id: string) =>
        accounts.getAccount(id).then(
          (a) => a.name,
          () => undefined,
        ),
    };
    app.jobs.register(
      APPROVAL_MAIL_JOB,
      (now, payload) => sendApprovalMail(mailDeps, payload, now),
      APPROVAL_MAIL_JOB_OPTIONS,
    );
  }
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

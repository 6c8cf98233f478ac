// Domain test helpers: a funded reseller with a contact, checks, registrations, the balance, and the
// owner's approval e-mails of transfers.
import { sql } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { queryRows } from '../../src/db/client.js';
import { APPROVAL_MAIL_JOB } from '../../src/modules/domains/transfer-approval-mail.js';
import { buildTestApp } from './app.js';
import { smtpReceiver, type ReceivedMail, type SmtpReceiver } from './smtp.js';
import { bearer, operator, reseller, type Reseller } from './fixtures.js';

export const CUSTOMER = {
  name: 'Jana Nováková',
  email: 'jana@pekarna.test',
  phone: '+420.601234567',
  country: 'CZ',
  street: ['Vinohradská 12'],
  city: 'Praha',
  postal_code: '120 00',
};

export async function credit(app: App, opToken: string, accountId: string, amount: number, currency = 'EUR') {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/admin/accounts/${accountId}/credit`,
    headers: bearer(opToken),
    payload: { amount: { amount, currency }, reason: 'funds' },
  });
  if (res.statusCode >= 300) throw new Error(`credit: ${res.statusCode} ${res.body}`);
}

export async function fundedReseller(
  app: App,
  opToken: string,
  funds = 100_000,
): Promise<Reseller & { contact: string }> {
  const r = await reseller(app, opToken);
  if (funds) await credit(app, opToken, r.accountId, funds);
  const res = await app.inject({ method: 'POST', url: '/v1/contacts', headers: bearer(r.token), payload: CUSTOMER });
  if (res.statusCode !== 201) throw new Error(`contact: ${res.statusCode} ${res.body}`);
  return { ...r, contact: res.json().handle as string };
}

export async function domainSetup(app: App, funds = 100_000) {
  const op = await operator(app);
  const r = await fundedReseller(app, op.token, funds);
  return { op, r };
}

export const checkNames = (app: App, r: Reseller, ...names: string[]) =>
  app.inject({ method: 'POST', url: '/v1/domains/check', headers: bearer(r.token), payload: { names } });

/** Checks and registers `name` (a .com, .net, .org or .io: owner, admin and tech are the one contact). */
export async function registered(
  app: App,
  r: Reseller & { contact: string },
  name: string,
  extra: Record<string, unknown> = {},
) {
  await checkNames(app, r, name);
  const c = r.contact;
  const res = await app.inject({
    method: 'POST',
    url: '/v1/domains',
    headers: bearer(r.token),
    payload: { name, contacts: { owner: c, admin: c, tech: c }, nameservers: [], ...extra },
  });
  if (res.statusCode !== 201) throw new Error(`register ${name}: ${res.statusCode} ${res.body}`);
  return res.json().domain as Record<string, unknown> & { name: string; expires_at: string };
}

export const balanceOf = async (app: App, r: Reseller) =>
  (await app.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(r.token) })).json().balance
    .amount as number;

/**
 * R-DOM-3: the approval e-mails queued so far, sent as the worker would (each job once, then gone
 * from the queue), to the app's SMTP receiver; the approval token in the latest one for the transfer.
 */
export async function approvalTokenFor(app: App, transferId: string): Promise<string> {
  await sendApprovalMails(app);
  const mail = approvalMailsTo(app, transferId).at(-1);
  const token = mail && /^Approval token: (rat_\S+)$/m.exec(mail.text)?.[1];
  if (!token) throw new Error(`no approval e-mail for transfer ${transferId}`);
  return token;
}

/** Runs and removes the queued approval-mail jobs; how many e-mails left. */
export async function sendApprovalMails(app: App, now = new Date()): Promise<number> {
  const rows = await queryRows<{ data: unknown }>(
    app.db,
    sql`delete from pgboss.job where name = 'app-jobs' and data->>'job' = ${APPROVAL_MAIL_JOB} returning data`,
  );
  let sent = 0;
  for (const r of rows) {
    const data = (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as { payload: unknown };
    sent += await app.jobs.run(APPROVAL_MAIL_JOB, now, data.payload);
  }
  return sent;
}

const receivers = new WeakMap<App, SmtpReceiver>();

/** The approval e-mails the app's SMTP receiver holds for one transfer, oldest first. */
export const approvalMailsTo = (app: App, transferId: string): ReceivedMail[] =>
  (receivers.get(app)?.messages ?? []).filter((m) => m.headers.get('x-reseller-transfer-id') === transferId);

/** A test app with e-mail on (a real SMTP server on loopback): transfers need it (R-DOM-3). */
export async function mailingTestApp(
  t: Parameters<typeof smtpReceiver>[0],
  opts: Parameters<typeof buildTestApp>[1] = {},
) {
  const smtp = await smtpReceiver(t);
  const built = await buildTestApp(t, {
    ...opts,
    env: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://api.reseller.test', ...opts.env },
  });
  receivers.set(built.app, smtp);
  return { ...built, smtp };
}

/** The owner's answer to a transfer, with the token from the approval e-mail (no credentials). */
export const decideTransfer = (app: App, id: string, what: 'approve' | 'reject', token: string) =>
  app.inject({ method: 'POST', url: `/v1/domain-transfers/${id}/${what}`, payload: { token } });

/** As if the approval e-mails about `name` had been asked for `minutes` ago (R-DOM-3's 10-minute gap). */
export const approvalMailsAgo = (app: App, name: string, minutes = 11) =>
  app.db.execute(
    sql`update domain_transfers set approval_queued_at = approval_queued_at - make_interval(mins => ${minutes})
        where name = ${name} and approval_queued_at is not null`,
  );

/**
 * R-DOM-3: `losing` holds `name` (owned by its own contact, or by a new contact of its customer at
 * `ownerEmail`), unlocked; the domain and its auth code, as the owner would pass it on.
 */
export async function heldElsewhere(
  app: App,
  losing: Reseller & { contact: string },
  name: string,
  ownerEmail?: string,
) {
  let contact = losing.contact;
  if (ownerEmail) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: bearer(losing.token),
      payload: { ...CUSTOMER, email: ownerEmail },
    });
    if (res.statusCode !== 201) throw new Error(`contact: ${res.statusCode} ${res.body}`);
    contact = res.json().handle as string;
  }
  const d = await registered(app, { ...losing, contact }, name);
  await app.inject({ method: 'POST', url: `/v1/domains/${name}/unlock`, headers: bearer(losing.token) });
  const code = (
    await app.inject({ method: 'GET', url: `/v1/domains/${name}/auth-code`, headers: bearer(losing.token) })
  ).json().auth_code as string;
  return { d, code };
}

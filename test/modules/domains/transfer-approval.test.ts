// R-DOM-3: a transfer waits for the approval of the domain's owner contact. The approval token is
// e-mailed to the owner of record (the owner contact of a name sponsored here, the registrant's
// address of a name held at another registrar), through a real SMTP server on loopback; the gaining
// reseller never sees it, so it cannot approve its own transfer.
import t from 'tap';
import { eq, sql } from 'drizzle-orm';
import type { App } from '../../../src/app.js';
import { queryRows } from '../../../src/db/client.js';
import { domainTransfers, registryNames } from '../../../src/db/schema/index.js';
import { authCodeHash } from '../../../src/modules/domains/registry.js';
import { APPROVAL_MAIL_JOB } from '../../../src/modules/domains/transfer-approval-mail.js';
import { buildTestApp } from '../../helpers/app.js';
import {
  approvalMailsTo,
  approvalTokenFor,
  decideTransfer as decide,
  CUSTOMER,
  domainSetup,
  fundedReseller,
  mailingTestApp,
  registered,
  sendApprovalMails,
} from '../../helpers/domains.js';
import { eventsOf } from '../../helpers/domain-events.js';
import { bearer, type Reseller } from '../../helpers/fixtures.js';

type R = Reseller & { contact: string };
const DAY_MS = 86_400_000;
const OWNER_EMAIL = 'owner@pekarna-owner.test';

/** `losing` holds `name` for its customer (an owner contact with its own address), unlocked; the auth code. */
async function heldForOwner(app: App, losing: R, name: string, email = OWNER_EMAIL) {
  const contact = await app.inject({
    method: 'POST',
    url: '/v1/contacts',
    headers: bearer(losing.token),
    payload: { ...CUSTOMER, email },
  });
  await registered(app, { ...losing, contact: contact.json().handle as string }, name);
  await app.inject({ method: 'POST', url: `/v1/domains/${name}/unlock`, headers: bearer(losing.token) });
  return (
    await app.inject({ method: 'GET', url: `/v1/domains/${name}/auth-code`, headers: bearer(losing.token) })
  ).json().auth_code as string;
}
const request = (app: App, r: R, name: string, authCode: string) =>
  app.inject({
    method: 'POST',
    url: '/v1/domain-transfers',
    headers: bearer(r.token),
    payload: { name, auth_code: authCode, contacts: { owner: r.contact, admin: r.contact, tech: r.contact } },
  });
const getTransfer = async (app: App, r: R, id: string) =>
  (await app.inject({ method: 'GET', url: `/v1/domain-transfers/${id}`, headers: bearer(r.token) })).json();
const resend = (app: App, r: R, id: string) =>
  app.inject({ method: 'POST', url: `/v1/domain-transfers/${id}/resend-approval`, headers: bearer(r.token) });
/** As if the last approval e-mail had been asked for `minutes` ago. */
const backdateMail = (app: App, id: string, minutes: number) =>
  app.db
    .update(domainTransfers)
    .set({ approvalQueuedAt: new Date(Date.now() - minutes * 60_000) })
    .where(eq(domainTransfers.id, id));
/** The queued approval-mail jobs' payloads, left in the queue. */
const queuedPayloads = async (app: App) =>
  (
    await queryRows<{ data: unknown }>(
      app.db,
      sql`select data from pgboss.job where name = 'app-jobs' and data->>'job' = ${APPROVAL_MAIL_JOB}`,
    )
  ).map((r) => ((typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as { payload: unknown }).payload);

t.test(
  'R-DOM-3: the approval token is e-mailed to the owner of record, never shown to the gaining reseller',
  async (t) => {
    const { app, store, smtp } = await mailingTestApp(t);
    const { op, r: losing } = await domainSetup(app);
    const gaining = await fundedReseller(app, op.token);
    const code = await heldForOwner(app, losing, 'owners-say.com');

    const asked = await request(app, gaining, 'owners-say.com', code);
    t.equal(asked.statusCode, 201, asked.body);
    t.notMatch(asked.body, /rat_/, 'the answer carries no approval token');
    t.same(Object.keys(asked.json()), ['transfer']);
    const transfer = asked.json().transfer;
    t.match(transfer, {
      status: 'pending_approval',
      approval_sent_to: 'o***@pekarna-owner.test',
      approval_mailed_at: null,
    });
    t.equal(smtp.messages.length, 0, 'queued, not sent in the request');

    t.equal(await sendApprovalMails(app), 1, 'the job sends one e-mail');
    t.equal(smtp.messages.length, 1);
    const mail = smtp.messages[0]!;
    t.same(mail.rcptTo, [OWNER_EMAIL], "to the owner contact's address, not the gaining reseller's");
    t.not(CUSTOMER.email, OWNER_EMAIL, "(the gaining reseller's own contact has another address)");
    t.equal(mail.headers.get('subject'), 'Approve or reject the transfer of owners-say.com');
    t.equal(mail.headers.get('auto-submitted'), 'auto-generated');
    t.match(mail.text, transfer.id);
    t.match(mail.text, `${transfer.expires_at.slice(0, 16).replace('T', ' ')} UTC`, 'the deadline');
    t.match(mail.text, /^Approval token: rat_\S+$/m);
    const token = await approvalTokenFor(app, transfer.id);
    t.match(mail.text, `/v1/domain-transfers/${transfer.id}/approve`, 'how to approve');

    const seen = await getTransfer(app, gaining, transfer.id);
    t.ok(seen.approval_mailed_at, 'the gaining reseller sees when it left');
    t.notMatch(JSON.stringify(seen), token);
    const out = await getTransfer(app, losing, transfer.id);
    t.match(out, { direction: 'out', approval_sent_to: 'o***@pekarna-owner.test' });
    const events = [
      ...(await eventsOf(app, store, gaining, transfer.id)),
      ...(await eventsOf(app, store, losing, transfer.id)),
    ];
    t.ok(events.length >= 2);
    t.notMatch(JSON.stringify(events), /rat_/, 'no event carries the token');

    const approved = await decide(app, transfer.id, 'approve', token);
    t.equal(approved.statusCode, 200, approved.body);
    t.equal(approved.json().status, 'completed', "the owner's approval moves the name");
  },
);

t.test(
  'R-DOM-3: a name held at another registrar asks its registrant e-mail of record; without one, 409 owner_email_unknown',
  async (t) => {
    const { app, store, smtp } = await mailingTestApp(t);
    const { r: gaining } = await domainSetup(app);
    const expiresAt = new Date(Date.now() + 200 * DAY_MS);
    await store.db.insert(registryNames).values([
      {
        name: 'held-abroad.com',
        expiresAt,
        authCodeHash: authCodeHash('abroad-code-1'),
        registrantEmail: 'holder@other-registrar.test',
      },
      { name: 'no-address.com', expiresAt, authCodeHash: authCodeHash('abroad-code-2') },
    ]);

    const unknown = await request(app, gaining, 'no-address.com', 'abroad-code-2');
    t.equal(unknown.statusCode, 409);
    t.equal(unknown.json().code, 'owner_email_unknown', 'nobody could approve it');
    t.same(await queuedPayloads(app), [], 'nothing queued');

    const asked = await request(app, gaining, 'held-abroad.com', 'abroad-code-1');
    t.equal(asked.statusCode, 201, asked.body);
    t.equal(asked.json().transfer.approval_sent_to, 'h***@other-registrar.test');
    const token = await approvalTokenFor(app, asked.json().transfer.id);
    t.same(smtp.messages.at(-1)!.rcptTo, ['holder@other-registrar.test']);
    const done = await decide(app, asked.json().transfer.id, 'approve', token);
    t.equal(done.json().status, 'completed', done.body);
    const [reg] = await store.db.select().from(registryNames).where(eq(registryNames.name, 'held-abroad.com'));
    t.equal(reg!.sponsorAccountId, gaining.accountId, 'the name moved here');
  },
);

t.test('R-DOM-3: with e-mail off, a transfer is refused (503), since no owner could be asked', async (t) => {
  const { app } = await buildTestApp(t);
  const { op, r: losing } = await domainSetup(app);
  const gaining = await fundedReseller(app, op.token);
  const code = await heldForOwner(app, losing, 'no-mail-here.com');
  const res = await request(app, gaining, 'no-mail-here.com', code);
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, 'transfer_approval_mail_off');
  t.match(res.json().detail, /SMTP_URL/);
  const list = await app.inject({ method: 'GET', url: '/v1/domain-transfers', headers: bearer(gaining.token) });
  t.same(list.json().data, [], 'no transfer was opened');
});

t.test(
  'R-DOM-3: a resend mails a new token and the old one stops working; 10 minutes apart, 5 e-mails at most, the gaining account only',
  async (t) => {
    const { app } = await mailingTestApp(t);
    const { op, r: losing } = await domainSetup(app);
    const gaining = await fundedReseller(app, op.token);
    const code = await heldForOwner(app, losing, 'lost-my-mail.com');
    const { transfer } = (await request(app, gaining, 'lost-my-mail.com', code)).json();
    const first = await approvalTokenFor(app, transfer.id);

    const soon = await resend(app, gaining, transfer.id);
    t.equal(soon.statusCode, 409);
    t.equal(soon.json().code, 'approval_mail_too_soon', 'not within 10 minutes of the last');
    t.equal(
      Date.parse(soon.json().retry_after),
      Date.parse((await getTransfer(app, gaining, transfer.id)).requested_at) + 600_000,
      'it says when',
    );
    t.equal((await resend(app, losing, transfer.id)).statusCode, 404, 'the losing side cannot resend (R-SEC-6)');

    const tokens = [first];
    for (let i = 2; i <= 5; i++) {
      await backdateMail(app, transfer.id, 11);
      const again = await resend(app, gaining, transfer.id);
      t.equal(again.statusCode, 200, again.body);
      t.match(again.json(), {
        status: 'pending_approval',
        approval_mailed_at: null,
        approval_sent_to: 'o***@pekarna-owner.test',
      });
      tokens.push(await approvalTokenFor(app, transfer.id));
    }
    t.equal(new Set(tokens).size, 5, 'each e-mail its own token');
    const mails = approvalMailsTo(app, transfer.id);
    t.equal(mails.length, 5);
    t.equal(new Set(mails.map((m) => m.headers.get('message-id'))).size, 5, 'each e-mail its own Message-ID');
    await backdateMail(app, transfer.id, 11);
    const sixth = await resend(app, gaining, transfer.id);
    t.equal(sixth.json().code, 'approval_mail_limit');
    t.match(sixth.json().detail, /5 approval e-mails/);

    t.equal((await decide(app, transfer.id, 'approve', first)).statusCode, 404, 'an earlier token no longer works');
    t.equal((await decide(app, transfer.id, 'reject', tokens[3]!)).statusCode, 404);
    const approved = await decide(app, transfer.id, 'approve', tokens[4]!);
    t.equal(approved.json().status, 'completed', 'the latest one does');
  },
);

t.test(
  'R-DOM-3: a relay that refuses the mail fails the job (the queue retries it); a transfer cancelled before its mail left sends none',
  async (t) => {
    const { app, smtp } = await mailingTestApp(t);
    const { op, r: losing } = await domainSetup(app);
    const gaining = await fundedReseller(app, op.token);
    const code = await heldForOwner(app, losing, 'relay-trouble.com');
    const { transfer } = (await request(app, gaining, 'relay-trouble.com', code)).json();
    const [payload] = await queuedPayloads(app);
    smtp.refuse(1, 451);
    await t.rejects(app.jobs.run(APPROVAL_MAIL_JOB, new Date(), payload), 'the relay refused it: the job fails');
    t.equal((await getTransfer(app, gaining, transfer.id)).approval_mailed_at, null, 'not sent');
    t.equal(await app.jobs.run(APPROVAL_MAIL_JOB, new Date(), payload), 1, 'the retry sends it');
    t.ok((await getTransfer(app, gaining, transfer.id)).approval_mailed_at);
    t.equal(approvalMailsTo(app, transfer.id).length, 1);

    const code2 = await heldForOwner(app, losing, 'changed-mind.com');
    const second = (await request(app, gaining, 'changed-mind.com', code2)).json().transfer;
    await app.inject({
      method: 'POST',
      url: `/v1/domain-transfers/${second.id}/cancel`,
      headers: bearer(gaining.token),
    });
    await app.db.execute(sql`delete from pgboss.job where data->'payload'->>'transferId' = ${transfer.id}`);
    t.equal(await sendApprovalMails(app), 0, 'a cancelled transfer mails nobody');
    t.equal(approvalMailsTo(app, second.id).length, 0);
    await backdateMail(app, second.id, 11);
    const closed = await resend(app, gaining, second.id);
    t.equal(closed.json().code, 'transfer_not_open', 'nothing to resend once cancelled');
  },
);

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
import {
  APPROVAL_MAIL_JOB,
  approvalMail,
  isMailAddress,
  maskAddress,
} from '../../../src/modules/domains/transfer-approval-mail.js';
import { buildTestApp } from '../../helpers/app.js';
import {
  approvalMailsTo,
  approvalTokenFor,
  decideTransfer as decide,
  CUSTOMER,
  domainSetup,
  fundedReseller,
  heldElsewhere,
  mailingTestApp,
  sendApprovalMails,
} from '../../helpers/domains.js';
import { eventsOf } from '../../helpers/domain-events.js';
import { bearer, type Reseller } from '../../helpers/fixtures.js';

type R = Reseller & { contact: string };
const DAY_MS = 86_400_000;
const OWNER_EMAIL = 'owner@pekarna-owner.test';

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
    const code = (await heldElsewhere(app, losing, 'owners-say.com', OWNER_EMAIL)).code;

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
  const code = (await heldElsewhere(app, losing, 'no-mail-here.com', OWNER_EMAIL)).code;
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
    const code = (await heldElsewhere(app, losing, 'lost-my-mail.com', OWNER_EMAIL)).code;
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
    const code = (await heldElsewhere(app, losing, 'relay-trouble.com', OWNER_EMAIL)).code;
    const { transfer } = (await request(app, gaining, 'relay-trouble.com', code)).json();
    const [payload] = await queuedPayloads(app);
    smtp.refuse(1, 451);
    await t.rejects(app.jobs.run(APPROVAL_MAIL_JOB, new Date(), payload), 'the relay refused it: the job fails');
    t.equal((await getTransfer(app, gaining, transfer.id)).approval_mailed_at, null, 'not sent');
    t.equal(await app.jobs.run(APPROVAL_MAIL_JOB, new Date(), payload), 1, 'the retry sends it');
    t.ok((await getTransfer(app, gaining, transfer.id)).approval_mailed_at);
    t.equal(approvalMailsTo(app, transfer.id).length, 1);

    const code2 = (await heldElsewhere(app, losing, 'changed-mind.com', OWNER_EMAIL)).code;
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

t.test(
  'R-DOM-3: a name moved here from another registrar is asked for by its owner contact here, not its former e-mail of record',
  async (t) => {
    const { app, store } = await mailingTestApp(t);
    const { op, r: first } = await domainSetup(app);
    await store.db.insert(registryNames).values({
      name: 'came-from-abroad.com',
      expiresAt: new Date(Date.now() + 200 * DAY_MS),
      authCodeHash: authCodeHash('abroad-code-3'),
      registrantEmail: 'previous-holder@old-registrar.test',
    });
    const moved = (await request(app, first, 'came-from-abroad.com', 'abroad-code-3')).json().transfer;
    const done = await decide(app, moved.id, 'approve', await approvalTokenFor(app, moved.id));
    t.equal(done.json().status, 'completed', done.body);
    const [reg] = await store.db.select().from(registryNames).where(eq(registryNames.name, 'came-from-abroad.com'));
    t.equal(reg!.registrantEmail, null, 'the former e-mail of record is dropped');

    await app.inject({ method: 'POST', url: '/v1/domains/came-from-abroad.com/unlock', headers: bearer(first.token) });
    const code = (
      await app.inject({
        method: 'GET',
        url: '/v1/domains/came-from-abroad.com/auth-code',
        headers: bearer(first.token),
      })
    ).json().auth_code as string;
    const next = await fundedReseller(app, op.token);
    const onward = await request(app, next, 'came-from-abroad.com', code);
    t.equal(onward.statusCode, 201, onward.body);
    t.equal(
      onward.json().transfer.approval_sent_to,
      'j***@pekarna.test',
      "the owner contact here (CUSTOMER's address)",
    );
    await approvalTokenFor(app, onward.json().transfer.id);
    const mails = approvalMailsTo(app, onward.json().transfer.id);
    t.same(mails.at(-1)!.rcptTo, [CUSTOMER.email]);
  },
);

t.test(
  'R-DOM-3: asking again for one name after cancelling waits 10 minutes and stops at 5 e-mails a day, so the owner is not flooded',
  async (t) => {
    const { app } = await mailingTestApp(t);
    const { op, r: losing } = await domainSetup(app);
    const gaining = await fundedReseller(app, op.token);
    const code = (await heldElsewhere(app, losing, 'dont-flood-me.com', OWNER_EMAIL)).code;
    const ask = () => request(app, gaining, 'dont-flood-me.com', code);
    const cancel = (id: string) =>
      app.inject({ method: 'POST', url: `/v1/domain-transfers/${id}/cancel`, headers: bearer(gaining.token) });

    let id = (await ask()).json().transfer.id as string;
    for (let i = 2; i <= 5; i++) {
      t.equal((await cancel(id)).json().status, 'cancelled');
      const soon = await ask();
      t.equal(soon.json().code, 'approval_mail_too_soon', `request ${i} at once: too soon`);
      await backdateMail(app, id, 11);
      const again = await ask();
      t.equal(again.statusCode, 201, again.body);
      id = again.json().transfer.id as string;
    }
    t.equal((await cancel(id)).json().status, 'cancelled');
    await backdateMail(app, id, 11);
    const sixth = await ask();
    t.equal(sixth.json().code, 'approval_mail_limit', 'five a day for one name');
  },
);

t.test(
  'R-DOM-3: an owner address of record the relay could not take is no address; PUBLIC_URL unset leaves nowhere to answer',
  async (t) => {
    const { app, store } = await mailingTestApp(t);
    const { r: gaining } = await domainSetup(app);
    await store.db.insert(registryNames).values({
      name: 'odd-address.com',
      expiresAt: new Date(Date.now() + 200 * DAY_MS),
      authCodeHash: authCodeHash('odd-code'),
      registrantEmail: 'victim@x.test, spy@evil.test',
    });
    const odd = await request(app, gaining, 'odd-address.com', 'odd-code');
    t.equal(odd.json().code, 'owner_email_unknown');
    t.equal(
      (await request(app, gaining, 'odd-address.com', 'odd-code')).json().code,
      'owner_email_unknown',
      'not remembered as the caller’s failure (R-API-2): the owner corrects it at the registrar',
    );

    const noUrl = await mailingTestApp(t, { env: { PUBLIC_URL: '' } });
    const { op, r: losing } = await domainSetup(noUrl.app);
    const other = await fundedReseller(noUrl.app, op.token);
    const code = (await heldElsewhere(noUrl.app, losing, 'where-to-answer.com', OWNER_EMAIL)).code;
    const res = await request(noUrl.app, other, 'where-to-answer.com', code);
    t.equal(res.statusCode, 503);
    t.match(res.json(), { code: 'transfer_approval_mail_off', detail: /PUBLIC_URL/ });
  },
);

t.test('R-DOM-3: the owner’s answer stays out of the gaining reseller’s audit log', async (t) => {
  const { app } = await mailingTestApp(t);
  const { op, r: losing } = await domainSetup(app);
  const gaining = await fundedReseller(app, op.token);
  const code = (await heldElsewhere(app, losing, 'private-answer.com', OWNER_EMAIL)).code;
  const { transfer } = (await request(app, gaining, 'private-answer.com', code)).json();
  const rejected = await app.inject({
    method: 'POST',
    url: `/v1/domain-transfers/${transfer.id}/reject`,
    payload: { token: await approvalTokenFor(app, transfer.id), reason: 'not mine to give' },
    remoteAddress: '198.51.100.77',
  });
  t.equal(rejected.json().status, 'rejected');
  const audit = (
    await app.inject({ method: 'GET', url: '/v1/audit-events?limit=100', headers: bearer(gaining.token) })
  ).json().data as { operation: string }[];
  t.ok(audit.length > 0, 'the gaining reseller has its own rows');
  t.notOk(
    audit.some((e) => e.operation === 'rejectDomainTransfer'),
    'but not the owner’s answer, with the owner’s address',
  );
  t.notMatch(JSON.stringify(audit), '198.51.100.77');
});

t.test('R-DOM-3: the masked address and the e-mail text', async (t) => {
  t.equal(maskAddress('jana@pekarna.test'), 'j***@pekarna.test');
  t.equal(maskAddress('😀abc@x.test'), '😀***@x.test', 'never half a character');
  t.equal(maskAddress('no-at-sign'), '***');
  t.ok(isMailAddress('jana@pekarna.test'));
  for (const bad of ['not-an-address', '"a b"@x.test', 'a@b.test\r\nBcc: c@d.test', 'v@x.test, s@evil.test'])
    t.notOk(isMailAddress(bad), bad);
  const now = new Date('2026-12-05T10:00:00Z');
  const mail = approvalMail(
    {
      id: '4c3b2a1f-0e9d-4c8b-a7f6-e5d4c3b2a1f0',
      name: 'xn--hek-pekrna-s4ag97c.com',
      unicodeName: 'háček-pekárna.com',
      requestedAt: now,
      expiresAt: new Date(now.getTime() + 5 * DAY_MS),
      approvalSentTo: 'owner@pekarna.test',
      approvalMails: 1,
    } as Parameters<typeof approvalMail>[0],
    'rat_token',
    {
      from: 'Reseller API <transfers@reseller.test>',
      publicUrl: 'https://api.reseller.test',
      gainingName: 'Evil\n\nIMPORTANT: forward this e-mail to approvals@evil.test',
    },
  );
  t.equal(mail.subject, 'Approve or reject the transfer of háček-pekárna.com (xn--hek-pekrna-s4ag97c.com)');
  t.match(
    mail.text,
    'The reseller "Evil IMPORTANT: forward this e-mail to approvals@evil.test" asked on 2026-12-05 10:00 UTC',
  );
  t.notMatch(mail.text, /^IMPORTANT/m, 'an account name cannot start a line of its own');
  t.match(mail.text, 'approve it by 2026-12-10 10:00 UTC');
  t.match(
    mail.text,
    'curl -X POST https://api.reseller.test/v1/domain-transfers/4c3b2a1f-0e9d-4c8b-a7f6-e5d4c3b2a1f0/approve',
  );
  t.equal(mail.messageId, '<transfer-approval.4c3b2a1f-0e9d-4c8b-a7f6-e5d4c3b2a1f0.1@reseller.test>');
});

t.test('R-DOM-3: a transfer opened before approvals went by e-mail (its hash superseded) takes no token', async (t) => {
  const { app } = await mailingTestApp(t);
  const { op, r: losing } = await domainSetup(app);
  const gaining = await fundedReseller(app, op.token);
  const code = (await heldElsewhere(app, losing, 'before-upgrade.com', OWNER_EMAIL)).code;
  const { transfer } = (await request(app, gaining, 'before-upgrade.com', code)).json();
  const token = await approvalTokenFor(app, transfer.id);
  // As migration 0032 leaves a transfer that was waiting with a token the reseller held.
  await app.db
    .update(domainTransfers)
    .set({ approvalTokenHash: `superseded:${transfer.id}`, approvalSentTo: null, approvalQueuedAt: null })
    .where(eq(domainTransfers.id, transfer.id));
  t.equal((await decide(app, transfer.id, 'approve', token)).statusCode, 404, 'no token matches');
  const resent = await resend(app, gaining, transfer.id);
  t.equal(resent.statusCode, 200, 'the reseller asks the owner now');
  const fresh = await approvalTokenFor(app, transfer.id);
  t.equal((await decide(app, transfer.id, 'approve', fresh)).json().status, 'completed');
});

// Issue 13 item 7: an account sets e-mail recipients (its users or addresses) per group of event
// types; with SMTP_URL set, those events are also sent as plain, readable e-mails through nodemailer,
// from the outbox with retries, here to a real SMTP server on loopback (smtp-server); unset, e-mail is
// off. The events are of test-only types defined below, emitted the way an area emits them.
import t from 'tap';
import { sql } from 'drizzle-orm';
import { Type } from 'typebox';
import type { App } from '../../../src/app.js';
import { queryRows } from '../../../src/db/client.js';
import { defineEventType, emitEvent, EVENT_GROUPS } from '../../../src/modules/events/api.js';
import { dataLines, renderEventMail, subjectOf } from '../../../src/modules/notifications/email-render.js';
import { buildTestApp } from '../../helpers/app.js';
import { addUser, bearer, operator, reseller, type Reseller } from '../../helpers/fixtures.js';
import { smtpReceiver, type SmtpReceiver } from '../../helpers/smtp.js';

const Registered = defineEventType({
  type: 'mailtest.registered',
  group: 'domains',
  objectType: 'domain',
  summary: 'A domain was registered (a test-only type)',
  data: Type.Object({
    name: Type.String(),
    status: Type.String(),
    autorenew: Type.Boolean(),
    expires_at: Type.String(),
    nameservers: Type.Array(Type.String()),
    contacts: Type.Object({ registrant: Type.String(), admin: Type.String() }),
    price: Type.Object({ amount: Type.Integer(), currency: Type.String() }),
    note: Type.Union([Type.String(), Type.Null()]),
  }),
});
const Charged = defineEventType({
  type: 'mailtest.charged',
  group: 'billing',
  objectType: 'ledger_transaction',
  summary: 'Money moved (a test-only type in another group)',
  data: Type.Object({ amount: Type.Integer() }),
});

const FROM = 'Reseller API <notify@reseller.test>';
const PUBLIC_URL = 'https://api.reseller.test';
const JOB = 'notifications.email';

const mailEnv = (smtp: SmtpReceiver) => ({ SMTP_URL: smtp.url, MAIL_FROM: FROM, PUBLIC_URL });

const domainData = (name: string) => ({
  name,
  status: 'active',
  autorenew: true,
  expires_at: '2027-12-03T03:23:09.000Z',
  nameservers: ['ns1.dns.test', 'ns2.dns.test'],
  contacts: { registrant: 'C-REG-1', admin: 'C-ADM-1' },
  price: { amount: 1299, currency: 'EUR' },
  note: null,
});

async function emitRegistered(app: App, accountId: string, name: string): Promise<string> {
  const e = await app.db.transaction((tx) =>
    emitEvent(tx, Registered, { accountId, objectId: name, data: domainData(name) }),
  );
  return e.id;
}

interface QueuedJob {
  payload: Record<string, string>;
  retry_limit: number;
  retry_delay: number;
  retry_backoff: boolean;
}

/** The e-mail jobs the fan-out queued (pg-boss's table, schema pgboss; one queue for every job). */
const queuedEmails = async (app: App): Promise<QueuedJob[]> =>
  (
    await queryRows<{ data: unknown; retry_limit: number; retry_delay: number; retry_backoff: boolean }>(
      app.db,
      sql`select data, retry_limit, retry_delay, retry_backoff from pgboss.job
          where name = 'app-jobs' and data->>'job' = ${JOB}`,
    )
  )
    .map((r) => {
      const data = (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as { payload: Record<string, string> };
      return {
        payload: data.payload,
        retry_limit: r.retry_limit,
        retry_delay: r.retry_delay,
        retry_backoff: r.retry_backoff,
      };
    })
    // Jobs queued in one transaction share created_on: sorted for the assertions.
    .sort((a, b) => recipientKey(a.payload).localeCompare(recipientKey(b.payload)));

const recipientKey = (p: Record<string, string>) => `${p.eventId} ${p.userId ?? ''} ${p.address ?? ''}`;
const sorted = <T>(items: T[]) => [...items].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/** Runs each queued e-mail job as the worker would (with the payload the sink queued); returns how many sent. */
async function sendQueued(app: App, jobs: QueuedJob[]): Promise<number> {
  let sent = 0;
  for (const j of jobs) sent += await app.jobs.run(JOB, new Date(), j.payload);
  return sent;
}

const setRecipients = (app: App, r: Reseller, group: string, body: { user_ids: string[]; addresses: string[] }) =>
  app.inject({ method: 'PUT', url: `/v1/notification-recipients/${group}`, headers: bearer(r.token), payload: body });

t.test(
  'issue 13 item 7: an event of a group with recipients is mailed to each recipient, one plain readable e-mail each, users at their address when sent',
  async (t) => {
    const smtp = await smtpReceiver(t);
    const { app } = await buildTestApp(t, { env: mailEnv(smtp) });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const other = await reseller(app, op.token);
    const tech = await addUser(app, r.token, 'technical');
    const set = await setRecipients(app, r, 'domains', {
      user_ids: [r.ownerId, tech.id],
      addresses: ['Ops@Example.test'],
    });
    t.equal(set.statusCode, 200, set.body);

    const eventId = await emitRegistered(app, r.accountId, 'example.com');
    // Not mailed: another group without recipients, another account without recipients.
    await app.db.transaction((tx) =>
      emitEvent(tx, Charged, { accountId: r.accountId, objectId: '12345', data: { amount: 100 } }),
    );
    await emitRegistered(app, other.accountId, 'other.test');
    t.equal(await app.eventFanout.run(), 3, 'the fan-out read the three events');

    const jobs = await queuedEmails(app);
    t.same(
      sorted(jobs.map((j) => j.payload)),
      sorted([
        { eventId, userId: r.ownerId },
        { eventId, userId: tech.id },
        { eventId, address: 'Ops@Example.test' },
      ]),
      'one job per recipient of the event, none for the other group or account',
    );
    t.ok(
      jobs.every((j) => j.retry_limit === 8 && j.retry_delay === 30 && j.retry_backoff),
      'retried 8 times from 30 s, doubling',
    );
    t.equal(await app.eventFanout.run(), 0, 'an event is fanned out once');
    t.equal((await queuedEmails(app)).length, 3, 'and its e-mails queued once');

    // The technical user's address changes after the fan-out: the mail goes to the new one.
    const patch = await app.inject({
      method: 'PATCH',
      url: `/v1/users/${tech.id}`,
      headers: bearer(r.token),
      payload: { email: 'tech-new@hosting.test' },
    });
    t.equal(patch.statusCode, 200, patch.body);

    t.equal(await sendQueued(app, jobs), 3, 'three e-mails sent');
    t.equal(smtp.messages.length, 3);
    t.same(
      sorted(smtp.messages.map((m) => m.rcptTo)),
      sorted([[`${r.ownerUsername}@hosting.test`], ['tech-new@hosting.test'], ['Ops@example.test']]),
      'each e-mail has one recipient: nobody sees the others',
    );
    for (const m of smtp.messages) {
      t.equal(m.headers.get('to'), m.rcptTo[0]);
      t.equal(m.mailFrom, 'notify@reseller.test');
      t.equal(m.headers.get('from'), FROM);
      t.equal(m.headers.get('subject'), '[Reseller API] Domain example.com registered');
      t.equal(m.headers.get('message-id'), `<${eventId}@reseller.test>`, 'Message-ID: one per event');
      t.equal(m.headers.get('auto-submitted'), 'auto-generated');
      t.equal(m.headers.get('x-reseller-event-type'), 'mailtest.registered');
      t.match(m.headers.get('content-type') ?? '', /^text\/plain/, 'plain text only');
    }
    const text = smtp.messages[0]!.text;
    t.comment(`the e-mail's text:\n${text}`);
    for (const line of [
      'Domain example.com registered',
      'A domain was registered (a test-only type)',
      'What:     mailtest.registered',
      'Object:   domain example.com (event 1 about it)',
      'Details:',
      '  name: example.com',
      '  autorenew: yes',
      '  expires_at: 2027-12-03 03:23:09 UTC',
      '  nameservers: ns1.dns.test, ns2.dns.test',
      '  contacts:',
      '    registrant: C-REG-1',
      '  price: 12.99 EUR',
      '  note: (none)',
      `Event id: ${eventId}`,
      `The whole event (JSON): GET ${PUBLIC_URL}/v1/events/${eventId}`,
    ]) {
      t.ok(text.split('\n').includes(line), `the body has the line "${line}"`);
    }
    t.match(text, /^When: {5}\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/m, 'when, in UTC');
    t.notMatch(text, /[{}]/, 'no JSON in the body');

    // A user disabled after the fan-out gets nothing; the job has nothing to do and succeeds.
    const second = await emitRegistered(app, r.accountId, 'second.test');
    await app.eventFanout.run();
    const secondJobs = (await queuedEmails(app)).filter((j) => j.payload.eventId === second);
    t.equal(secondJobs.length, 3);
    t.equal(
      (await app.inject({ method: 'DELETE', url: `/v1/users/${tech.id}`, headers: bearer(r.token) })).statusCode,
      200,
    );
    t.equal(await sendQueued(app, secondJobs), 2, 'the disabled user is skipped');
    t.same(
      sorted(smtp.messages.slice(3).map((m) => m.rcptTo[0])),
      sorted([`${r.ownerUsername}@hosting.test`, 'Ops@example.test']),
    );
    // After that, the fan-out leaves the disabled user out.
    const third = await emitRegistered(app, r.accountId, 'third.test');
    await app.eventFanout.run();
    t.equal((await queuedEmails(app)).filter((j) => j.payload.eventId === third).length, 2);
  },
);

t.test('issue 13 item 7: a user also listed by address gets one e-mail; empty lists mean nobody', async (t) => {
  const smtp = await smtpReceiver(t);
  const { app } = await buildTestApp(t, { env: mailEnv(smtp) });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const owner = `${r.ownerUsername}@hosting.test`;
  t.equal(
    (await setRecipients(app, r, 'domains', { user_ids: [r.ownerId], addresses: [owner.toUpperCase()] })).statusCode,
    200,
  );
  const first = await emitRegistered(app, r.accountId, 'one.test');
  await app.eventFanout.run();
  t.same(
    (await queuedEmails(app)).map((j) => j.payload),
    [{ eventId: first, address: owner.toUpperCase() }],
    'the address covers the user',
  );
  t.equal((await setRecipients(app, r, 'domains', { user_ids: [], addresses: [] })).statusCode, 200);
  await emitRegistered(app, r.accountId, 'two.test');
  await app.eventFanout.run();
  t.equal((await queuedEmails(app)).length, 1, 'nothing queued for nobody');
});

t.test(
  'issue 13 item 7: a send the relay refuses throws (the queue retries it); the retry sends the same message',
  async (t) => {
    const smtp = await smtpReceiver(t);
    const { app } = await buildTestApp(t, { env: mailEnv(smtp) });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    await setRecipients(app, r, 'domains', { user_ids: [], addresses: ['a@example.test', 'b@example.test'] });
    const eventId = await emitRegistered(app, r.accountId, 'retry.test');
    await app.eventFanout.run();
    const jobs = await queuedEmails(app);
    const a = jobs.find((j) => j.payload.address === 'a@example.test');
    const b = jobs.find((j) => j.payload.address === 'b@example.test');

    smtp.refuse(1, 451, 'mailbox busy, try again later');
    await t.rejects(app.jobs.run(JOB, new Date(), a!.payload), /451|busy|recipients/i, 'the refused send throws');
    t.same(smtp.refused, ['a@example.test']);
    t.equal(smtp.messages.length, 0);
    t.equal(await app.jobs.run(JOB, new Date(), b!.payload), 1, 'the other recipient is not held up');
    t.equal(await app.jobs.run(JOB, new Date(), a!.payload), 1, 'the retry is accepted');
    t.same(
      smtp.messages.map((m) => m.rcptTo[0]),
      ['b@example.test', 'a@example.test'],
    );
    t.same(
      smtp.messages.map((m) => m.headers.get('message-id')),
      [`<${eventId}@reseller.test>`, `<${eventId}@reseller.test>`],
      'the same Message-ID after a retry',
    );

    // A permanent refusal (5xx) throws too: retried, then dead-lettered, like any failed send.
    smtp.refuse(1, 554, 'rejected');
    await t.rejects(app.jobs.run(JOB, new Date(), a!.payload));
  },
);

t.test('issue 13 item 7: a relay that cannot be reached makes the job throw', async (t) => {
  // Port 1 on loopback: nothing listens there (connection refused).
  const { app } = await buildTestApp(t, { env: { SMTP_URL: 'smtp://127.0.0.1:1', MAIL_FROM: FROM } });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  await setRecipients(app, r, 'domains', { user_ids: [], addresses: ['a@example.test'] });
  await emitRegistered(app, r.accountId, 'down.test');
  await app.eventFanout.run();
  const [job] = await queuedEmails(app);
  await t.rejects(app.jobs.run(JOB, new Date(), job!.payload), 'connection refused throws');
});

t.test('issue 13 item 7: SMTP_URL unset: e-mail is off, nothing is queued, GET says so', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  t.equal(
    (await setRecipients(app, r, 'domains', { user_ids: [r.ownerId], addresses: ['x@example.test'] })).statusCode,
    200,
    'recipients can still be kept',
  );
  const list = await app.inject({ method: 'GET', url: '/v1/notification-recipients', headers: bearer(r.token) });
  t.equal(list.json().email_enabled, false);
  await emitRegistered(app, r.accountId, 'off.test');
  t.equal(await app.eventFanout.run(), 1);
  t.same(await queuedEmails(app), [], 'no e-mail sink: no job');
  t.equal(
    await app.jobs.run(JOB, new Date(), { eventId: '00000000-0000-4000-8000-000000000000', address: 'x@example.test' }),
    0,
    'an e-mail queued while mail was on is dropped',
  );
});

t.test('issue 13 item 7: the recipients API: every group, validation, tenancy, permissions', async (t) => {
  const smtp = await smtpReceiver(t);
  const { app } = await buildTestApp(t, { env: mailEnv(smtp) });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const other = await reseller(app, op.token);
  const readOnly = await addUser(app, r.token, 'read_only');
  const disabled = await addUser(app, r.token, 'support');
  await app.inject({ method: 'DELETE', url: `/v1/users/${disabled.id}`, headers: bearer(r.token) });

  const list = await app.inject({ method: 'GET', url: '/v1/notification-recipients', headers: bearer(r.token) });
  t.equal(list.statusCode, 200);
  t.equal(list.json().email_enabled, true);
  t.same(
    list.json().data,
    EVENT_GROUPS.map((group) => ({ group, user_ids: [], addresses: [], updated_at: null })),
    'every group, nobody yet',
  );

  const ok = await setRecipients(app, r, 'abuse', {
    user_ids: [readOnly.id, readOnly.id],
    addresses: ['abuse@hosting.test', 'ABUSE@hosting.test', 'noc@hosting.test'],
  });
  t.equal(ok.statusCode, 200, ok.body);
  t.match(
    ok.json(),
    {
      group: 'abuse',
      user_ids: [readOnly.id],
      addresses: ['abuse@hosting.test', 'noc@hosting.test'],
      updated_at: String,
    },
    'duplicates dropped',
  );
  const after = (
    await app.inject({ method: 'GET', url: '/v1/notification-recipients', headers: bearer(r.token) })
  ).json();
  t.match(
    after.data.find((g: { group: string }) => g.group === 'abuse'),
    { user_ids: [readOnly.id] },
  );
  const theirs = (
    await app.inject({ method: 'GET', url: '/v1/notification-recipients', headers: bearer(other.token) })
  ).json();
  t.ok(
    theirs.data.every((g: { user_ids: string[] }) => g.user_ids.length === 0),
    "another account's recipients are its own",
  );

  const foreign = await setRecipients(app, r, 'domains', { user_ids: [r.ownerId, other.ownerId], addresses: [] });
  t.equal(foreign.statusCode, 422, 'a user of another account is refused');
  t.equal(foreign.json().code, 'recipient_not_a_user');
  t.same(
    foreign.json().errors.map((e: { pointer: string }) => e.pointer),
    ['/body/user_ids/1'],
  );
  const inactive = await setRecipients(app, r, 'domains', { user_ids: [disabled.id], addresses: [] });
  t.equal(inactive.json().code, 'recipient_not_a_user', 'a disabled user is refused');
  const unknown = await setRecipients(app, r, 'domains', {
    user_ids: ['00000000-0000-4000-8000-000000000000'],
    addresses: [],
  });
  t.equal(unknown.json().code, 'recipient_not_a_user');

  const badAddress = await setRecipients(app, r, 'domains', { user_ids: [], addresses: ['not an address'] });
  t.equal(badAddress.statusCode, 422);
  t.equal(badAddress.json().code, 'validation_failed');
  const tooMany = await setRecipients(app, r, 'domains', {
    user_ids: [],
    addresses: Array.from({ length: 21 }, (_, i) => `a${i}@hosting.test`),
  });
  t.equal(tooMany.statusCode, 422, 'at most 20 addresses');
  const badGroup = await setRecipients(app, r, 'everything', { user_ids: [], addresses: [] });
  t.equal(badGroup.statusCode, 422, 'an unknown group is refused');
  const missing = await app.inject({
    method: 'PUT',
    url: '/v1/notification-recipients/domains',
    headers: bearer(r.token),
    payload: { addresses: [] },
  });
  t.equal(missing.statusCode, 422, 'both lists are required');

  const { token: roToken } = await (await import('../../helpers/fixtures.js')).loginAs(app, readOnly.username);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/notification-recipients', headers: bearer(roToken) })).statusCode,
    200,
    'account:read reads',
  );
  const roPut = await app.inject({
    method: 'PUT',
    url: '/v1/notification-recipients/domains',
    headers: bearer(roToken),
    payload: { user_ids: [], addresses: [] },
  });
  t.equal(roPut.statusCode, 403, 'changing needs account:write');
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/notification-recipients', headers: bearer(op.token) })).statusCode,
    403,
    'operators do not hold account:read (they have no account)',
  );
});

t.test('the e-mail text: subjects from type and object, long data cut, values kept on one line', async (t) => {
  t.equal(
    subjectOf({ type: 'abuse.complaint_filed', objectType: 'abuse_complaint', objectId: 'c1', data: {} }),
    '[Reseller API] Abuse complaint c1 filed',
  );
  t.equal(
    subjectOf({
      type: 'transfer.requested',
      objectType: 'transfer',
      objectId: '5f0c3a4e-8d6b-4b8e-9a0e-2f1d3c4b5a69',
      data: { domain: 'example.com' },
    }),
    '[Reseller API] Transfer 5f0c3a4e-8d6b-4b8e-9a0e-2f1d3c4b5a69 (example.com) requested',
  );
  const mail = renderEventMail(
    {
      id: 'e1',
      type: 'x.y',
      summary: undefined,
      group: undefined,
      objectType: 'thing',
      objectId: 'a\r\nBcc: evil@example.test',
      objectSequence: 1,
      createdAt: new Date('2026-01-02T03:04:05Z'),
      data: { a_text: 'line one\nline two', list: Array.from({ length: 300 }, (_, i) => ({ i })) },
      accountName: 'Hosting GmbH',
    },
    { publicUrl: undefined },
  );
  t.notMatch(mail.subject, /[\r\n]/, 'no line break in the subject');
  t.same(
    dataLines(
      { b: 1, a: { y: [], x: 'x' }, c: 3 },
      Type.Object({ c: Type.Integer(), a: Type.Object({ x: Type.String(), y: Type.Array(Type.String()) }) }),
    ),
    ['  c: 3', '  a:', '    x: x', '    y: (none)', '  b: 1'],
    "keys in the data schema's order, then the others alphabetically",
  );
  t.ok(mail.text.includes('  a_text: line one line two'), 'a value stays on its line');
  t.ok(mail.text.includes('more lines: see the whole event'), 'long data is cut');
  t.ok(mail.text.includes('GET /v1/events/e1'), 'a bare path without PUBLIC_URL');
  t.ok(mail.text.includes('Account:  Hosting GmbH'));
});

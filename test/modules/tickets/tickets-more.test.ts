// Issue 16, continued: what tickets refuse (attachments over the limits, another account's service),
// how they list (newest first, by cursor) and queue (earliest deadline first), the priority criteria,
// e-mail threading by In-Reply-To, and the timers with two instances at once (PostgreSQL).
import { sql } from 'drizzle-orm';
import t from 'tap';
import type { App } from '../../../src/app.js';
import { createPostgresStore } from '../../../src/db/client.js';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres, postgresTestDatabase } from '../../helpers/db.js';
import { feedSettled } from '../../helpers/events.js';
import { bearer, operator, reseller, type Reseller } from '../../helpers/fixtures.js';

type Json = Record<string, any>;

async function call(app: App, token: string, method: string, url: string, payload?: unknown) {
  const res = await app.inject({
    method: method as 'POST',
    url,
    headers: bearer(token),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : {} };
}

/** One plain-text e-mail to the intake, as an MTA delivers it. */
const sendMail = (app: App, opToken: string, headers: string[], body: string) =>
  app.inject({
    method: 'POST',
    url: '/v1/admin/tickets/inbound-email',
    headers: { ...bearer(opToken), 'content-type': 'message/rfc822' },
    payload: [...headers, 'Content-Type: text/plain; charset=utf-8', '', body, ''].join('\r\n'),
  });

const ticketBody = (over: Json = {}) => ({
  subject: 'Question',
  description: 'How do I move a domain between accounts?',
  concerns: { type: 'product', ref: 'domains' },
  ...over,
});

async function open(app: App, r: Reseller, over: Json = {}) {
  const res = await call(app, r.token, 'POST', '/v1/tickets', ticketBody(over));
  if (res.status !== 201) throw new Error(`open: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

t.test('R-TKT-1: attachments within the limits are kept and sniffed; over them, 413 attachment_limit', async (t) => {
  const { app } = await buildTestApp(t, {
    env: {
      TICKET_ATTACHMENT_MAX_BYTES: '2048',
      TICKET_ATTACHMENTS_PER_MESSAGE: '2',
      TICKET_ATTACHMENTS_PER_TICKET: '3',
    },
  });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const b64 = (b: Buffer) => b.toString('base64');
  const pdf = Buffer.from('%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n', 'latin1');
  const ticket = await open(app, r, {
    attachments: [
      { filename: 'notes.exe', content_base64: b64(Buffer.from('plain words, not a program\n')) },
      { filename: 'report.txt', content_base64: b64(pdf) },
    ],
  });
  const detail = (await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).body;
  t.same(
    detail.messages[0].attachments.map((a: Json) => [a.filename, a.content_type]),
    [
      ['notes.exe', 'text/plain; charset=utf-8'],
      ['report.txt', 'application/pdf'],
    ],
    'the type comes from the bytes, not the name',
  );
  const tooBig = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/messages`, {
    body: 'big',
    attachments: [{ filename: 'big.bin', content_base64: b64(Buffer.alloc(4096, 1)) }],
  });
  t.equal(tooBig.status, 413);
  t.match(tooBig.body, { code: 'attachment_limit', max_bytes: 2048, per_message: 2, per_ticket: 3 });
  const tooMany = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/messages`, {
    body: 'many',
    attachments: ['a', 'b'].map((n) => ({ filename: `${n}.txt`, content_base64: b64(Buffer.from(n)) })),
  });
  t.equal(tooMany.status, 413, 'a third and fourth would pass the per-ticket limit');
  const after = (await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).body;
  t.equal(after.messages.length, 1, 'a refused message leaves nothing behind');
});

t.test('R-TKT-1: a ticket concerns a product or a service of your own account', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const unknownProduct = await call(
    app,
    r.token,
    'POST',
    '/v1/tickets',
    ticketBody({ concerns: { type: 'product', ref: 'vmmanager' } }),
  );
  t.equal(unknownProduct.status, 422);
  t.equal(unknownProduct.body.errors[0].code, 'unknown_product');
  for (const concerns of [
    { type: 'domain', ref: 'not-mine.com' },
    { type: 'spam_filter_domain', ref: 'not-mine.com' },
    { type: 'plesk_license', ref: '6f1c1f0e-63a7-4f0a-9a55-0d2b6a1f4e11' },
    { type: 'hosting_subscription', ref: 'not-a-uuid' },
  ]) {
    const res = await call(app, r.token, 'POST', '/v1/tickets', ticketBody({ concerns }));
    t.equal(res.status, 422, `${concerns.type} ${concerns.ref}`);
    t.equal(res.body.errors[0].code, 'unknown_service');
  }
});

t.test('listing is newest first by cursor; the queue is earliest deadline first', async (t) => {
  let clock = new Date('2027-01-11T09:00:00Z');
  const { app } = await buildTestApp(t, { now: () => clock });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const low = await open(app, r, { subject: 'low' });
  clock = new Date('2027-01-11T10:00:00Z');
  const urgent = await open(app, r, { subject: 'urgent' });
  clock = new Date('2027-01-11T11:00:00Z');
  const third = await open(app, r, { subject: 'third' });
  await call(app, op.token, 'POST', `/v1/admin/tickets/${urgent.id}/priority`, { priority: 'emergency' });

  const first = (await call(app, r.token, 'GET', '/v1/tickets?limit=2')).body;
  t.same(
    first.data.map((x: Json) => x.subject),
    ['third', 'urgent'],
  );
  const rest = (await call(app, r.token, 'GET', `/v1/tickets?limit=2&cursor=${first.next_cursor}`)).body;
  t.same(
    rest.data.map((x: Json) => x.subject),
    ['low'],
  );
  t.equal(rest.next_cursor, null);

  await call(app, op.token, 'POST', `/v1/admin/tickets/${third.id}/reply`, { body: 'answered' });
  const queue = (await call(app, op.token, 'GET', `/v1/admin/tickets?account_id=${r.accountId}`)).body.data;
  t.same(
    queue.map((x: Json) => x.subject),
    ['urgent', 'low', 'third'],
    'Emergency due 18:00 today, Low on Thursday, the answered one (no deadline) last',
  );
  const open2 = (await call(app, op.token, 'GET', `/v1/admin/tickets?account_id=${r.accountId}&state=answered`)).body;
  t.same(
    open2.data.map((x: Json) => x.id),
    [third.id],
  );
  t.equal(low.priority, 'low');
});

t.test('the queue and the e-mail log page by cursor, through tickets with and without a deadline', async (t) => {
  let clock = new Date('2027-01-11T09:00:00Z');
  const { app } = await buildTestApp(t, { now: () => clock });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const made: Json[] = [];
  for (let i = 0; i < 7; i++) {
    clock = new Date(Date.UTC(2027, 0, 11, 9, i));
    made.push(await open(app, r, { subject: `t${i}` }));
  }
  // Two answered (no deadline), one raised to Emergency (the earliest deadline).
  await call(app, op.token, 'POST', `/v1/admin/tickets/${made[1]!.id}/reply`, { body: 'answered' });
  await call(app, op.token, 'POST', `/v1/admin/tickets/${made[4]!.id}/reply`, { body: 'answered' });
  await call(app, op.token, 'POST', `/v1/admin/tickets/${made[5]!.id}/priority`, { priority: 'emergency' });
  const whole = (await call(app, op.token, 'GET', `/v1/admin/tickets?account_id=${r.accountId}`)).body;
  t.equal(whole.next_cursor, null);
  t.same(
    whole.data.map((x: Json) => x.subject),
    ['t5', 't0', 't2', 't3', 't6', 't1', 't4'],
    'by deadline, then by creation; those without a deadline last',
  );
  const paged: string[] = [];
  let cursor: string | null = '';
  let pages = 0;
  while (cursor !== null) {
    const page: Json = (
      await call(app, op.token, 'GET', `/v1/admin/tickets?account_id=${r.accountId}&limit=2&cursor=${cursor}`)
    ).body;
    paged.push(...page.data.map((x: Json) => x.subject));
    cursor = page.next_cursor;
    pages++;
  }
  t.same(
    paged,
    whole.data.map((x: Json) => x.subject),
    'pages of two give the same order, each ticket once',
  );
  t.equal(pages, 4);
  const first = (await call(app, op.token, 'GET', `/v1/admin/tickets?account_id=${r.accountId}&limit=2`)).body;
  const otherFilter = await call(
    app,
    op.token,
    'GET',
    `/v1/admin/tickets?account_id=${r.accountId}&state=open&limit=2&cursor=${first.next_cursor}`,
  );
  t.equal(otherFilter.status, 400, 'a cursor works only with the filters it was issued for');
  t.equal(otherFilter.body.code, 'invalid_cursor');

  await app.db.execute(sql`UPDATE accounts SET contact_email = 'log@paging.test' WHERE id = ${r.accountId}::uuid`);
  for (let i = 0; i < 5; i++) {
    clock = new Date(Date.UTC(2027, 0, 12, 9, 0, i % 2)); // two arrive in the same second, twice
    await app.inject({
      method: 'POST',
      url: '/v1/admin/tickets/inbound-email',
      headers: { ...bearer(op.token), 'content-type': 'message/rfc822' },
      payload: ['From: log@paging.test', `Subject: mail ${i}`, `Message-ID: <m${i}@paging.test>`, '', 'text', ''].join(
        '\r\n',
      ),
    });
  }
  const log: string[] = [];
  cursor = '';
  while (cursor !== null) {
    const page: Json = (await call(app, op.token, 'GET', `/v1/admin/tickets/inbound-email?limit=2&cursor=${cursor}`))
      .body;
    log.push(...page.data.map((x: Json) => x.subject));
    cursor = page.next_cursor;
  }
  t.equal(log.length, 5, 'every e-mail once');
  t.same([...log].sort(), ['mail 0', 'mail 1', 'mail 2', 'mail 3', 'mail 4']);
});

t.test(
  'R-TKT-10: the same message delivered twice is taken once; a reply to a merged ticket joins the one it was merged into',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    await app.db.execute(sql`UPDATE accounts SET contact_email = 'twice@thread.test' WHERE id = ${r.accountId}::uuid`);
    const send = (headers: string[], body: string) => sendMail(app, op.token, headers, body);
    const original = ['From: twice@thread.test', 'Subject: Mail is down', 'Message-ID: <once@thread.test>'];
    t.equal((await send(original, 'No mail since noon')).statusCode, 202);
    t.equal((await send(original, 'No mail since noon')).statusCode, 202, 'the retry is answered alike');
    const list = (await call(app, r.token, 'GET', '/v1/tickets')).body.data;
    t.equal(list.length, 1, 'one ticket, not two');
    const log = (await call(app, op.token, 'GET', '/v1/admin/tickets/inbound-email')).body.data;
    t.match(log, [
      { outcome: 'refused', refusal: 'duplicate', ticket_id: list[0].id },
      { outcome: 'opened', ticket_id: list[0].id },
    ]);

    const other = await open(app, r, { subject: 'Mail is down (phone)' });
    const merged = await call(app, op.token, 'POST', `/v1/admin/tickets/${other.id}/merge`, {
      ticket_ids: [list[0].id],
    });
    t.equal(merged.status, 200);
    await send(
      [
        'From: twice@thread.test',
        'Subject: Re: Mail is down',
        'Message-ID: <again@thread.test>',
        'In-Reply-To: <once@thread.test>',
      ],
      'Still down',
    );
    await send(
      ['From: twice@thread.test', `Subject: Re: [${list[0].reference}] Mail is down`, 'Message-ID: <ref@thread.test>'],
      'And now?',
    );
    const log2 = (await call(app, op.token, 'GET', '/v1/admin/tickets/inbound-email?limit=2')).body.data;
    t.match(log2, [
      { outcome: 'added', ticket_id: other.id },
      { outcome: 'added', ticket_id: other.id },
    ]);
    const detail = (await call(app, r.token, 'GET', `/v1/tickets/${other.id}`)).body;
    t.same(
      detail.messages.slice(-2).map((m: Json) => m.body),
      ['Still down', 'And now?'],
    );
  },
);

t.test('R-TKT-10: a contact address names one account: another cannot take it and so block its mail', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  const b = await reseller(app, op.token);
  const copy = await call(app, b.token, 'PATCH', '/v1/account', { contact_email: a.contactEmail.toUpperCase() });
  t.equal(copy.status, 409);
  t.equal(copy.body.code, 'contact_email_in_use');
  const byOperator = await call(app, op.token, 'PATCH', `/v1/admin/accounts/${b.accountId}`, {
    contact_email: a.contactEmail.replace('billing', 'Billing'),
  });
  t.equal(byOperator.body.code, 'contact_email_in_use', 'nor does an operator give it to a second account');
  t.equal(
    (await call(app, a.token, 'PATCH', '/v1/account', { contact_email: a.contactEmail.toUpperCase() })).status,
    200,
    'the account that has it may send it again (in any case)',
  );
  // Accounts made before the rule may share an address: each keeps sending its own form.
  await app.db.execute(sql`UPDATE accounts SET contact_email = ${a.contactEmail} WHERE id = ${b.accountId}::uuid`);
  t.equal(
    (await call(app, b.token, 'PATCH', '/v1/account', { contact_email: a.contactEmail, country: 'DE' })).status,
    200,
    'an account sending the address it already has is not refused',
  );
  await app.db.execute(
    sql`UPDATE accounts SET contact_email = ${`other-${b.contactEmail}`} WHERE id = ${b.accountId}::uuid`,
  );
  await app.inject({
    method: 'POST',
    url: '/v1/admin/tickets/inbound-email',
    headers: { ...bearer(op.token), 'content-type': 'message/rfc822' },
    payload: [`From: ${a.contactEmail}`, 'Subject: Still mine', '', 'text', ''].join('\r\n'),
  });
  const [mail] = (await call(app, op.token, 'GET', '/v1/admin/tickets/inbound-email')).body.data;
  t.match(mail, { outcome: 'opened', account_id: a.accountId });
});

t.test('R-TKT-10: the e-mail intake takes message/rfc822 only (415 for JSON)', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/admin/tickets/inbound-email',
    headers: bearer(op.token),
    payload: { from: 'someone@example.test', body: 'hello' },
  });
  t.equal(res.statusCode, 415, res.body);
  t.equal(res.headers['accept-post'], 'message/rfc822');
});

t.test('R-TKT-2: the criteria of each priority are readable and operator-edited', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const list = (await call(app, r.token, 'GET', '/v1/ticket-priorities')).body.data;
  t.same(
    list.map((p: Json) => [p.priority, p.response_hours, p.business_hours]),
    [
      ['emergency', 8, false],
      ['high', 16, true],
      ['medium', 24, true],
      ['low', 32, true],
    ],
  );
  t.ok(
    list[0].criteria.some((c: Json) => c.product === 'general' && c.criteria.length > 0),
    'seeded',
  );
  const set = await call(app, op.token, 'PUT', '/v1/admin/ticket-priorities/high/criteria/hosting', {
    criteria: ['Backups fail for every customer'],
  });
  t.equal(set.status, 200);
  const again = (await call(app, r.token, 'GET', '/v1/ticket-priorities')).body.data;
  t.same(again.find((p: Json) => p.priority === 'high').criteria.find((c: Json) => c.product === 'hosting').criteria, [
    'Backups fail for every customer',
  ]);
  const denied = await call(app, r.token, 'PUT', '/v1/admin/ticket-priorities/high/criteria/hosting', {
    criteria: ['mine'],
  });
  t.equal(denied.status, 403);
});

t.test(
  'R-TKT-10: a reply by In-Reply-To joins the ticket; the e-mail of a closed ticket is refused and recorded',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    await app.db.execute(sql`UPDATE accounts SET contact_email = 'help@thread.test' WHERE id = ${r.accountId}::uuid`);
    const send = (headers: string[], body: string) => sendMail(app, op.token, headers, body);
    await send(
      ['From: help@thread.test', 'Subject: DNS question', 'Message-ID: <first@thread.test>'],
      'Where are my NS?',
    );
    const [ticket] = (await call(app, r.token, 'GET', '/v1/tickets')).body.data;
    await send(
      [
        'From: "Help" <HELP@thread.test>',
        'Subject: Re: DNS question',
        'Message-ID: <second@thread.test>',
        'In-Reply-To: <first@thread.test>',
      ],
      'Also the glue records',
    );
    const detail = (await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).body;
    t.same(
      detail.messages.map((m: Json) => [m.channel, m.body]),
      [
        ['email', 'Where are my NS?'],
        ['email', 'Also the glue records'],
      ],
    );
    await call(app, op.token, 'POST', `/v1/admin/tickets/${ticket.id}/close`, { reason: 'answered_earlier' });
    const late = await send(
      ['From: help@thread.test', `Subject: Re: [${ticket.reference}] DNS question`, 'Message-ID: <third@thread.test>'],
      'one more thing',
    );
    t.equal(late.statusCode, 202);
    const log = (await call(app, op.token, 'GET', '/v1/admin/tickets/inbound-email')).body.data;
    t.match(log[0], { outcome: 'refused', refusal: 'ticket_state_conflict', ticket_id: ticket.id });
    const garbage = await app.inject({
      method: 'POST',
      url: '/v1/admin/tickets/inbound-email',
      headers: { ...bearer(op.token), 'content-type': 'message/rfc822' },
      payload: '\u0000\u0001 not a message',
    });
    t.equal(garbage.statusCode, 202);
  },
);

t.test(
  'R-TKT-3: two instances running the timers at once send each warning and breach once (PostgreSQL)',
  { skip: !onPostgres && 'PostgreSQL only (set DATABASE_URL): PGlite is one connection' },
  async (t) => {
    let clock = new Date('2027-01-11T09:00:00Z');
    const url = await postgresTestDatabase(t);
    const stores = [createPostgresStore(url, { max: 4 }), createPostgresStore(url, { max: 4 })];
    for (const s of stores) t.teardown(() => s.close());
    const [a, b] = [
      (await buildTestApp(t, { store: stores[0], now: () => clock })).app,
      (await buildTestApp(t, { store: stores[1], now: () => clock })).app,
    ];
    const op = await operator(a);
    const r = await reseller(a, op.token);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await open(a, r, { subject: `t${i}` })).id);
    clock = new Date('2027-01-15T09:00:00Z'); // past every deadline (Thursday 14:00)
    const handled = await Promise.all([
      a.jobs.run('ticket-timers', clock),
      b.jobs.run('ticket-timers', clock),
      a.jobs.run('ticket-timers', clock),
    ]);
    t.equal(
      handled.reduce((x, y) => x + y, 0),
      30,
      'every ticket handled by exactly one run',
    );
    await feedSettled(a);
    const count = async (type: string) =>
      (await call(a, r.token, 'GET', `/v1/events?type=${type}&limit=500`)).body.data.length as number;
    t.equal(await count('ticket.sla.warning'), 30);
    t.equal(await count('ticket.sla.breached'), 30);
    t.equal(await b.jobs.run('ticket-timers', clock), 0, 'nothing is due any more');
  },
);

t.test(
  'R-API-3: ticket calls do not count toward the bulk ceiling (a reseller past it can still ask for help)',
  async (t) => {
    const { app } = await buildTestApp(t, { env: { BULK_DAILY_THRESHOLD: '1', BULK_DAILY_CEILING: '2' } });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await call(app, r.token, 'POST', '/v1/tickets', ticketBody({ subject: `t${i}` }))).status);
    t.same(statuses, [201, 201, 201, 201]);
    // A contact (an update that counts) past the ceiling is refused: the counter is on.
    const contact = (i: number) =>
      call(app, r.token, 'POST', '/v1/contacts', {
        name: `C ${i}`,
        email: `c${i}@example.com`,
        phone: '+49.3012345678',
        address: { street: 'Hauptstr. 1', city: 'Berlin', postal_code: '10115', country: 'DE' },
      });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await contact(i));
    t.equal(results[2]!.status, 429);
    t.equal(results[2]!.body.code, 'bulk_notice_required');
  },
);

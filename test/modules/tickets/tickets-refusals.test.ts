// What the tickets area refuses, and how it says so: calendars the calendar functions cannot count
// on (no business hours, a bad zone, empty or overlapping intervals, a year of holidays) are refused
// with 422 before anything is saved, and a stored calendar that still could not give a deadline is
// answered as a clear problem, never a 500; merge points at the offending entry of ticket_ids; the
// e-mail intake's 415 names the media type it takes.
import { sql } from 'drizzle-orm';
import t from 'tap';
import type { App } from '../../../src/app.js';
import { queryRows } from '../../../src/db/client.js';
import { buildTestApp } from '../../helpers/app.js';
import { apiKey, bearer, operator, reseller, signed, type Reseller } from '../../helpers/fixtures.js';

type Json = Record<string, any>;

async function setup(t: Parameters<typeof buildTestApp>[0], start: string) {
  const clock = new Date(start);
  const { app } = await buildTestApp(t, { now: () => clock });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  return { app, op, r };
}

async function call(app: App, token: string, method: string, url: string, payload?: unknown) {
  const res = await app.inject({
    method: method as 'POST',
    url,
    headers: bearer(token),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json<Json>() : {} };
}

async function open(app: App, r: Reseller) {
  const res = await call(app, r.token, 'POST', '/v1/tickets', {
    subject: 'Cannot renew',
    description: 'Renewing example.com fails with an error since this morning',
    concerns: { type: 'product', ref: 'domains' },
  });
  if (res.status !== 201) throw new Error(`open: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const weekdays = Object.fromEntries(['1', '2', '3', '4', '5'].map((d) => [d, [{ start: '09:00', end: '18:00' }]]));

t.test('R-TKT-3: a calendar without business hours is refused and nothing is saved', async (t) => {
  const { app, op, r } = await setup(t, '2027-01-11T09:00:00Z'); // a Monday
  const before = (await call(app, op.token, 'GET', '/v1/admin/calendars')).body.data;

  const empty = await call(app, op.token, 'PUT', '/v1/admin/calendars/cal3', {
    name: 'empty',
    time_zone: 'Europe/Berlin',
    week: {},
    holidays: [],
    default: true,
  });
  t.equal(empty.status, 422);
  t.equal(empty.body.code, 'validation_failed');
  t.match(empty.body.errors, [{ pointer: '/body/week', code: 'invalid_calendar', message: /no business hours/ }]);
  t.equal((await call(app, op.token, 'GET', '/v1/admin/calendars/cal3')).status, 404, 'not created');
  t.same((await call(app, op.token, 'GET', '/v1/admin/calendars')).body.data, before, 'the default is unchanged');
  const ticket = await open(app, r);
  t.ok(ticket.sla.deadline_at, 'tickets still open, with a deadline');

  // Empty lists for every weekday are no business hours either.
  const lists = await call(app, op.token, 'PUT', '/v1/admin/calendars/cal3', {
    name: 'empty',
    time_zone: 'UTC',
    week: { '1': [], '2': [] },
    holidays: [],
  });
  t.equal(lists.status, 422);
  t.match(lists.body.errors, [{ pointer: '/body/week', code: 'invalid_calendar' }]);
});

t.test(
  'R-TKT-3: refusing a change to a calendar with a running period leaves it and the period as they were',
  async (t) => {
    const { app, op, r } = await setup(t, '2027-01-11T09:00:00Z');
    const saved = await call(app, op.token, 'PUT', '/v1/admin/calendars/cal4', {
      name: 'Berlin',
      time_zone: 'Europe/Berlin',
      week: weekdays,
      holidays: [],
      default: true,
    });
    t.equal(saved.status, 200);
    const ticket = await open(app, r);
    t.equal(ticket.sla.current.calendar_id, 'cal4');

    const refused = await call(app, op.token, 'PUT', '/v1/admin/calendars/cal4', {
      name: 'Berlin',
      time_zone: 'Europe/Berlin',
      week: {},
      holidays: [],
    });
    t.equal(refused.status, 422);
    t.match(refused.body.errors, [{ pointer: '/body/week', code: 'invalid_calendar' }]);
    const after = (await call(app, op.token, 'GET', '/v1/admin/calendars/cal4')).body;
    t.equal(after.version, saved.body.version, 'the version is not bumped');
    t.same(after.week, weekdays, 'the hours are unchanged');

    const priority = await call(app, op.token, 'POST', `/v1/admin/tickets/${ticket.id}/priority`, {
      priority: 'high',
    });
    t.equal(priority.status, 200, 'a priority change still computes the deadline');
    t.equal(priority.body.sla.current.calendar_id, 'cal4');
    t.ok(priority.body.sla.deadline_at);

    // A valid change is saved and recomputes the running period in the same transaction.
    const shorter = await call(app, op.token, 'PUT', '/v1/admin/calendars/cal4', {
      name: 'Berlin',
      time_zone: 'Europe/Berlin',
      week: { ...weekdays, '1': [{ start: '09:00', end: '12:00' }] },
      holidays: [],
    });
    t.equal(shorter.status, 200);
    t.equal(shorter.body.version, saved.body.version + 1);
    const recomputed = (await call(app, op.token, 'GET', `/v1/admin/tickets/${ticket.id}`)).body.ticket;
    t.not(recomputed.sla.deadline_at, priority.body.sla.deadline_at, 'the deadline follows the new hours');
  },
);

t.test('R-TKT-3: every calendar the calendar functions refuse is a 422 pointing at the field', async (t) => {
  const { app, op } = await setup(t, '2027-01-11T09:00:00Z');
  const put = (over: Json) =>
    call(app, op.token, 'PUT', '/v1/admin/calendars/bad', {
      name: 'bad',
      time_zone: 'UTC',
      week: weekdays,
      holidays: [],
      ...over,
    });
  const cases: [string, Json, string][] = [
    ['an unknown zone', { time_zone: 'Mars/Olympus' }, '/body/time_zone'],
    ['an empty interval', { week: { '1': [{ start: '10:00', end: '10:00' }] } }, '/body/week/1/0'],
    ['an interval ending before it starts', { week: { '2': [{ start: '18:00', end: '09:00' }] } }, '/body/week/2/0'],
    [
      'overlapping intervals',
      {
        week: {
          '3': [
            { start: '09:00', end: '13:00' },
            { start: '12:00', end: '18:00' },
          ],
        },
      },
      '/body/week/3/1',
    ],
    ['24:00 as a start', { week: { '4': [{ start: '24:00', end: '24:00' }] } }, '/body/week/4/0/start'],
    ['an impossible date', { holidays: [{ date: '2027-02-30' }] }, '/body/holidays/0/date'],
    ['a holiday with a start only', { holidays: [{ date: '2027-02-01', start: '09:00' }] }, '/body/holidays/0'],
    [
      'a part-day holiday ending before it starts',
      { holidays: [{ date: '2027-02-01', start: '12:00', end: '10:00' }] },
      '/body/holidays/0',
    ],
    [
      'more than a year of holidays in a row',
      {
        holidays: Array.from({ length: 400 }, (_, i) => ({
          date: new Date(Date.UTC(2027, 0, 1) + i * 86_400_000).toISOString().slice(0, 10),
        })),
      },
      '/body/holidays',
    ],
  ];
  for (const [what, over, pointer] of cases) {
    const res = await put(over);
    t.equal(res.status, 422, what);
    t.equal(res.body.code, 'validation_failed', what);
    t.match(res.body.errors, [{ pointer, code: 'invalid_calendar' }], what);
  }
  t.equal((await call(app, op.token, 'GET', '/v1/admin/calendars/bad')).status, 404, 'none was saved');
  // Holidays that leave business hours within the year are fine.
  const ok = await put({
    holidays: Array.from({ length: 300 }, (_, i) => ({
      date: new Date(Date.UTC(2027, 0, 1) + i * 86_400_000).toISOString().slice(0, 10),
    })),
  });
  t.equal(ok.status, 200);
});

t.test('R-TKT-3: a stored calendar that cannot give a deadline answers a clear problem, not a 500', async (t) => {
  const { app, op, r } = await setup(t, '2027-01-11T09:00:00Z');
  const ticket = await open(app, r);
  // Written past the API (by hand, by an older version): no business hours.
  await app.db.execute(
    sql`UPDATE ticket_calendars SET spec = ${JSON.stringify({ timeZone: 'UTC', week: {}, holidays: [] })}::jsonb,
        version = version + 1 WHERE is_default`,
  );
  const created = await call(app, r.token, 'POST', '/v1/tickets', {
    subject: 'Another',
    description: 'Something else is broken',
    concerns: { type: 'product', ref: 'domains' },
  });
  t.equal(created.status, 503);
  t.equal(created.body.code, 'service_unavailable');
  t.match(created.body.detail, /support calendar cannot give a deadline .*no business hours/);
  t.equal((await call(app, r.token, 'GET', '/v1/tickets')).body.data.length, 1, 'nothing was written');

  const priority = await call(app, op.token, 'POST', `/v1/admin/tickets/${ticket.id}/priority`, {
    priority: 'medium',
  });
  t.equal(priority.status, 503);
  t.match(priority.body.detail, /support calendar/);
  t.equal(
    (await call(app, op.token, 'GET', `/v1/admin/tickets/${ticket.id}`)).body.ticket.priority,
    'low',
    'not changed',
  );
});

t.test('R-TKT-8: merge and split point at the offending entry by its index in the body', async (t) => {
  const { app, op, r } = await setup(t, '2027-01-11T09:00:00Z');
  const other = await reseller(app, op.token);
  const mine = await open(app, r);
  const mine2 = await open(app, r);
  const theirs = await open(app, other);

  const alone = await call(app, op.token, 'POST', `/v1/admin/tickets/${mine.id}/merge`, { ticket_ids: [theirs.id] });
  t.equal(alone.status, 422);
  t.match(alone.body.errors, [{ pointer: '/body/ticket_ids/0', code: 'other_account' }]);
  t.equal(alone.body.errors.length, 1);

  const second = await call(app, op.token, 'POST', `/v1/admin/tickets/${mine.id}/merge`, {
    ticket_ids: [mine2.id, theirs.id],
  });
  t.match(second.body.errors, [{ pointer: '/body/ticket_ids/1', code: 'other_account' }]);
  const first = await call(app, op.token, 'POST', `/v1/admin/tickets/${mine.id}/merge`, {
    ticket_ids: [theirs.id, mine2.id],
  });
  t.match(first.body.errors, [{ pointer: '/body/ticket_ids/0', code: 'other_account' }]);
  t.equal(
    (await call(app, op.token, 'GET', `/v1/admin/tickets/${mine2.id}`)).body.ticket.state,
    'open',
    'nothing merged',
  );

  await call(app, r.token, 'POST', `/v1/tickets/${mine.id}/messages`, { body: 'More detail' });
  const detail = (await call(app, op.token, 'GET', `/v1/admin/tickets/${mine.id}`)).body;
  const split = await call(app, op.token, 'POST', `/v1/admin/tickets/${mine.id}/split`, {
    message_ids: [detail.messages[1].id, '00000000-0000-4000-8000-000000000000'],
    subject: 'Split',
  });
  t.equal(split.status, 422);
  t.match(split.body.errors, [{ pointer: '/body/message_ids/1', code: 'unknown_message' }]);
});

t.test(
  'R-TKT-10: the e-mail intake answers 415 naming message/rfc822; JSON routes name application/json',
  async (t) => {
    const { app, op } = await setup(t, '2027-01-11T09:00:00Z');
    const res = await app.inject({
      method: 'POST',
      url: '/v1/admin/tickets/inbound-email',
      headers: { ...bearer(op.token), 'content-type': 'text/plain' },
      payload: 'From: a@b.test\r\n\r\nhello',
    });
    t.equal(res.statusCode, 415);
    t.equal(res.json().code, 'unsupported_media_type');
    t.match(res.json().detail, /message\/rfc822/);
    t.notMatch(res.json().detail, /application\/json/);

    const json = await app.inject({
      method: 'PUT',
      url: '/v1/admin/calendars/x',
      headers: { ...bearer(op.token), 'content-type': 'text/plain' },
      payload: '{}',
    });
    t.equal(json.statusCode, 415);
    t.match(json.json().detail, /application\/json/);
  },
);

t.test(
  'R-TKT-10: only the e-mail intake takes message/rfc822; a ticket call with an e-mail body is refused (a signature would not cover it)',
  async (t) => {
    const { app, op, r } = await setup(t, '2027-01-11T09:00:00Z');
    const ticket = await open(app, r);
    const mail = `From: ${r.contactEmail}\r\nSubject: x\r\n\r\nforged body`;
    // A reseller's ticket route that takes no body: an e-mail body is refused, not parsed and ignored.
    const key = await apiKey(app, r.token, ['tickets:write']);
    for (const path of ['revoke', 'suspend']) {
      const res = await app.inject({
        method: 'POST',
        url: `/v1/tickets/${ticket.id}/${path}`,
        headers: { ...signed(key, 'POST', `/v1/tickets/${ticket.id}/${path}`), 'content-type': 'message/rfc822' },
        payload: mail,
      });
      t.equal(res.statusCode, 415, `${path}: ${res.body}`);
    }
    const opened = await app.inject({
      method: 'POST',
      url: '/v1/tickets',
      headers: { ...bearer(r.token), 'content-type': 'message/rfc822' },
      payload: mail,
    });
    t.equal(opened.statusCode, 415);
    t.equal(
      ((await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).body.ticket as { state: string }).state,
      'open',
      'nothing changed',
    );

    // The intake still takes it.
    const taken = await app.inject({
      method: 'POST',
      url: '/v1/admin/tickets/inbound-email',
      headers: { ...bearer(op.token), 'content-type': 'message/rfc822' },
      payload: mail,
    });
    t.equal(taken.statusCode, 202, taken.body);
  },
);

t.test(
  "R-API-2, R-TKT-1: a ticket that failed is not opened again unaltered; the lookup is made by the ticket's own statement",
  async (t) => {
    const { app, r } = await setup(t, '2027-01-11T09:00:00Z');
    const count = async (query: ReturnType<typeof sql>) =>
      Number((await queryRows<{ n: string }>(app.db, query))[0]!.n);
    const tickets = () => count(sql`SELECT count(*) AS n FROM tickets WHERE account_id = ${r.accountId}::uuid`);
    const refusals = () =>
      count(
        sql`SELECT count(*) AS n FROM audit_events WHERE operation = 'createTicket' AND error_code = 'repeated_failed_command'`,
      );
    const about = (name: string, extra: Json = {}) => ({
      subject: `Mail to ${name} bounces`,
      description: 'Every message to the domain bounces since the filter was set up',
      concerns: { type: 'spam_filter_domain', ref: name },
      ...extra,
    });
    const filterDomain = (name: string) =>
      app.db.execute(
        sql`INSERT INTO spam_filter_domains (account_id, name, destinations, products, period_anchor)
            VALUES (${r.accountId}::uuid, ${name}, '[]'::jsonb, '{incoming}', now())`,
      );

    // Refused before the statement (the domain is not the account's): the repeat is refused as one.
    const first = await call(app, r.token, 'POST', '/v1/tickets', about('later.test'));
    t.equal(first.status, 422);
    t.equal(first.body.errors[0].code, 'unknown_service');
    // Still failing before its statement: the lookup is made after the failure (onError).
    const early = await call(app, r.token, 'POST', '/v1/tickets', about('later.test'));
    t.equal(early.status, 409);
    t.equal(early.body.code, 'repeated_failed_command');
    t.equal(early.body.first_failure.request_id, first.body.request_id);
    // The domain becomes the account's behind the API's back (no success of ours forgets the
    // failure): the identical command now passes every check up to its statement, which finds the
    // remembered failure and writes nothing.
    await filterDomain('later.test');
    const before = await tickets();
    const refusedBefore = await refusals();
    const repeat = await call(app, r.token, 'POST', '/v1/tickets', about('later.test'));
    t.equal(repeat.status, 409);
    t.equal(repeat.body.code, 'repeated_failed_command');
    t.equal(repeat.body.first_failure.request_id, first.body.request_id);
    t.equal(await tickets(), before, 'the refused repeat opened no ticket');
    t.equal(await refusals(), refusedBefore + 1, 'the refusal is audited, once');
    const [refusal] = await queryRows<{ target_id: string | null; request_id: string }>(
      app.db,
      sql`SELECT target_id, request_id FROM audit_events WHERE request_id = ${repeat.body.request_id}`,
    );
    t.equal(refusal?.target_id, null, 'and names no ticket, since none was opened');

    // Tickets arriving together share one statement: the repeat among them is refused, the others opened.
    const together = await Promise.all([
      call(app, r.token, 'POST', '/v1/tickets', about('later.test')),
      call(app, r.token, 'POST', '/v1/tickets', about('later.test', { subject: 'Altered: mail bounces' })),
      call(app, r.token, 'POST', '/v1/tickets', {
        subject: 'Renewal fails',
        description: 'Renewing fails since this morning',
        concerns: { type: 'product', ref: 'domains' },
      }),
    ]);
    t.same(
      together.map((res) => [res.status, res.status === 201 ? null : res.body.code]),
      [
        [409, 'repeated_failed_command'],
        [201, null],
        [201, null],
      ],
    );
    t.equal(await tickets(), before + 2);

    // With attachments (the transactional path) the lookup is made first: the repeat is refused too.
    const withFile = about('other.test', { attachments: [{ filename: 'log.txt', content_base64: 'aGVsbG8K' }] });
    const failed = await call(app, r.token, 'POST', '/v1/tickets', withFile);
    t.equal(failed.status, 422);
    await filterDomain('other.test');
    const again = await call(app, r.token, 'POST', '/v1/tickets', withFile);
    t.equal(again.status, 409);
    t.equal(again.body.code, 'repeated_failed_command');
    t.equal(await tickets(), before + 2, 'nothing opened');
  },
);

t.test('R-TKT-10: a ticket taken by phone for an account that does not exist is refused', async (t) => {
  const { app, op } = await setup(t, '2027-01-11T09:00:00Z');
  const res = await call(app, op.token, 'POST', '/v1/admin/tickets', {
    account_id: '00000000-0000-4000-8000-00000000abcd',
    channel: 'phone',
    subject: 'Caller cannot log in',
    description: 'The caller cannot log in since this morning',
    concerns: { type: 'product', ref: 'domains' },
  });
  t.equal(res.status, 422);
  t.match(res.body.errors, [{ pointer: '/body/account_id', code: 'unknown_account' }]);
  const [row] = await queryRows<{ n: string }>(app.db, sql`SELECT count(*) AS n FROM tickets`);
  t.equal(Number(row!.n), 0, 'nothing opened');
});

t.test(
  'R-TKT-10: a NUL anywhere in an e-mail (subject, body, file name) is taken as U+FFFD, never a 500',
  async (t) => {
    const { app, op, r } = await setup(t, '2027-01-11T09:00:00Z');
    const intake = (mail: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/admin/tickets/inbound-email',
        headers: { ...bearer(op.token), 'content-type': 'message/rfc822' },
        payload: mail,
      });
    // "a\0b" as an encoded word: the parser hands the NUL on.
    const first = await intake(
      `From: ${r.contactEmail}\r\nSubject: =?utf-8?B?YQBi?=\r\nMessage-ID: <n1@x>\r\n\r\nBody`,
    );
    t.equal(first.statusCode, 202, first.body);
    const list = (await call(app, r.token, 'GET', '/v1/tickets')).body.data as Json[];
    t.equal(list.length, 1, 'one ticket opened');
    t.equal(list[0]!.subject, 'a\uFFFDb');
    const number = list[0]!.reference as string;

    const follow = await intake(
      `From: ${r.contactEmail}\r\nSubject: Re: ${number}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nfollow=00up`,
    );
    t.equal(follow.statusCode, 202, follow.body);
    const attached = await intake(
      [
        `From: ${r.contactEmail}`,
        `Subject: Re: ${number}`,
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        'see the file',
        '--b',
        'Content-Type: text/plain',
        "Content-Disposition: attachment; filename*=utf-8''a%00b.txt",
        '',
        'file body',
        '--b--',
        '',
      ].join('\r\n'),
    );
    t.equal(attached.statusCode, 202, attached.body);
    const ticket = (await call(app, r.token, 'GET', `/v1/tickets/${list[0]!.id}`)).body;
    const bodies = (ticket.messages as Json[]).map((m) => m.body);
    t.ok(bodies.includes('follow\uFFFDup'), 'the follow-up was added, its NUL replaced');
    const files = (ticket.messages as Json[]).flatMap((m) => (m.attachments as Json[]).map((a) => a.filename));
    t.same(files, ['a\uFFFDb.txt'], 'the attachment was kept, its name made storable');
    t.equal(((await call(app, r.token, 'GET', '/v1/tickets')).body.data as Json[]).length, 1, 'still one ticket');
  },
);

t.test(
  'R-TKT-8 (operators): a ticket is assigned to an active operator only, and a final ticket takes no more changes',
  async (t) => {
    const { app, op, r } = await setup(t, '2027-01-11T09:00:00Z');
    const ticket = await open(app, r);
    const assign = (assignee_id: string | null) =>
      call(app, op.token, 'POST', `/v1/admin/tickets/${ticket.id}/assign`, { assignee_id });
    for (const who of ['00000000-0000-4000-8000-000000000000', r.ownerId]) {
      const refused = await assign(who);
      t.equal(refused.status, 422);
      t.match(refused.body.errors, [{ pointer: '/body/assignee_id', code: 'unknown_operator' }], 'not an operator');
    }
    const assigned = await assign(op.userId);
    t.equal(assigned.status, 200);
    t.equal(assigned.body.assignee_id, op.userId);

    t.equal((await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/revoke`)).status, 200);
    for (const [action, body] of [
      ['assign', { assignee_id: null }],
      ['product-team', { involved: true }],
      ['sla-waiver', { reason: 'after the fact' }],
    ] as const) {
      const res = await call(app, op.token, 'POST', `/v1/admin/tickets/${ticket.id}/${action}`, body);
      t.equal(res.status, 409, `${action} on a revoked ticket`);
      t.equal(res.body.code, 'ticket_state_conflict');
    }
    const shown = (await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).body.ticket as Json;
    t.match(shown, { state: 'revoked', assignee_id: op.userId, sla: { applies: true } }, 'nothing changed');
  },
);

t.test('R-TKT-1: an attachment is base64 as RFC 4648 writes it, and at least one byte', async (t) => {
  const { app, r } = await setup(t, '2027-01-11T09:00:00Z');
  const ticket = await open(app, r);
  for (const content_base64 of ['A', 'AB=', 'ABC', '', 'aGVsbG8']) {
    const res = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/messages`, {
      body: 'the log',
      attachments: [{ filename: 'log.txt', content_base64 }],
    });
    t.equal(res.status, 422, `${JSON.stringify(content_base64)} refused`);
    t.match(res.body.errors, [{ pointer: '/body/attachments/0/content_base64' }]);
  }
  const ok = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/messages`, {
    body: 'the log',
    attachments: [{ filename: 'log.txt', content_base64: 'aGVsbG8K' }],
  });
  t.equal(ok.status, 200, 'padded whole groups are taken');
});

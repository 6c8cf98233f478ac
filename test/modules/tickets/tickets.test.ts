// Issue 16: support tickets with response-time SLAs on business-hour calendars (R-TKT-1..10):
// deadlines outside business hours, over weekends, holidays and a daylight-saving change, priority
// changes, information requests and the 72-hour close, suspension, pauses, objections and the 5-day
// finalisation, split and merge, inbound e-mail, and each account seeing only its own tickets.
import { sql } from 'drizzle-orm';
import t from 'tap';
import type { App } from '../../../src/app.js';
import { feedSettled } from '../../helpers/events.js';
import { bearer, reseller, type Reseller } from '../../helpers/fixtures.js';
import { adminAction, call, openTicket, ticketSetup, type Json } from '../../helpers/tickets.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const setup = ticketSetup;
const open = openTicket;
const admin = adminAction;

async function eventsOf(app: App, r: Reseller, type: string) {
  await feedSettled(app);
  const res = await app.inject({ method: 'GET', url: `/v1/events?type=${type}&limit=500`, headers: bearer(r.token) });
  return res.json().data as { object: { id: string }; data: Json }[];
}

t.test('R-TKT-2, R-TKT-3: a Friday-evening ticket is Low, 32 business hours, due next Thursday 13:00', async (t) => {
  const { app, r } = await setup(t, '2027-01-08T17:00:00Z'); // a Friday
  const ticket = await open(app, r, { requested_priority: 'high', justification: 'Customers cannot renew' });
  t.equal(ticket.state, 'open');
  t.equal(ticket.priority, 'low', 'new tickets are Low whatever was requested');
  t.equal(ticket.requested_priority, 'high');
  t.match(ticket.reference, /^T-\d{6}$/);
  // Friday 17:00-18:00 is 1 h; Mon-Wed 27 h; Thursday 09:00 + 4 h = 13:00.
  t.equal(ticket.sla.deadline_at, '2027-01-14T13:00:00.000Z');
  t.equal(ticket.sla.current.goal_seconds, 32 * 3600);
  t.equal(ticket.sla.current.business_hours, true);
  t.equal(ticket.sla.current.cause, 'registered');
  t.same(
    ticket.priorities.map((p: Json) => [p.kind, p.priority]),
    [
      ['assigned', 'low'],
      ['requested', 'high'],
    ],
  );
  const refused = await app.inject({
    method: 'POST',
    url: '/v1/tickets',
    headers: bearer(r.token),
    payload: {
      subject: 'x',
      description: 'y',
      concerns: { type: 'product', ref: 'domains' },
      requested_priority: 'high',
    },
  });
  t.equal(refused.statusCode, 422, 'a higher priority needs a justification');
});

t.test('R-TKT-3: a Saturday-night Emergency counts 8 calendar hours from the period start', async (t) => {
  const { app, op, r, at } = await setup(t, '2027-01-09T02:00:00Z'); // Saturday 02:00
  const ticket = await open(app, r);
  t.equal(ticket.sla.deadline_at, '2027-01-14T14:00:00.000Z', 'Low: 32 business hours from Monday 09:00');
  at('2027-01-09T03:00:00Z');
  const raised = await admin(app, op.token, ticket.id, 'priority', { priority: 'emergency', reason: 'outage' });
  t.equal(raised.sla.deadline_at, '2027-01-09T10:00:00.000Z', 'recomputed from the period start: 02:00 + 8 h');
  t.equal(raised.sla.current.business_hours, false);
  t.equal(raised.sla.time_left_seconds, 7 * 3600);
  // R-TKT-9: the product team involved, business hours whatever the priority.
  const team = await admin(app, op.token, ticket.id, 'product-team', { involved: true });
  t.equal(team.sla.deadline_at, '2027-01-11T17:00:00.000Z', '8 business hours from Monday 09:00');
  t.equal((await eventsOf(app, r, 'ticket.priority_changed')).length, 1);
});

t.test('R-TKT-2: a priority change mid-period recomputes the running period from its start', async (t) => {
  const { app, op, r, at } = await setup(t, '2027-01-11T09:00:00Z'); // Monday
  const ticket = await open(app, r);
  t.equal(ticket.sla.deadline_at, '2027-01-14T14:00:00.000Z', 'Low: 27 h Mon-Wed + 5 h Thursday');
  at('2027-01-11T12:00:00Z');
  const high = await admin(app, op.token, ticket.id, 'priority', { priority: 'high' });
  t.equal(high.sla.deadline_at, '2027-01-12T16:00:00.000Z', 'High: 9 h Monday + 7 h Tuesday from 09:00 Monday');
  t.equal(high.sla.current.priority, 'high');
  t.equal(high.sla.time_left_seconds, 13 * 3600);
  const medium = await admin(app, op.token, ticket.id, 'priority', { priority: 'medium' });
  t.equal(medium.sla.deadline_at, '2027-01-13T15:00:00.000Z', 'Medium: 24 business hours');
  t.same(
    medium.priorities.map((p: Json) => p.priority),
    ['low', 'high', 'medium'],
    'the full history is kept',
  );
});

t.test(
  'R-TKT-4, R-TKT-6, R-TKT-7: information requested, the 72-hour close, an objection, the 5-day finalisation',
  async (t) => {
    const { app, op, r, at, timers } = await setup(t, '2027-01-11T09:00:00Z');
    const ticket = await open(app, r);
    at('2027-01-11T11:00:00Z');
    const asked = await admin(app, op.token, ticket.id, 'request-information', { body: 'Which registrant?' });
    t.equal(asked.state, 'awaiting_user');
    t.equal(asked.sla.current, null, 'asking stops the countdown');
    t.match(asked.sla.periods[0], { outcome: 'met', ended_by: 'information_request', elapsed_seconds: 2 * 3600 });
    t.equal(asked.information_due_at, '2027-01-14T11:00:00.000Z');

    // Provided: a full new period from then.
    at('2027-01-12T10:00:00Z');
    const provided = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/provide-information`, {
      body: 'The owner contact',
    });
    t.equal(provided.state, 'open');
    t.equal(provided.sla.current.cause, 'information_provided');
    t.equal(provided.sla.current.started_at, '2027-01-12T10:00:00.000Z');
    t.equal(provided.sla.deadline_at, '2027-01-15T15:00:00.000Z', '32 business hours from Tuesday 10:00');

    // Asked again, not answered: 72 hours later the timer closes it.
    at('2027-01-12T12:00:00Z');
    await admin(app, op.token, ticket.id, 'request-information', { body: 'And the error text?' });
    at('2027-01-15T11:59:59Z');
    await timers();
    t.equal((await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).ticket.state, 'awaiting_user', 'not before');
    at('2027-01-15T12:00:00Z');
    t.equal(await timers(), 1);
    const closed = (await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).ticket;
    t.match(closed, {
      state: 'closed',
      close_reason: 'information_not_provided',
      closed_at: '2027-01-15T12:00:00.000Z',
      objection_until: '2027-01-20T12:00:00.000Z',
    });
    t.equal((await eventsOf(app, r, 'ticket.closed')).length, 1, 'R-TKT-7: the close notifies');

    // An objection within 5 days reopens it with a new period.
    at('2027-01-18T09:00:00Z');
    const reopened = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/objection`, {
      justification: 'I sent the error text by phone',
    });
    t.equal(reopened.state, 'open');
    t.equal(reopened.sla.current.cause, 'reopened');
    t.equal((await eventsOf(app, r, 'ticket.reopened')).length, 1);

    // Closed again; no objection: 5 days later it is final.
    at('2027-01-18T10:00:00Z');
    await admin(app, op.token, ticket.id, 'close', { reason: 'resolved', body: 'Fixed' });
    at('2027-01-23T10:00:00Z');
    await timers();
    const final = (await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).ticket;
    t.equal(final.state, 'closed_without_comments');
    t.equal((await eventsOf(app, r, 'ticket.closed_without_comments')).length, 1);
    const late = await app.inject({
      method: 'POST',
      url: `/v1/tickets/${ticket.id}/objection`,
      headers: bearer(r.token),
      payload: { justification: 'too late' },
    });
    t.equal(late.statusCode, 409);
    t.equal(late.json().code, 'objection_window_over');
  },
);

t.test(
  'R-TKT-6, R-TKT-7: a window that closed before the timer job ran holds all the same (the information, then the objection)',
  async (t) => {
    const { app, op, r, at } = await setup(t, '2027-01-11T09:00:00Z');
    const ticket = await open(app, r);
    await admin(app, op.token, ticket.id, 'request-information', { body: 'Which registrant?' });
    // 72 hours and a second later; the job has not run.
    at('2027-01-14T09:00:01Z');
    const late = await app.inject({
      method: 'POST',
      url: `/v1/tickets/${ticket.id}/provide-information`,
      headers: bearer(r.token),
      payload: { body: 'The owner contact' },
    });
    t.equal(late.statusCode, 409, 'the information came after the 72 hours');
    t.equal(late.json().code, 'ticket_state_conflict');
    const closed = (await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).ticket;
    t.match(
      closed,
      { state: 'closed', close_reason: 'information_not_provided', closed_at: '2027-01-14T09:00:00.000Z' },
      'closed as the timer would have, at its due instant',
    );
    t.equal((await eventsOf(app, r, 'ticket.closed')).length, 1, 'once, with its event');

    // The 5 days to object passed, the job has not run: revoking is not a way around the final state.
    at('2027-01-19T09:00:01Z');
    const revoke = await app.inject({
      method: 'POST',
      url: `/v1/tickets/${ticket.id}/revoke`,
      headers: bearer(r.token),
    });
    t.equal(revoke.statusCode, 409);
    t.equal((await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).ticket.state, 'closed_without_comments');
  },
);

t.test('R-TKT-3: a reply ends the period; the user message after it starts a full one', async (t) => {
  const { app, op, r, at } = await setup(t, '2027-01-11T09:00:00Z');
  const ticket = await open(app, r);
  at('2027-01-11T10:30:00Z');
  const replied = await admin(app, op.token, ticket.id, 'reply', { body: 'Try again now' });
  t.equal(replied.state, 'answered');
  t.match(replied.sla.periods[0], { outcome: 'met', ended_by: 'reply', elapsed_seconds: 5400 });
  at('2027-01-11T17:00:00Z');
  const again = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/messages`, { body: 'Still failing' });
  t.equal(again.state, 'open');
  t.equal(again.sla.current.cause, 'user_message');
  t.equal(again.sla.deadline_at, '2027-01-15T13:00:00.000Z', '1 h Monday + 27 h + 4 h Friday');
  // Internal notes never reach the reseller.
  await admin(app, op.token, ticket.id, 'notes', { body: 'customer seems to retry too fast' });
  const own = await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`);
  t.notOk(own.messages.some((m: Json) => m.kind === 'note'));
  const ops = await call(app, op.token, 'GET', `/v1/admin/tickets/${ticket.id}`);
  t.ok(ops.messages.some((m: Json) => m.kind === 'note' && m.internal));
});

t.test(
  'R-TKT-4, R-TKT-5, R-TKT-6: a ticket suspended while information is awaited resumes awaiting it, with 72 hours anew',
  async (t) => {
    const { app, op, r, at, timers } = await setup(t, '2027-01-18T10:00:00Z');
    const ticket = await open(app, r);
    await admin(app, op.token, ticket.id, 'request-information', { body: 'Which registrant?' });
    at('2027-01-20T11:00:00Z');
    const suspended = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/suspend`);
    t.equal(suspended.state, 'suspended');
    t.equal(suspended.information_requested_at, '2027-01-18T10:00:00.000Z', 'the request stays on record');
    t.equal(suspended.information_due_at, null, 'its 72 hours stop while suspended');
    at('2027-01-29T11:00:00Z');
    await timers();
    t.equal((await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).ticket.state, 'suspended', 'not closed');
    const resumed = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/resume`);
    t.equal(resumed.state, 'awaiting_user', 'back to the user: the information is still missing');
    t.equal(resumed.sla.current, null, 'no provider period runs without the information');
    t.equal(resumed.information_due_at, '2027-02-01T11:00:00.000Z', '72 hours from the resumption');
    at('2027-02-01T11:00:00Z');
    t.equal(await timers(), 1);
    t.match((await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).ticket, {
      state: 'closed',
      close_reason: 'information_not_provided',
    });
  },
);

t.test("R-TKT-6: information_not_provided is the 72-hour timer's reason, never an operator's", async (t) => {
  const { app, op, r } = await setup(t, '2027-01-18T10:00:00Z');
  const ticket = await open(app, r);
  const res = await app.inject({
    method: 'POST',
    url: `/v1/admin/tickets/${ticket.id}/close`,
    headers: bearer(op.token),
    payload: { reason: 'information_not_provided' },
  });
  t.equal(res.statusCode, 422);
  t.equal(res.json().errors[0].pointer, '/body/reason');
  t.equal((await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).ticket.state, 'open', 'still open');
});

t.test('R-TKT-5: suspension stops the period; resuming starts the countdown anew; revoking is final', async (t) => {
  const { app, r, at } = await setup(t, '2027-01-11T09:00:00Z');
  const ticket = await open(app, r);
  at('2027-01-12T09:00:00Z');
  const suspended = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/suspend`);
  t.equal(suspended.state, 'suspended');
  t.match(suspended.sla.periods[0], { outcome: 'stopped', ended_by: 'suspended', elapsed_seconds: 9 * 3600 });
  at('2027-01-13T09:00:00Z');
  const resumed = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/resume`);
  t.equal(resumed.sla.current.cause, 'resumed');
  t.equal(resumed.sla.deadline_at, '2027-01-18T14:00:00.000Z', 'a full 32 hours from Wednesday 09:00');
  const revoked = await call(app, r.token, 'POST', `/v1/tickets/${ticket.id}/revoke`);
  t.equal(revoked.state, 'revoked');
  const after = await app.inject({
    method: 'POST',
    url: `/v1/tickets/${ticket.id}/messages`,
    headers: bearer(r.token),
    payload: { body: 'hello?' },
  });
  t.equal(after.statusCode, 409);
  t.equal(after.json().code, 'ticket_state_conflict');
});

t.test(
  '6.8: a vendor-wait pause and an agreed-time pause move the deadline by exactly the paused business time',
  async (t) => {
    const { app, op, r, at, timers } = await setup(t, '2027-01-11T09:00:00Z');
    const ticket = await open(app, r);
    at('2027-01-11T12:00:00Z');
    const timed = await admin(
      app,
      op.token,
      ticket.id,
      'pause',
      { reason: 'vendor_response', until: '2027-01-12T12:00:00Z' },
      422,
    );
    t.match(timed.errors, [{ pointer: '/body/until', code: 'until_not_allowed' }], 'a vendor wait has no set end');
    const paused = await admin(app, op.token, ticket.id, 'pause', { reason: 'vendor_response', note: 'asked Plesk' });
    t.equal(paused.sla.deadline_at, null, 'no deadline while waiting for the vendor');
    t.equal(paused.sla.current.paused, true);
    at('2027-01-12T12:00:00Z'); // 9 business hours later
    const unpaused = await admin(app, op.token, ticket.id, 'unpause');
    t.equal(unpaused.sla.deadline_at, '2027-01-15T14:00:00.000Z', 'Thursday 14:00 + the 9 paused business hours');
    t.match(unpaused.sla.current.pauses[0], { reason: 'vendor_response', duration_seconds: DAY / 1000 });

    // An agreed time centuries ahead would move the deadline past what a date holds.
    for (const until of ['9999-12-31T23:59:59Z', '2028-01-14T12:00:00Z']) {
      const far = await admin(app, op.token, ticket.id, 'pause', { reason: 'agreed_time', until }, 422);
      t.match(far.errors, [{ pointer: '/body/until', code: 'until_too_far' }], `${until}: more than 366 days ahead`);
    }
    // Agreed with the user: until Wednesday 15:00; the deadline is known meanwhile.
    const agreed = await admin(app, op.token, ticket.id, 'pause', {
      reason: 'agreed_time',
      until: '2027-01-13T15:00:00Z',
    });
    t.equal(
      agreed.sla.deadline_at,
      '2027-01-18T17:00:00.000Z',
      'Friday 14:00 + the 12 business hours to Wednesday 15:00',
    );
    at('2027-01-13T15:00:00Z');
    await timers();
    const running = (await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).ticket;
    t.equal(running.sla.current.paused, false, 'the agreed time resumes the clock by itself');
    t.equal(running.sla.current.pauses[1].ended_at, '2027-01-13T15:00:00.000Z');
    t.equal(running.sla.deadline_at, '2027-01-18T17:00:00.000Z');
  },
);

t.test('R-TKT-3: a warning before the breach and the breach, each once; a late reply is breached', async (t) => {
  const { app, op, r, at, timers } = await setup(t, '2027-01-11T09:00:00Z');
  const ticket = await open(app, r);
  at('2027-01-14T12:00:00Z'); // 2 business hours before Thursday 14:00
  await timers();
  await timers();
  t.equal((await eventsOf(app, r, 'ticket.sla.warning')).length, 1);
  t.equal((await eventsOf(app, r, 'ticket.sla.breached')).length, 0);
  at('2027-01-14T15:00:00Z');
  await timers();
  await timers();
  t.equal((await eventsOf(app, r, 'ticket.sla.breached')).length, 1);
  const shown = (await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).ticket;
  t.equal(shown.sla.breached, true);
  t.equal(shown.sla.time_left_seconds, -3600);
  const queue = (await call(app, op.token, 'GET', '/v1/admin/tickets?breached=true')).data;
  t.ok(
    queue.some((x: Json) => x.id === ticket.id),
    'the queue filters breached tickets',
  );
  const replied = await admin(app, op.token, ticket.id, 'reply', { body: 'sorry' });
  t.match(replied.sla.periods[0], { outcome: 'breached', breached_at: '2027-01-14T14:00:00.000Z' });

  // 6.6: a waived deadline shows that instead of a breach.
  const other = await open(app, r);
  const late = await open(app, r);
  at('2027-01-25T09:00:00Z');
  // Suspended by the user after its deadline passed: a breach that no response ended.
  const suspended = await call(app, r.token, 'POST', `/v1/tickets/${late.id}/suspend`);
  t.match(suspended.sla.periods[0], { ended_by: 'suspended', outcome: 'breached' });
  const waived = await admin(app, op.token, other.id, 'sla-waiver', { reason: 'changed the DNS without telling us' });
  t.equal(waived.sla.applies, false);
  t.equal(waived.sla.breached, false);
  t.equal(waived.sla.current.outcome, 'not_applicable');
  const report = await call(
    app,
    op.token,
    'GET',
    '/v1/admin/tickets/sla-report?from=2027-01-01T00:00:00Z&to=2027-02-01T00:00:00Z',
  );
  t.match(
    report.priorities.find((p: Json) => p.priority === 'low'),
    { met: 0, breached: 2, median_response_seconds: 33 * 3600, p90_response_seconds: 33 * 3600 },
    'both breaches count; the response times are those of the responses alone',
  );
  const backwards = await app.inject({
    method: 'GET',
    url: '/v1/admin/tickets/sla-report?from=2027-02-01T00:00:00Z&to=2027-01-01T00:00:00Z',
    headers: bearer(op.token),
  });
  t.equal(backwards.statusCode, 422, 'a window that ends before it starts is refused, not an empty report');
  t.equal(backwards.json().errors[0].code, 'not_after_from');
});

t.test('calendars: whole- and part-day holidays and a daylight-saving change move deadlines', async (t) => {
  const { app, op, r } = await setup(t, '2027-12-30T09:00:00Z'); // Thursday
  const week = Object.fromEntries(['1', '2', '3', '4', '5'].map((d) => [d, [{ start: '09:00', end: '18:00' }]]));
  await call(app, op.token, 'PUT', '/v1/admin/calendars/business', {
    name: 'Business hours',
    time_zone: 'UTC',
    week,
    holidays: [
      { date: '2027-12-31', start: '14:00', end: '18:00', name: 'New Year’s Eve afternoon' },
      { date: '2028-01-03', name: 'Bank holiday' },
    ],
    default: true,
  });
  const ticket = await open(app, r);
  // Thu 9 h, Fri 5 h (closed from 14:00), Monday closed, Tue 9 h, Wed 9 h = 32 h: Wednesday 18:00.
  t.equal(ticket.sla.deadline_at, '2028-01-05T18:00:00.000Z');

  const bad = await app.inject({
    method: 'PUT',
    url: '/v1/admin/calendars/broken',
    headers: bearer(op.token),
    payload: { name: 'x', time_zone: 'Mars/Olympus', week, holidays: [] },
  });
  t.equal(bad.statusCode, 422);

  // Berlin business hours: the week of the spring change (Sunday 2028-03-26).
  await call(app, op.token, 'PUT', '/v1/admin/calendars/berlin', {
    name: 'Berlin',
    time_zone: 'Europe/Berlin',
    week,
    holidays: [],
    default: true,
  });
  const list = (await call(app, op.token, 'GET', '/v1/admin/calendars')).data;
  t.same(
    list.filter((c: Json) => c.default).map((c: Json) => c.id),
    ['berlin'],
    'one default at a time',
  );
  const remove = (id: string) =>
    app.inject({ method: 'DELETE', url: `/v1/admin/calendars/${id}`, headers: bearer(op.token) });
  t.equal((await remove('business')).json().code, 'calendar_in_use', 'the ticket’s period still runs on it');
  t.equal((await remove('berlin')).json().code, 'default_calendar_required');
  const spare = await call(app, op.token, 'PUT', '/v1/admin/calendars/spare', {
    name: 'Spare',
    time_zone: 'europe/LISBON',
    week,
    holidays: [],
  });
  t.equal(spare.time_zone, 'Europe/Lisbon', 'a zone is kept under its canonical name');
  t.equal((await remove('spare')).statusCode, 204, 'an unused calendar that is not the default goes');
});

t.test('R-TKT-3 in a non-UTC zone: business hours across the spring daylight-saving change', async (t) => {
  const { app, op, r } = await setup(t, '2028-03-24T15:00:00Z'); // Friday 16:00 in Berlin (UTC+1)
  const week = Object.fromEntries(['1', '2', '3', '4', '5'].map((d) => [d, [{ start: '09:00', end: '18:00' }]]));
  await call(app, op.token, 'PUT', '/v1/admin/calendars/berlin', {
    name: 'Berlin',
    time_zone: 'Europe/Berlin',
    week,
    holidays: [],
    default: true,
  });
  const ticket = await open(app, r);
  // Friday 16:00-18:00 CET = 2 h; after the change (UTC+2) Mon-Wed 27 h; Thursday 09:00 CEST + 3 h = 12:00 CEST = 10:00Z.
  t.equal(ticket.sla.deadline_at, '2028-03-30T10:00:00.000Z');
  t.equal(ticket.sla.current.calendar_id, 'berlin');
});

t.test('R-TKT-8: split and merge run deadlines from the creation of the most recent ticket involved', async (t) => {
  const { app, op, r, at } = await setup(t, '2027-01-11T09:00:00Z');
  const first = await open(app, r);
  at('2027-01-11T10:00:00Z');
  await call(app, r.token, 'POST', `/v1/tickets/${first.id}/messages`, { body: 'Also: my invoice is wrong' });
  const detail = await call(app, op.token, 'GET', `/v1/admin/tickets/${first.id}`);
  const invoiceMessage = detail.messages.find((m: Json) => m.body.includes('invoice'));
  at('2027-01-12T09:00:00Z');
  // R-TKT-1: each ticket keeps a message its user sees; an internal note is not one.
  await admin(app, op.token, first.id, 'notes', { body: 'two issues in one ticket' });
  const note = (await call(app, op.token, 'GET', `/v1/admin/tickets/${first.id}`)).messages.find(
    (m: Json) => m.internal,
  );
  const visible = detail.messages.map((m: Json) => m.id);
  for (const [ids, code] of [
    [visible, 'nothing_left'],
    [[note.id], 'nothing_visible'],
  ] as const) {
    const refused = await admin(app, op.token, first.id, 'split', { message_ids: ids, subject: 'x' }, 422);
    t.match(refused.errors, [{ pointer: '/body/message_ids', code }], `${code}: refused`);
  }
  const split = await admin(app, op.token, first.id, 'split', {
    message_ids: [invoiceMessage.id],
    subject: 'Invoice is wrong',
    priority: 'medium',
  });
  t.equal(split.split_into.sla.current.started_at, '2027-01-12T09:00:00.000Z');
  t.equal(split.split_into.priority, 'medium');
  t.equal(
    split.ticket.sla.current.started_at,
    '2027-01-12T09:00:00.000Z',
    'the original restarts from the newer creation',
  );
  t.equal(split.ticket.sla.current.cause, 'split');
  t.match(split.ticket.links, [{ ticket_id: split.split_into.id, kind: 'split_into' }]);
  t.match(split.split_into.links, [{ ticket_id: first.id, kind: 'split_from' }]);
  const moved = await call(app, r.token, 'GET', `/v1/tickets/${split.split_into.id}`);
  t.same(
    moved.messages.map((m: Json) => m.id),
    [invoiceMessage.id],
  );

  at('2027-01-13T09:00:00Z');
  const third = await open(app, r);
  at('2027-01-13T10:00:00Z');
  const merged = await admin(app, op.token, first.id, 'merge', { ticket_ids: [third.id] });
  t.equal(merged.state, 'open');
  t.equal(merged.sla.current.started_at, '2027-01-13T09:00:00.000Z', "from the third ticket's creation");
  t.equal(merged.sla.current.cause, 'merged');
  const gone = (await call(app, r.token, 'GET', `/v1/tickets/${third.id}`)).ticket;
  t.equal(gone.state, 'merged');
  t.equal(gone.merged_into, first.id);
  t.equal(gone.sla.periods[0].outcome, 'stopped');
});

t.test(
  'R-TKT-10: e-mail from the contact address opens a ticket or adds by reference; other senders are refused alike',
  async (t) => {
    const { app, op, r } = await setup(t, '2027-01-11T09:00:00Z');
    await app.db.execute(
      sql`UPDATE accounts SET contact_email = 'Support@Reseller.test' WHERE id = ${r.accountId}::uuid`,
    );
    const mail = (from: string, subject: string, extra = '') =>
      [
        `From: Someone <${from}>`,
        'To: support@provider.test',
        `Subject: ${subject}`,
        `Message-ID: <${Math.random().toString(36).slice(2)}@reseller.test>`,
        extra,
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'The panel shows error 500 when I log in.',
        '--b',
        'Content-Type: image/png',
        'Content-Disposition: attachment; filename="shot.png"',
        'Content-Transfer-Encoding: base64',
        '',
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
        '--b--',
        '',
      ]
        .filter((l, i) => i !== 4 || l !== '')
        .join('\r\n');
    const send = async (raw: string) => {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/admin/tickets/inbound-email',
        headers: { ...bearer(op.token), 'content-type': 'message/rfc822' },
        payload: raw,
      });
      t.equal(res.statusCode, 202);
      return res.json();
    };
    const a = await send(mail('support@reseller.test', 'Panel error'));
    const b = await send(mail('stranger@elsewhere.test', 'Panel error'));
    t.same(Object.keys(a).sort(), Object.keys(b).sort(), 'the answer does not tell a known sender from another');
    t.equal(a.status, b.status);
    const list = (await call(app, r.token, 'GET', '/v1/tickets')).data;
    t.equal(list.length, 1);
    t.match(list[0], { channel: 'email', subject: 'Panel error', state: 'open' });
    const detail = await call(app, r.token, 'GET', `/v1/tickets/${list[0].id}`);
    const png = detail.messages[0].attachments[0];
    t.match(png, { filename: 'shot.png', content_type: 'image/png' });
    const download = await app.inject({
      method: 'GET',
      url: `/v1/tickets/${list[0].id}/attachments/${png.id}`,
      headers: bearer(r.token),
    });
    t.equal(download.headers['content-type'], 'image/png');
    t.match(String(download.headers['content-disposition']), /^attachment;/);
    t.equal(download.headers['x-content-type-options'], 'nosniff');

    await send(mail('support@reseller.test', `Re: [${list[0].reference}] Panel error`));
    const after = await call(app, r.token, 'GET', `/v1/tickets/${list[0].id}`);
    t.equal(after.messages.length, 2, 'the reference in the subject adds to the ticket');
    const log = (await call(app, op.token, 'GET', '/v1/admin/tickets/inbound-email')).data;
    t.same(log.map((x: Json) => [x.outcome, x.refusal]).sort(), [
      ['added', null],
      ['opened', null],
      ['refused', 'unknown_sender'],
    ]);
  },
);

t.test('R-SEC-6: each account sees only its own tickets; operators see every account’s', async (t) => {
  const { app, op, r } = await setup(t, '2027-01-11T09:00:00Z');
  const other = await reseller(app, op.token);
  const ticket = await open(app, r);
  const res = await app.inject({ method: 'GET', url: `/v1/tickets/${ticket.id}`, headers: bearer(other.token) });
  t.equal(res.statusCode, 404);
  t.equal((await call(app, other.token, 'GET', '/v1/tickets')).data.length, 0);
  const foreign = await app.inject({
    method: 'POST',
    url: '/v1/tickets',
    headers: bearer(other.token),
    payload: { subject: 's', description: 'd', concerns: { type: 'hosting_subscription', ref: ticket.id } },
  });
  t.equal(foreign.statusCode, 422, 'a service must be your own');
  const queue = (await call(app, op.token, 'GET', '/v1/admin/tickets')).data;
  t.ok(queue.some((x: Json) => x.id === ticket.id));
});

t.test('R-TKT-3: an ended period keeps the time it used; editing its calendar later does not rewrite it', async (t) => {
  const { app, op, r, at } = await setup(t, '2027-01-11T09:00:00Z'); // a Monday
  const ticket = await open(app, r);
  at('2027-01-11T11:00:00Z');
  const replied = await admin(app, op.token, ticket.id, 'reply', { body: 'On it' });
  t.match(replied.sla.periods[0], { outcome: 'met', elapsed_seconds: 2 * 3600 });
  // Mondays closed from now on: a running period would be counted anew, an ended one is history.
  const tuesdayToFriday = Object.fromEntries(['2', '3', '4', '5'].map((d) => [d, [{ start: '09:00', end: '18:00' }]]));
  await call(app, op.token, 'PUT', '/v1/admin/calendars/business', {
    name: 'Business hours',
    time_zone: 'UTC',
    week: tuesdayToFriday,
    holidays: [],
    default: true,
  });
  const shown = (await call(app, r.token, 'GET', `/v1/tickets/${ticket.id}`)).ticket;
  t.match(shown.sla.periods[0], { outcome: 'met', elapsed_seconds: 2 * 3600 }, 'still the 2 hours it used');
});

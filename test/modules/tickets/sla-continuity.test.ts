// What a change to a ticket must not undo: a breach that happened stays a breach when the priority
// is lowered or the product team joins (R-TKT-2, R-TKT-3, R-TKT-9); a running pause (6.8) outlives a
// split or a merge; a merge leaves a suspended ticket suspended and a ticket on the user's side there
// unless the merge brings provider-side work (R-TKT-4, R-TKT-5, R-TKT-8); and a merge, like every
// change, fires the due timers of the tickets involved first (R-TKT-6).
import t from 'tap';
import type { App } from '../../../src/app.js';
import { feedSettled } from '../../helpers/events.js';
import { bearer, type Reseller } from '../../helpers/fixtures.js';
import { adminAction, call, openTicket, ticketSetup, type Json } from '../../helpers/tickets.js';

const HOUR = 3_600_000;

const setup = ticketSetup;
const admin = adminAction;
/** A ticket about domains, under its own subject. */
const open = (app: App, r: Reseller, subject = 'Cannot renew') => openTicket(app, r, { subject });
const user = (app: App, r: Reseller, id: string, action: string, payload: unknown = {}, status = 200) =>
  call(app, r.token, 'POST', `/v1/tickets/${id}/${action}`, payload, status);
const get = async (app: App, r: Reseller, id: string) => (await call(app, r.token, 'GET', `/v1/tickets/${id}`)).ticket;

/** How many events of `type` the ticket has had. */
async function eventCount(app: App, r: Reseller, type: string, ticketId: string): Promise<number> {
  await feedSettled(app);
  const res = await app.inject({ method: 'GET', url: `/v1/events?type=${type}&limit=500`, headers: bearer(r.token) });
  return (res.json().data as { object: { id: string } }[]).filter((e) => e.object.id === ticketId).length;
}

t.test(
  'R-TKT-2, R-TKT-3: a priority lowered after the breach keeps the breach; the new priority applies to the next period',
  async (t) => {
    const { app, op, r, at, timers } = await setup(t, '2027-01-11T09:00:00Z'); // a Monday
    const ticket = await open(app, r);
    const high = await admin(app, op.token, ticket.id, 'priority', { priority: 'high' });
    t.equal(high.sla.deadline_at, '2027-01-12T16:00:00.000Z', 'High: 16 business hours from Monday 09:00');
    at('2027-01-12T17:00:00Z');
    await timers();
    t.equal(await eventCount(app, r, 'ticket.sla.breached', ticket.id), 1, 'breached at Tuesday 16:00');
    const warnings = await eventCount(app, r, 'ticket.sla.warning', ticket.id);

    // Low would allow 32 hours from the period start (Thursday 14:00): the breach happened all the same.
    const lowered = await admin(app, op.token, ticket.id, 'priority', { priority: 'low', reason: 'not so urgent' });
    t.equal(lowered.priority, 'low', 'the ticket takes the new priority');
    t.equal(lowered.sla.breached, true, 'still breached');
    t.match(lowered.sla.current, {
      priority: 'high',
      goal_seconds: 16 * 3600,
      deadline_at: '2027-01-12T16:00:00.000Z',
      breached_at: '2027-01-12T16:00:00.000Z',
      outcome: 'running',
    });
    t.equal(lowered.sla.time_left_seconds, -3600, 'the period keeps the goal it breached');
    const queue = (await call(app, op.token, 'GET', '/v1/admin/tickets?breached=true')).data;
    t.ok(
      queue.some((x: Json) => x.id === ticket.id),
      'the queue still lists it as breached',
    );

    // Past the deadline Low would have had: no second breach, no new warning.
    at('2027-01-14T15:00:00Z');
    await timers();
    t.equal(await eventCount(app, r, 'ticket.sla.breached', ticket.id), 1, 'the breach is sent once, never again');
    t.equal(await eventCount(app, r, 'ticket.sla.warning', ticket.id), warnings, 'no warning after the breach');

    const replied = await admin(app, op.token, ticket.id, 'reply', { body: 'Fixed, sorry for the wait' });
    t.match(replied.sla.periods[0], { ended_by: 'reply', outcome: 'breached', priority: 'high' });
    const report = await call(
      app,
      op.token,
      'GET',
      '/v1/admin/tickets/sla-report?from=2027-01-01T00:00:00Z&to=2027-02-01T00:00:00Z',
    );
    t.match(
      report.priorities.find((p: Json) => p.priority === 'high'),
      { met: 0, breached: 1 },
    );
    t.match(
      report.priorities.find((p: Json) => p.priority === 'low'),
      { met: 0, breached: 0 },
    );

    // The next period is Low.
    at('2027-01-15T09:00:00Z');
    const again = await user(app, r, ticket.id, 'messages', { body: 'It fails again' });
    t.match(again.sla.current, { cause: 'user_message', priority: 'low', goal_seconds: 32 * 3600, breached_at: null });
    t.equal(again.sla.deadline_at, '2027-01-20T14:00:00.000Z', '32 business hours from Friday 09:00');

    // A period not yet breached is recomputed from its start, as before.
    at('2027-01-15T10:00:00Z');
    const raised = await admin(app, op.token, ticket.id, 'priority', { priority: 'high' });
    t.equal(raised.sla.deadline_at, '2027-01-18T16:00:00.000Z', 'High: 9 h Friday + 7 h Monday');
    const relowered = await admin(app, op.token, ticket.id, 'priority', { priority: 'medium' });
    t.equal(relowered.sla.deadline_at, '2027-01-19T15:00:00.000Z', 'Medium: 24 business hours from Friday 09:00');
  },
);

t.test(
  'R-TKT-3, R-TKT-9: a deadline passed before the timer job ran: a later change fires the breach and keeps it',
  async (t) => {
    const { app, op, r, at, timers } = await setup(t, '2027-01-09T02:00:00Z'); // Saturday 02:00
    const ticket = await open(app, r);
    const urgent = await admin(app, op.token, ticket.id, 'priority', { priority: 'emergency', reason: 'outage' });
    t.equal(urgent.sla.deadline_at, '2027-01-09T10:00:00.000Z', '8 calendar hours');
    // 11:00, the job has not run: the product team's business hours would move the deadline to Monday 17:00.
    at('2027-01-09T11:00:00Z');
    const team = await admin(app, op.token, ticket.id, 'product-team', { involved: true });
    t.equal(team.product_team, true);
    t.equal(team.sla.breached, true);
    t.match(team.sla.current, {
      business_hours: false,
      deadline_at: '2027-01-09T10:00:00.000Z',
      breached_at: '2027-01-09T10:00:00.000Z',
    });
    t.equal(await eventCount(app, r, 'ticket.sla.breached', ticket.id), 1, 'the breach fired before the change');
    const lowered = await admin(app, op.token, ticket.id, 'priority', { priority: 'medium' });
    t.match(lowered.sla.current, { priority: 'emergency', breached_at: '2027-01-09T10:00:00.000Z' });
    at('2027-01-12T18:00:00Z');
    await timers();
    t.equal(await eventCount(app, r, 'ticket.sla.breached', ticket.id), 1, 'once');
    const suspended = await user(app, r, ticket.id, 'suspend');
    t.match(suspended.sla.periods[0], { ended_by: 'suspended', outcome: 'breached' });
    const resumed = await user(app, r, ticket.id, 'resume');
    t.match(resumed.sla.current, { cause: 'resumed', priority: 'medium', business_hours: true, breached_at: null });
  },
);

t.test(
  '6.8, R-TKT-8: a split keeps the running pause on the original ticket; its clock stays stopped until unpaused',
  async (t) => {
    const { app, op, r, at, timers } = await setup(t, '2027-01-11T09:00:00Z');
    const ticket = await open(app, r);
    at('2027-01-11T10:00:00Z');
    await user(app, r, ticket.id, 'messages', { body: 'Also: my invoice is wrong' });
    const invoice = (await call(app, op.token, 'GET', `/v1/admin/tickets/${ticket.id}`)).messages.find((m: Json) =>
      m.body.includes('invoice'),
    );
    at('2027-01-11T11:00:00Z');
    await admin(app, op.token, ticket.id, 'pause', { reason: 'vendor_response', note: 'asked the registry' });

    at('2027-01-12T09:00:00Z');
    const split = await admin(app, op.token, ticket.id, 'split', {
      message_ids: [invoice.id],
      subject: 'Invoice is wrong',
    });
    t.match(
      split.ticket.sla.current,
      {
        cause: 'split',
        started_at: '2027-01-12T09:00:00.000Z',
        paused: true,
        deadline_at: null,
        elapsed_seconds: 0,
        pauses: [
          {
            reason: 'vendor_response',
            note: 'asked the registry',
            started_at: '2027-01-12T09:00:00.000Z',
            ended_at: null,
          },
        ],
      },
      'the original carries on the paused work: its new period starts paused',
    );
    t.match(
      split.ticket.sla.periods[0],
      {
        ended_by: 'split',
        outcome: 'stopped',
        elapsed_seconds: 2 * 3600,
        pauses: [{ reason: 'vendor_response', started_at: '2027-01-11T11:00:00.000Z', duration_seconds: 22 * 3600 }],
      },
      'the pause until the split stays on record with the period it stopped',
    );
    t.match(
      split.split_into.sla.current,
      { cause: 'split', paused: false, deadline_at: '2027-01-15T14:00:00.000Z' },
      'the new ticket is another issue: its clock runs',
    );

    // A day later the vendor has not answered: nothing ran on the original's clock.
    at('2027-01-13T09:00:00Z');
    await timers();
    const waiting = await get(app, r, ticket.id);
    t.match(waiting.sla.current, { paused: true, deadline_at: null, elapsed_seconds: 0 });
    const unpaused = await admin(app, op.token, ticket.id, 'unpause');
    t.equal(unpaused.sla.deadline_at, '2027-01-18T14:00:00.000Z', '32 business hours from the unpause');
    t.match(unpaused.sla.current.pauses, [{ ended_at: '2027-01-13T09:00:00.000Z', duration_seconds: 24 * 3600 }]);
  },
);

t.test(
  '6.8, R-TKT-8: a merge keeps the running pause of the ticket merged into, from the most recent creation',
  async (t) => {
    const { app, op, r, at } = await setup(t, '2027-01-11T09:00:00Z');
    const target = await open(app, r);
    at('2027-01-11T10:00:00Z');
    await admin(app, op.token, target.id, 'pause', { reason: 'vendor_response', note: 'asked Plesk' });
    at('2027-01-12T09:00:00Z');
    const duplicate = await open(app, r, 'Still cannot renew');
    at('2027-01-13T09:00:00Z');
    const merged = await admin(app, op.token, target.id, 'merge', { ticket_ids: [duplicate.id] });
    t.equal(merged.state, 'open');
    t.match(merged.sla.current, {
      cause: 'merged',
      started_at: '2027-01-12T09:00:00.000Z',
      paused: true,
      deadline_at: null,
      elapsed_seconds: 0,
      pauses: [
        { reason: 'vendor_response', note: 'asked Plesk', started_at: '2027-01-12T09:00:00.000Z', ended_at: null },
      ],
    });
    t.match(merged.sla.periods[0], {
      ended_by: 'merged',
      elapsed_seconds: 3600,
      pauses: [{ started_at: '2027-01-11T10:00:00.000Z', ended_at: '2027-01-13T09:00:00.000Z' }],
    });
    at('2027-01-14T09:00:00Z');
    const unpaused = await admin(app, op.token, target.id, 'unpause');
    t.equal(unpaused.sla.deadline_at, '2027-01-19T14:00:00.000Z', '32 business hours from Thursday 09:00');
  },
);

t.test(
  '6.8, R-TKT-8: an agreed-time pause of a ticket merged into a running one carries over and ends by itself',
  async (t) => {
    const { app, op, r, at, timers } = await setup(t, '2027-01-11T09:00:00Z');
    const target = await open(app, r);
    at('2027-01-11T10:00:00Z');
    const other = await open(app, r, 'Renewal again');
    at('2027-01-11T11:00:00Z');
    await admin(app, op.token, other.id, 'pause', { reason: 'agreed_time', until: '2027-01-13T12:00:00Z' });
    at('2027-01-12T09:00:00Z');
    const merged = await admin(app, op.token, target.id, 'merge', { ticket_ids: [other.id] });
    // From Monday 10:00 (the most recent creation): 1 h, then stopped until Wednesday 12:00; 31 h after.
    t.match(merged.sla.current, {
      started_at: '2027-01-11T10:00:00.000Z',
      paused: true,
      elapsed_seconds: 3600,
      deadline_at: '2027-01-18T16:00:00.000Z',
      pauses: [{ reason: 'agreed_time', started_at: '2027-01-11T11:00:00.000Z', until: '2027-01-13T12:00:00.000Z' }],
    });
    const gone = await get(app, r, other.id);
    t.match(gone.sla.periods[0], {
      ended_by: 'merged',
      outcome: 'stopped',
      pauses: [{ started_at: '2027-01-11T11:00:00.000Z', ended_at: '2027-01-12T09:00:00.000Z' }],
    });
    at('2027-01-13T12:00:00Z');
    await timers();
    const running = await get(app, r, target.id);
    t.match(running.sla.current, { paused: false, deadline_at: '2027-01-18T16:00:00.000Z' });
    t.equal(running.sla.current.pauses[0].ended_at, '2027-01-13T12:00:00.000Z', 'the agreed time ended it');
    t.equal(running.sla.current.elapsed_seconds, 3600);
    at(new Date(Date.parse('2027-01-13T12:00:00Z') + 2 * HOUR).toISOString());
    t.equal((await get(app, r, target.id)).sla.current.elapsed_seconds, 3 * 3600, 'and the clock runs again');
  },
);

t.test(
  "R-TKT-5, R-TKT-8: a merge into a ticket the user suspended leaves it suspended; the user's resume starts the period",
  async (t) => {
    const { app, op, r, at } = await setup(t, '2027-01-11T09:00:00Z');
    const target = await open(app, r);
    at('2027-01-11T10:00:00Z');
    await user(app, r, target.id, 'suspend');
    at('2027-01-11T11:00:00Z');
    const other = await open(app, r, 'Renewal, again');
    at('2027-01-11T12:00:00Z');
    const merged = await admin(app, op.token, target.id, 'merge', { ticket_ids: [other.id] });
    t.equal(merged.state, 'suspended', 'the user’s suspension holds');
    t.equal(merged.sla.current, null, 'no period runs on a suspended ticket');
    t.equal(merged.sla.periods.length, 1);
    t.match(merged.links, [{ ticket_id: other.id, kind: 'merged_from' }]);
    const gone = await get(app, r, other.id);
    t.match(gone, { state: 'merged', merged_into: target.id });
    t.match(gone.sla.periods[0], { ended_by: 'merged', outcome: 'stopped' });

    at('2027-01-12T09:00:00Z');
    const resumed = await user(app, r, target.id, 'resume');
    t.equal(resumed.state, 'open');
    t.match(resumed.sla.current, { cause: 'resumed', started_at: '2027-01-12T09:00:00.000Z' });
    t.equal(resumed.sla.deadline_at, '2027-01-15T14:00:00.000Z', 'a full period from the resumption');

    // Suspended while information was awaited: still suspended, the request on record; resuming awaits it.
    const asked = await open(app, r, 'Transfer fails');
    await admin(app, op.token, asked.id, 'request-information', { body: 'Which auth code?' });
    await user(app, r, asked.id, 'suspend');
    const third = await open(app, r, 'Transfer still fails');
    const mergedAsked = await admin(app, op.token, asked.id, 'merge', { ticket_ids: [third.id] });
    t.match(mergedAsked, { state: 'suspended', information_requested_at: '2027-01-12T09:00:00.000Z' });
    t.equal(mergedAsked.sla.current, null);
    at('2027-01-12T10:00:00Z');
    const back = await user(app, r, asked.id, 'resume');
    t.match(back, { state: 'awaiting_user', information_due_at: '2027-01-15T10:00:00.000Z' });
    t.equal(back.sla.current, null);
  },
);

t.test(
  'R-TKT-4, R-TKT-8: a merge keeps a ticket on the user’s side unless a ticket merged into it is on the provider’s',
  async (t) => {
    const { app, op, r, at, timers } = await setup(t, '2027-01-11T09:00:00Z');
    const target = await open(app, r);
    at('2027-01-11T10:00:00Z');
    await admin(app, op.token, target.id, 'request-information', { body: 'Which registrant?' });
    at('2027-01-11T11:00:00Z');
    const answered = await open(app, r, 'Renewal question');
    at('2027-01-11T12:00:00Z');
    await admin(app, op.token, answered.id, 'reply', { body: 'Which registrant is it?' });
    at('2027-01-11T13:00:00Z');
    const merged = await admin(app, op.token, target.id, 'merge', { ticket_ids: [answered.id] });
    t.match(merged, {
      state: 'awaiting_user',
      information_requested_at: '2027-01-11T10:00:00.000Z',
      information_due_at: '2027-01-14T10:00:00.000Z',
    });
    t.equal(merged.sla.current, null, 'no provider period while the information is missing');
    at('2027-01-14T10:00:00Z');
    await timers();
    t.match(await get(app, r, target.id), { state: 'closed', close_reason: 'information_not_provided' });

    // Answered, with an answered one merged into it: still the user's turn.
    const replied = await open(app, r, 'DNS question');
    await admin(app, op.token, replied.id, 'reply', { body: 'Set the A record' });
    const alsoReplied = await open(app, r, 'DNS question again');
    await admin(app, op.token, alsoReplied.id, 'reply', { body: 'See the other ticket' });
    const both = await admin(app, op.token, replied.id, 'merge', { ticket_ids: [alsoReplied.id] });
    t.equal(both.state, 'answered');
    t.equal(both.sla.current, null);

    // Awaiting information, with a ticket the provider has still to answer merged into it: open.
    at('2027-01-18T09:00:00Z');
    const waiting = await open(app, r, 'Mailbox full');
    at('2027-01-18T10:00:00Z');
    await admin(app, op.token, waiting.id, 'request-information', { body: 'Which mailbox?' });
    at('2027-01-18T11:00:00Z');
    const pending = await open(app, r, 'Mailbox full: info@');
    at('2027-01-18T12:00:00Z');
    const work = await admin(app, op.token, waiting.id, 'merge', { ticket_ids: [pending.id] });
    t.match(work, { state: 'open', information_requested_at: null, information_due_at: null });
    t.match(work.sla.current, { cause: 'merged', started_at: '2027-01-18T11:00:00.000Z' });
  },
);

t.test(
  'R-TKT-6, R-TKT-8: a merge after the 72 hours (the job not yet run) finds the ticket closed and merges nothing',
  async (t) => {
    const { app, op, r, at } = await setup(t, '2027-01-11T09:00:00Z');
    const target = await open(app, r);
    await admin(app, op.token, target.id, 'request-information', { body: 'Which registrant?' });
    const other = await open(app, r, 'Renewal again');
    at('2027-01-14T09:00:01Z');
    const res = await app.inject({
      method: 'POST',
      url: `/v1/admin/tickets/${target.id}/merge`,
      headers: bearer(op.token),
      payload: { ticket_ids: [other.id] },
    });
    t.equal(res.statusCode, 409);
    t.equal(res.json().code, 'ticket_state_conflict');
    t.match(await get(app, r, target.id), {
      state: 'closed',
      close_reason: 'information_not_provided',
      closed_at: '2027-01-14T09:00:00.000Z',
    });
    t.equal((await get(app, r, other.id)).state, 'open', 'nothing merged');
    t.equal(await eventCount(app, r, 'ticket.closed', target.id), 1);
  },
);

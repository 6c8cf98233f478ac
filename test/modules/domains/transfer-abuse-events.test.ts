// Issue 13 item 1 (R-NTF-1): transfers and abuse complaints write their events in the transaction of
// each change; read back through GET /v1/events?object_id=..., compared with what GET shows.
import t from 'tap';
import { eq } from 'drizzle-orm';
import type { App } from '../../../src/app.js';
import { abuseComplaints } from '../../../src/db/schema/index.js';
import {
  approvalMailsAgo,
  approvalTokenFor,
  decideTransfer as decide,
  credit,
  domainSetup,
  fundedReseller,
  heldElsewhere,
  mailingTestApp,
  registered,
} from '../../helpers/domains.js';
import { eventsOf, types } from '../../helpers/domain-events.js';
import { bearer, type Reseller } from '../../helpers/fixtures.js';

type R = Reseller & { contact: string };
const HOUR = 3_600_000;

const get = async (app: App, r: Reseller, url: string) =>
  (await app.inject({ method: 'GET', url, headers: bearer(r.token) })).json<Record<string, unknown>>();
/** The domain as the list shows it with status=all (a transferred-out record is 404 on GET). */
async function listedDomain(app: App, r: Reseller, name: string) {
  const list = (await get(app, r, '/v1/domains?status=all&limit=100')).data as Record<string, unknown>[];
  return list.find((d) => d.name === name);
}

/** The transfer, and the owner's token from the approval e-mail (sent now; `mail` false: later, by the caller). */
const request = async (app: App, r: R, name: string, code: string, mail = true) => {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/domain-transfers',
    headers: bearer(r.token),
    payload: { name, auth_code: code, contacts: { owner: r.contact, admin: r.contact, tech: r.contact } },
  });
  if (res.statusCode !== 201) throw new Error(`transfer: ${res.statusCode} ${res.body}`);
  const { transfer } = res.json<{ transfer: { id: string; expires_at: string } }>();
  return { transfer, approval_token: mail ? await approvalTokenFor(app, transfer.id) : '' };
};

t.test(
  'issue 13: a transfer writes transfer.requested, .approved, .completed to both accounts, and domain.transferred_out / _in',
  async (t) => {
    const { app, store } = await mailingTestApp(t);
    const { op, r: losing } = await domainSetup(app);
    const gaining = await fundedReseller(app, op.token);
    const code = (await heldElsewhere(app, losing, 'moving-events.com')).code;
    // The approval e-mail not sent yet: GET shows what the event showed (approval_mailed_at null).
    const { transfer } = await request(app, gaining, 'moving-events.com', code, false);

    const url = `/v1/domain-transfers/${transfer.id}`;
    let inEvents = await eventsOf(app, store, gaining, transfer.id);
    let outEvents = await eventsOf(app, store, losing, transfer.id);
    t.same(types(inEvents), ['transfer.requested'], 'the gaining account');
    t.same(types(outEvents), ['transfer.requested'], 'and the losing account hear of it');
    t.match(inEvents[0], { account_id: gaining.accountId, object: { type: 'transfer', id: transfer.id, sequence: 1 } });
    t.match(outEvents[0], { account_id: losing.accountId, object: { type: 'transfer', id: transfer.id, sequence: 2 } });
    t.same(inEvents[0]!.data, await get(app, gaining, url), 'data: the transfer as the gaining account GETs it');
    t.same(outEvents[0]!.data, await get(app, losing, url), 'and as the losing account GETs it');
    t.equal(outEvents[0]!.data.direction, 'out');

    const token = await approvalTokenFor(app, transfer.id);
    t.equal((await decide(app, transfer.id, 'approve', token)).json().status, 'completed');
    inEvents = await eventsOf(app, store, gaining, transfer.id);
    outEvents = await eventsOf(app, store, losing, transfer.id);
    t.same(types(inEvents), ['transfer.requested', 'transfer.approved', 'transfer.completed']);
    t.same(types(outEvents), ['transfer.requested', 'transfer.approved', 'transfer.completed']);
    t.equal(inEvents[1]!.data.status, 'approved', 'transfer.approved shows the transfer approved');
    t.same(inEvents[2]!.data, await get(app, gaining, url), 'transfer.completed: as GET shows it');
    t.same(outEvents[2]!.data, await get(app, losing, url));
    const seqs = [...inEvents, ...outEvents].map((e) => e.object.sequence).sort((a, b) => a - b);
    t.same(seqs, [1, 2, 3, 4, 5, 6], 'one sequence per transfer, over both copies');

    const lost = await eventsOf(app, store, losing, 'moving-events.com');
    t.same(types(lost), ['domain.registered', 'domain.transferred_out']);
    t.same(lost[1]!.data, await listedDomain(app, losing, 'moving-events.com'), 'the old record, transferred_out');
    t.equal(lost[1]!.data.status, 'transferred_out');
    const won = await eventsOf(app, store, gaining, 'moving-events.com');
    t.same(types(won), ['domain.transferred_in']);
    t.same(won[0]!.data, await get(app, gaining, '/v1/domains/moving-events.com'), 'the new record as GET shows it');
    t.ok(won[0]!.object.sequence > lost[1]!.object.sequence, 'the name’s sequence goes on across accounts');
  },
);

t.test('issue 13: transfer.rejected, transfer.cancelled and transfer.expired', async (t) => {
  const { app, store } = await mailingTestApp(t);
  const { op, r: losing } = await domainSetup(app);
  const gaining = await fundedReseller(app, op.token);
  const code = (await heldElsewhere(app, losing, 'undecided.com')).code;

  const first = await request(app, gaining, 'undecided.com', code);
  t.equal((await decide(app, first.transfer.id, 'reject', first.approval_token)).statusCode, 200);
  const rejected = await eventsOf(app, store, gaining, first.transfer.id);
  t.same(types(rejected), ['transfer.requested', 'transfer.rejected']);
  t.same(rejected[1]!.data, await get(app, gaining, `/v1/domain-transfers/${first.transfer.id}`));
  t.same(types(await eventsOf(app, store, losing, first.transfer.id)), ['transfer.requested', 'transfer.rejected']);

  await approvalMailsAgo(app, 'undecided.com'); // R-DOM-3: 10 minutes between e-mails to the owner
  const second = await request(app, gaining, 'undecided.com', code);
  const cancelled = await app.inject({
    method: 'POST',
    url: `/v1/domain-transfers/${second.transfer.id}/cancel`,
    headers: bearer(gaining.token),
  });
  const c = await eventsOf(app, store, gaining, second.transfer.id);
  t.same(types(c), ['transfer.requested', 'transfer.cancelled']);
  t.same(c[1]!.data, cancelled.json(), 'as the cancel answered');
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: `/v1/domain-transfers/${second.transfer.id}/cancel`,
        headers: bearer(gaining.token),
      })
    ).statusCode,
    409,
    'a second cancel is refused',
  );
  t.equal((await eventsOf(app, store, gaining, second.transfer.id)).length, 2, 'and writes nothing');

  await approvalMailsAgo(app, 'undecided.com');
  const third = await request(app, gaining, 'undecided.com', code);
  await app.jobs.run('domain-transfers', new Date(Date.parse(third.transfer.expires_at) + 1000));
  const expired = await eventsOf(app, store, gaining, third.transfer.id);
  t.same(types(expired), ['transfer.requested', 'transfer.expired']);
  t.same(expired[1]!.data, await get(app, gaining, `/v1/domain-transfers/${third.transfer.id}`));
  t.same(types(await eventsOf(app, store, losing, third.transfer.id)), ['transfer.requested', 'transfer.expired']);
  t.same(types(await eventsOf(app, store, losing, 'undecided.com')), ['domain.registered'], 'the domain stayed put');
});

t.test('issue 13: a completion refused for funds writes no transfer.completed until it completes', async (t) => {
  const { app, store } = await mailingTestApp(t);
  const { op, r: losing } = await domainSetup(app);
  const gaining = await fundedReseller(app, op.token, 500);
  const code = (await heldElsewhere(app, losing, 'pay-later-events.com')).code;
  const { transfer, approval_token: token } = await request(app, gaining, 'pay-later-events.com', code);
  t.equal((await decide(app, transfer.id, 'approve', token)).json().status, 'approved');
  t.same(types(await eventsOf(app, store, gaining, transfer.id)), ['transfer.requested', 'transfer.approved']);
  t.same(
    types(await eventsOf(app, store, losing, 'pay-later-events.com')),
    ['domain.registered'],
    'no transferred_out',
  );
  t.same(await eventsOf(app, store, gaining, 'pay-later-events.com'), [], 'no transferred_in');

  await credit(app, op.token, gaining.accountId, 1000);
  t.equal(await app.jobs.run('domain-transfers', new Date()), 1);
  t.same(types(await eventsOf(app, store, gaining, transfer.id)), [
    'transfer.requested',
    'transfer.approved',
    'transfer.completed',
  ]);
  t.same(types(await eventsOf(app, store, gaining, 'pay-later-events.com')), ['domain.transferred_in']);
});

const REPORT = {
  category: 'phishing',
  description: 'The site imitates the login page of Example Bank and asks for card numbers.',
  evidence_urls: ['https://phish.example/login'],
  reporter_name: 'Eva Reporter',
  reporter_email: 'eva@cert.test',
};
const respond = (app: App, token: string, id: string, body: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: `/v1/abuse-complaints/${id}/responses`, headers: bearer(token), payload: body });

t.test('issue 13: abuse.complaint_filed, _responded and _closed, to the reseller holding the domain', async (t) => {
  const { app, store } = await mailingTestApp(t);
  const { op, r } = await domainSetup(app);
  await registered(app, r, 'complained-about.com');
  const filed = await app.inject({
    method: 'POST',
    url: '/v1/abuse-complaints',
    payload: { ...REPORT, domain: 'complained-about.com' },
    remoteAddress: '198.51.100.7',
  });
  t.equal(filed.statusCode, 202);
  const id = filed.json().id as string;
  const url = `/v1/abuse-complaints/${id}`;
  let events = await eventsOf(app, store, r, id);
  t.same(types(events), ['abuse.complaint_filed']);
  t.match(events[0], { account_id: r.accountId, object: { type: 'abuse_complaint', id, sequence: 1 } });
  t.same(events[0]!.data, await get(app, r, url), 'the complaint as its reseller GETs it (no reporter)');
  t.notOk('reporter_email' in events[0]!.data);

  t.equal((await respond(app, r.token, id, { action: 'investigating', message: 'Looking.' })).statusCode, 200);
  t.equal((await respond(app, r.token, id, { action: 'removed', message: 'Gone.' })).statusCode, 200);
  events = await eventsOf(app, store, r, id);
  t.same(types(events), ['abuse.complaint_filed', 'abuse.complaint_responded', 'abuse.complaint_responded']);
  t.same(events[2]!.data, await get(app, r, url));

  const closed = await app.inject({
    method: 'POST',
    url: `/v1/admin/abuse-complaints/${id}/close`,
    headers: bearer(op.token),
    payload: { note: 'Settled.' },
  });
  t.equal(closed.statusCode, 200);
  t.equal(
    (await respond(app, r.token, id, { action: 'other', message: 'Too late.' })).statusCode,
    409,
    'a refused response',
  );
  events = await eventsOf(app, store, r, id);
  t.same(types(events).slice(3), ['abuse.complaint_closed'], 'writes no event');
  t.same(events[3]!.data, await get(app, r, url));
  t.same(
    events.map((e) => e.object.sequence),
    [1, 2, 3, 4],
  );

  const op404 = await app.inject({
    method: 'POST',
    url: '/v1/abuse-complaints',
    payload: { ...REPORT, domain: 'nobody-holds-this.com' },
    remoteAddress: '198.51.100.8',
  });
  t.equal(op404.statusCode, 404, 'a complaint about no domain of ours is not filed, and writes nothing');
});

t.test('issue 13: abuse.complaint_escalated by the job, and by a late answer', async (t) => {
  const { app, store } = await mailingTestApp(t);
  const { op, r } = await domainSetup(app);
  await registered(app, r, 'silent-events.com');
  const file = async () =>
    (
      await app.inject({
        method: 'POST',
        url: '/v1/admin/abuse-complaints',
        headers: bearer(op.token),
        payload: { ...REPORT, domain: 'silent-events.com' },
      })
    ).json<{ id: string; respond_by: string }>();
  const unanswered = await file();
  await app.jobs.run('abuse-escalation', new Date(Date.parse(unanswered.respond_by) + HOUR));
  const events = await eventsOf(app, store, r, unanswered.id);
  t.same(types(events), ['abuse.complaint_filed', 'abuse.complaint_escalated']);
  const now = await get(app, r, `/v1/abuse-complaints/${unanswered.id}`);
  t.equal(now.status, 'escalated');
  t.type(now.incident_id, 'number', 'GET shows the incident recorded after the escalation committed');
  t.same(events[1]!.data, { ...now, incident_id: null }, 'the event: as GET shows it, before the incident');

  const tardy = await file();
  await store.db
    .update(abuseComplaints)
    .set({ respondBy: new Date(Date.now() - 60_000) })
    .where(eq(abuseComplaints.id, tardy.id));
  t.equal((await respond(app, r.token, tardy.id, { action: 'removed', message: 'Late, sorry.' })).statusCode, 200);
  const late = await eventsOf(app, store, r, tardy.id);
  t.same(types(late), ['abuse.complaint_filed', 'abuse.complaint_escalated', 'abuse.complaint_responded']);
  t.equal(late[1]!.data.status, 'escalated');
  t.match(late[2]!.data, { status: 'escalated', response: { action: 'removed' } });
});

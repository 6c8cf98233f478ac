import t from 'tap';
import { eq } from 'drizzle-orm';
import type { App } from '../../../src/app.js';
import { abuseComplaints, auditEvents } from '../../../src/db/schema/index.js';
import { buildTestApp } from '../../helpers/app.js';
import { CUSTOMER } from '../../helpers/domains.js';
import { bearer, operator, reseller, type Reseller } from '../../helpers/fixtures.js';

const HOUR = 3_600_000;

/** A reseller holding the given domains, registered through the real API (check, then register). */
async function resellerWithDomains(app: App, opToken: string, ...names: string[]): Promise<Reseller> {
  const r = await reseller(app, opToken);
  await app.inject({
    method: 'POST',
    url: `/v1/admin/accounts/${r.accountId}/credit`,
    headers: bearer(opToken),
    payload: { amount: { amount: 100_000, currency: 'EUR' }, reason: 'funds' },
  });
  const contact = (
    await app.inject({ method: 'POST', url: '/v1/contacts', headers: bearer(r.token), payload: CUSTOMER })
  ).json().handle as string;
  const checked = await app.inject({
    method: 'POST',
    url: '/v1/domains/check',
    headers: bearer(r.token),
    payload: { names },
  });
  if (checked.statusCode !== 200) throw new Error(checked.body);
  for (const name of names) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/domains',
      headers: bearer(r.token),
      payload: { name, contacts: { owner: contact, admin: contact, tech: contact }, nameservers: [] },
    });
    if (res.statusCode !== 201) throw new Error(`register ${name}: ${res.statusCode} ${res.body}`);
  }
  return r;
}

const REPORT = {
  category: 'phishing',
  description: 'The site imitates the login page of Example Bank and asks for card numbers.',
  evidence_urls: ['https://phish.example/login', 'http://archive.example/abc'],
  reporter_name: 'Eva Reporter',
  reporter_email: 'eva@cert.test',
};

const report = (app: App, body: Record<string, unknown>, address = '198.51.100.7') =>
  app.inject({ method: 'POST', url: '/v1/abuse-complaints', payload: body, remoteAddress: address });
const adminFile = (app: App, opToken: string, body: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/v1/admin/abuse-complaints', headers: bearer(opToken), payload: body });
const respond = (app: App, token: string, id: string, body: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: `/v1/abuse-complaints/${id}/responses`, headers: bearer(token), payload: body });
const adminGet = async (app: App, opToken: string, id: string) =>
  (await app.inject({ method: 'GET', url: `/v1/admin/abuse-complaints/${id}`, headers: bearer(opToken) })).json();
const incidentsOf = async (app: App, opToken: string, accountId: string) =>
  (
    await app.inject({
      method: 'GET',
      url: `/v1/admin/fair-use/incidents?account_id=${accountId}`,
      headers: bearer(opToken),
    })
  ).json().data as { id: number; type: string; evidence: Record<string, unknown> }[];

t.test('R-DOM-6: anyone reports abuse of a live domain; it reaches the reseller without the reporter', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await resellerWithDomains(app, op.token, 'pekarna-abuse.com', 'bäckerei-abuse.com');

  const before = Date.now();
  const filed = await report(app, { ...REPORT, domain: 'Pekarna-Abuse.com.' });
  t.equal(filed.statusCode, 202);
  const receipt = filed.json();
  t.same(Object.keys(receipt).sort(), ['domain', 'id', 'respond_by', 'status'], 'nothing about the reseller');
  t.match(receipt, { status: 'open', domain: 'pekarna-abuse.com' });
  const window = Date.parse(receipt.respond_by) - before;
  t.ok(window >= 48 * HOUR - 5_000 && window <= 48 * HOUR + 5_000, 'respond_by is ABUSE_RESPONSE_HOURS (48) ahead');

  const idn = await report(app, { ...REPORT, domain: 'BÄCKEREI-abuse.com' });
  t.equal(idn.statusCode, 202, 'a Unicode name is accepted');
  t.equal(idn.json().domain, 'xn--bckerei-abuse-bfb.com', 'and stored in A-label form');

  const unknown = await report(app, { ...REPORT, domain: 'not-registered-here.com' });
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().code, 'not_found');
  t.match(unknown.headers['content-type'], 'application/problem+json');

  const mine = await app.inject({ method: 'GET', url: `/v1/abuse-complaints/${receipt.id}`, headers: bearer(r.token) });
  t.equal(mine.statusCode, 200);
  t.match(mine.json(), {
    id: receipt.id,
    domain: 'pekarna-abuse.com',
    category: 'phishing',
    source: 'public',
    status: 'open',
    response: null,
    evidence_urls: REPORT.evidence_urls,
    respond_by: receipt.respond_by,
  });
  t.notOk(
    'reporter_email' in mine.json() || 'reporter_name' in mine.json() || 'filed_from_ip' in mine.json(),
    "the reporter's identity is kept from the reseller",
  );

  const full = await adminGet(app, op.token, receipt.id);
  t.match(full, {
    account_id: r.accountId,
    reporter_name: 'Eva Reporter',
    reporter_email: 'eva@cert.test',
    filed_from_ip: '198.51.100.7',
    filed_by_user_id: null,
  });

  // The audit row of the public filing is not in the reseller's audit log (it holds the reporter's e-mail).
  const [audit] = await store.db.select().from(auditEvents).where(eq(auditEvents.operation, 'fileAbuseComplaint'));
  t.match(audit, { accountId: null, targetType: 'abuse_complaint', targetId: receipt.id, address: '198.51.100.7' });
  const resellerAudit = (await app.inject({ method: 'GET', url: '/v1/audit-events', headers: bearer(r.token) })).json();
  t.notOk(JSON.stringify(resellerAudit).includes('eva@cert.test'));
});

t.test('R-DOM-6: the public endpoint is rate limited per client address', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  await resellerWithDomains(app, op.token, 'limited-abuse.com');
  const set = await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/limits/address',
    headers: bearer(op.token),
    payload: { capacity: 3, refill_per_minute: 1 },
  });
  t.equal(set.statusCode, 200);
  // Whatever cost a migration gives the operation, this part counts single tokens.
  t.equal(
    (
      await app.inject({
        method: 'PUT',
        url: '/v1/admin/fair-use/costs/fileAbuseComplaint',
        headers: bearer(op.token),
        payload: { cost: 1 },
      })
    ).statusCode,
    200,
  );

  const codes = [];
  for (let i = 0; i < 4; i++)
    codes.push((await report(app, { ...REPORT, domain: 'limited-abuse.com' }, '203.0.113.9')).statusCode);
  t.same(codes, [202, 202, 202, 429]);
  const limited = await report(app, { ...REPORT, domain: 'limited-abuse.com' }, '203.0.113.9');
  t.equal(limited.json().code, 'rate_limited');
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After is set');
  t.equal(
    (await report(app, { ...REPORT, domain: 'limited-abuse.com' }, '203.0.113.10')).statusCode,
    202,
    'another address has its own bucket',
  );

  // An operation cost makes each report spend more of the address's bucket.
  t.equal(
    (
      await app.inject({
        method: 'PUT',
        url: '/v1/admin/fair-use/costs/fileAbuseComplaint',
        headers: bearer(op.token),
        payload: { cost: 2 },
      })
    ).statusCode,
    200,
  );
  const costly = [];
  for (let i = 0; i < 2; i++)
    costly.push((await report(app, { ...REPORT, domain: 'limited-abuse.com' }, '203.0.113.11')).statusCode);
  t.same(costly, [202, 429], 'cost 2 from 3 tokens: one report');
  const stored = (
    await app.inject({
      method: 'GET',
      url: '/v1/admin/abuse-complaints?domain=limited-abuse.com',
      headers: bearer(op.token),
    })
  ).json();
  t.equal(stored.data.length, 5, 'only the accepted reports were filed');
});

t.test('R-DOM-6: operators file complaints and list them with filters and pagination', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await resellerWithDomains(app, op.token, 'alpha-abuse.com');
  const b = await resellerWithDomains(app, op.token, 'beta-abuse.net');

  const filed = await adminFile(app, op.token, {
    domain: 'alpha-abuse.com',
    category: 'spam',
    description: 'Spam runs advertising this site, see headers.',
  });
  t.equal(filed.statusCode, 201);
  t.match(filed.json(), {
    domain: 'alpha-abuse.com',
    account_id: a.accountId,
    source: 'operator',
    status: 'open',
    reporter_name: null,
    reporter_email: null,
    filed_by_user_id: op.userId,
    evidence_urls: [],
  });
  t.equal(
    (await adminFile(app, op.token, { domain: 'nowhere-abuse.com', category: 'spam', description: 'x' })).statusCode,
    404,
  );
  t.equal(
    (await adminFile(app, a.token, { domain: 'alpha-abuse.com', category: 'spam', description: 'x' })).statusCode,
    403,
    'resellers cannot file as operators',
  );

  await adminFile(app, op.token, {
    domain: 'alpha-abuse.com',
    category: 'malware',
    description: 'Drive-by download on /index.php',
    reporter_email: 'soc@bank.test',
  });
  await adminFile(app, op.token, { domain: 'beta-abuse.net', category: 'botnet', description: 'C2 server' });

  const all = (
    await app.inject({ method: 'GET', url: '/v1/admin/abuse-complaints?limit=2', headers: bearer(op.token) })
  ).json();
  t.equal(all.data.length, 2);
  t.equal(all.data[0].domain, 'beta-abuse.net', 'newest first');
  t.type(all.next_cursor, 'string');
  const rest = (
    await app.inject({
      method: 'GET',
      url: `/v1/admin/abuse-complaints?limit=2&cursor=${all.next_cursor}`,
      headers: bearer(op.token),
    })
  ).json();
  t.same(
    rest.data.map((c: { category: string }) => c.category),
    ['spam'],
  );
  t.equal(rest.next_cursor, null);

  const ofA = (
    await app.inject({
      method: 'GET',
      url: `/v1/admin/abuse-complaints?account_id=${a.accountId}`,
      headers: bearer(op.token),
    })
  ).json();
  t.same(
    ofA.data.map((c: { category: string }) => c.category),
    ['malware', 'spam'],
  );
  const ofB = (
    await app.inject({
      method: 'GET',
      url: '/v1/admin/abuse-complaints?domain=BETA-abuse.net',
      headers: bearer(op.token),
    })
  ).json();
  t.same(
    ofB.data.map((c: { account_id: string }) => c.account_id),
    [b.accountId],
  );
  const open = (
    await app.inject({ method: 'GET', url: '/v1/admin/abuse-complaints?status=responded', headers: bearer(op.token) })
  ).json();
  t.same(open.data, []);
  const badCursor = await app.inject({
    method: 'GET',
    url: '/v1/admin/abuse-complaints?cursor=bm9wZQ',
    headers: bearer(op.token),
  });
  t.equal(badCursor.statusCode, 400);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/admin/abuse-complaints', headers: bearer(a.token) })).statusCode,
    403,
  );
});

t.test('R-DOM-6: a reseller sees only its own complaints; another reseller gets 404', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await resellerWithDomains(app, op.token, 'mine-abuse.com');
  const b = await resellerWithDomains(app, op.token, 'theirs-abuse.com');
  const onA = (await report(app, { ...REPORT, domain: 'mine-abuse.com' })).json().id as string;
  const onB = (await report(app, { ...REPORT, domain: 'theirs-abuse.com' })).json().id as string;

  const listA = (await app.inject({ method: 'GET', url: '/v1/abuse-complaints', headers: bearer(a.token) })).json();
  t.same(
    listA.data.map((c: { id: string }) => c.id),
    [onA],
  );
  const openA = (
    await app.inject({ method: 'GET', url: '/v1/abuse-complaints?status=open', headers: bearer(a.token) })
  ).json();
  t.same(
    openA.data.map((c: { id: string }) => c.id),
    [onA],
  );
  t.same(
    (await app.inject({ method: 'GET', url: '/v1/abuse-complaints?status=closed', headers: bearer(a.token) })).json()
      .data,
    [],
  );

  const peek = await app.inject({ method: 'GET', url: `/v1/abuse-complaints/${onB}`, headers: bearer(a.token) });
  t.equal(peek.statusCode, 404, "another reseller's complaint is not found, not forbidden");
  const meddle = await respond(app, a.token, onB, { action: 'no_violation', message: 'not ours' });
  t.equal(meddle.statusCode, 404);
  t.equal((await adminGet(app, op.token, onB)).response, null, 'and nothing was recorded');
  t.equal(
    (await app.inject({ method: 'GET', url: `/v1/abuse-complaints/${onA}`, headers: bearer(b.token) })).statusCode,
    404,
  );
  t.equal(
    (
      await app.inject({
        method: 'GET',
        url: '/v1/abuse-complaints/00000000-0000-4000-8000-000000000000',
        headers: bearer(a.token),
      })
    ).statusCode,
    404,
  );
  t.equal((await app.inject({ method: 'GET', url: `/v1/abuse-complaints/${onA}` })).statusCode, 401);
});

t.test('R-DOM-6: a response in time marks the complaint responded and it never escalates', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await resellerWithDomains(app, op.token, 'answered-abuse.com');
  const id = (await report(app, { ...REPORT, domain: 'answered-abuse.com' })).json().id as string;

  const first = await respond(app, r.token, id, { action: 'investigating', message: 'Contacted the customer.' });
  t.equal(first.statusCode, 200);
  t.match(first.json(), {
    status: 'responded',
    response: { action: 'investigating', message: 'Contacted the customer.', responded_by_user_id: r.ownerId },
    escalated_at: null,
  });
  const second = await respond(app, r.token, id, { action: 'removed', message: 'The phishing kit is gone.' });
  t.match(
    second.json(),
    { status: 'responded', response: { action: 'removed', message: 'The phishing kit is gone.' } },
    'a later response replaces the earlier one',
  );

  t.equal(await app.jobs.run('abuse-escalation', new Date(Date.now() + 100 * HOUR)), 0, 'nothing to escalate');
  t.match(await adminGet(app, op.token, id), { status: 'responded', escalated_at: null, incident_id: null });
  t.same(await incidentsOf(app, op.token, r.accountId), []);
});

t.test('R-DOM-6: an unanswered complaint escalates once, to one fair-use incident', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await resellerWithDomains(app, op.token, 'silent-abuse.com');
  const id = (await report(app, { ...REPORT, domain: 'silent-abuse.com' })).json().id as string;
  const respondBy = Date.parse((await adminGet(app, op.token, id)).respond_by);

  t.equal(await app.jobs.run('abuse-escalation', new Date(respondBy - 1)), 0, 'not before respond_by');
  t.equal((await adminGet(app, op.token, id)).status, 'open');

  const at = new Date(respondBy + HOUR);
  t.equal(await app.jobs.run('abuse-escalation', at), 1);
  t.equal(await app.jobs.run('abuse-escalation', new Date(respondBy + 2 * HOUR)), 0, 'a second run finds nothing');

  const incidents = await incidentsOf(app, op.token, r.accountId);
  t.equal(incidents.length, 1, 'exactly one incident');
  t.match(incidents[0], {
    type: 'abuse_unanswered',
    evidence: { complaint_id: id, domain: 'silent-abuse.com', respond_by: new Date(respondBy).toISOString() },
  });
  t.type(incidents[0]!.evidence.filed_at, 'string');

  const escalated = (
    await app.inject({ method: 'GET', url: '/v1/admin/abuse-complaints?status=escalated', headers: bearer(op.token) })
  ).json();
  t.same(
    escalated.data.map((c: { id: string }) => c.id),
    [id],
    'the operator list shows it escalated',
  );
  t.match(escalated.data[0], { status: 'escalated', escalated_at: at.toISOString(), incident_id: incidents[0]!.id });

  const standing = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
  t.equal(standing.standing.open_incidents, 1, 'the reseller sees the incident in its standing');
  t.match(standing.recent_incidents, [{ type: 'abuse_unanswered', evidence: { complaint_id: id } }]);

  // A late answer is still recorded; the complaint stays escalated and the incident stands.
  const late = await respond(app, r.token, id, { action: 'suspended', message: 'Suspended the hosting account.' });
  t.equal(late.statusCode, 200);
  t.match(late.json(), { status: 'escalated', response: { action: 'suspended' }, incident_id: incidents[0]!.id });
  t.equal((await incidentsOf(app, op.token, r.accountId)).length, 1);
});

t.test('R-DOM-6: an answer after respond_by escalates at once, whenever the job runs', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await resellerWithDomains(app, op.token, 'tardy-abuse.com');
  const id = (await report(app, { ...REPORT, domain: 'tardy-abuse.com' })).json().id as string;
  // The deadline has passed (the complaint's clock moved back: no sleeping).
  await store.db
    .update(abuseComplaints)
    .set({ respondBy: new Date(Date.now() - 60_000) })
    .where(eq(abuseComplaints.id, id));

  const late = await respond(app, r.token, id, { action: 'removed', message: 'Removed, sorry for the delay.' });
  t.equal(late.statusCode, 200);
  t.match(late.json(), { status: 'escalated', response: { action: 'removed' } });
  t.equal(await app.jobs.run('abuse-escalation', new Date(Date.now() + HOUR)), 0, 'the job has nothing left to do');
  const incidents = await incidentsOf(app, op.token, r.accountId);
  t.equal(incidents.length, 1);
  t.match(incidents[0], { type: 'abuse_unanswered', evidence: { complaint_id: id } });
  t.equal(late.json().incident_id, incidents[0]!.id);
});

t.test('R-DOM-6: the job escalates many complaints in batches, each once, with runs in parallel', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await resellerWithDomains(app, op.token, 'busy-abuse.com');
  const n = 7;
  for (let i = 0; i < n; i++)
    t.equal(
      (await adminFile(app, op.token, { domain: 'busy-abuse.com', category: 'spam', description: `spam wave ${i}` }))
        .statusCode,
      201,
    );
  const at = new Date(Date.now() + 49 * HOUR);
  const handled = await Promise.all([
    app.jobs.run('abuse-escalation', at),
    app.jobs.run('abuse-escalation', at),
    app.jobs.run('abuse-escalation', at),
  ]);
  t.equal(
    handled.reduce((x, y) => x + y, 0),
    n,
    'every complaint was handled by exactly one run',
  );
  const incidents = await incidentsOf(app, op.token, r.accountId);
  t.equal(incidents.length, n);
  t.equal(new Set(incidents.map((i) => i.evidence.complaint_id)).size, n, 'one incident per complaint');
});

t.test('R-DOM-6: an escalated complaint whose incident went missing is caught up by the next run', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await resellerWithDomains(app, op.token, 'crash-abuse.com');
  const id = (await report(app, { ...REPORT, domain: 'crash-abuse.com' })).json().id as string;
  // As if a process died after committing the escalation and before recording the incident.
  const now = new Date();
  await store.db
    .update(abuseComplaints)
    .set({ status: 'escalated', escalatedAt: now })
    .where(eq(abuseComplaints.id, id));
  t.same(await incidentsOf(app, op.token, r.accountId), []);
  t.equal(await app.jobs.run('abuse-escalation', new Date(now.getTime() + 60_000)), 0, 'no new escalations');
  const incidents = await incidentsOf(app, op.token, r.accountId);
  t.equal(incidents.length, 1);
  t.equal(incidents[0]!.evidence.complaint_id, id);
  await app.jobs.run('abuse-escalation', new Date(now.getTime() + 120_000));
  t.equal((await incidentsOf(app, op.token, r.accountId)).length, 1, 'and never twice');
});

t.test('R-DOM-6: operators close complaints; a closed one refuses responses (409) and never escalates', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await resellerWithDomains(app, op.token, 'closed-abuse.com');
  const id = (await report(app, { ...REPORT, domain: 'closed-abuse.com' })).json().id as string;

  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: `/v1/admin/abuse-complaints/${id}/close`,
        headers: bearer(r.token),
        payload: { note: 'x' },
      })
    ).statusCode,
    403,
  );
  const closed = await app.inject({
    method: 'POST',
    url: `/v1/admin/abuse-complaints/${id}/close`,
    headers: bearer(op.token),
    payload: { note: 'Duplicate of an earlier report.' },
  });
  t.equal(closed.statusCode, 200);
  t.match(closed.json(), { status: 'closed', close_note: 'Duplicate of an earlier report.' });
  t.type(closed.json().closed_at, 'string');

  const refused = await respond(app, r.token, id, { action: 'no_violation', message: 'ok' });
  t.equal(refused.statusCode, 409);
  t.equal(refused.json().code, 'abuse_complaint_closed');
  const again = await app.inject({
    method: 'POST',
    url: `/v1/admin/abuse-complaints/${id}/close`,
    headers: bearer(op.token),
    payload: { note: 'again' },
  });
  t.equal(again.statusCode, 409);
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/v1/admin/abuse-complaints/00000000-0000-4000-8000-000000000000/close',
        headers: bearer(op.token),
        payload: { note: 'x' },
      })
    ).statusCode,
    404,
  );

  t.equal(await app.jobs.run('abuse-escalation', new Date(Date.now() + 100 * HOUR)), 0);
  t.match(await adminGet(app, op.token, id), { status: 'closed', response: null, escalated_at: null });
  t.same(await incidentsOf(app, op.token, r.accountId), []);
  const seen = (
    await app.inject({ method: 'GET', url: `/v1/abuse-complaints/${id}`, headers: bearer(r.token) })
  ).json();
  t.match(seen, { status: 'closed', close_note: 'Duplicate of an earlier report.' }, 'the reseller sees how it ended');
});

t.test('R-DOM-6: invalid complaints and responses are refused with 422 and field pointers', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await resellerWithDomains(app, op.token, 'valid-abuse.com');
  const base = { ...REPORT, domain: 'valid-abuse.com' };
  const cases: [Record<string, unknown>, string, string][] = [
    [{ ...base, reporter_email: undefined }, '/body/reporter_email', 'required'],
    [{ ...base, reporter_email: 'not-an-address' }, '/body/reporter_email', 'invalid_format'],
    [{ ...base, evidence_urls: ['javascript:alert(1)'] }, '/body/evidence_urls/0', 'invalid_format'],
    [{ ...base, evidence_urls: ['ftp://files.example/x'] }, '/body/evidence_urls/0', 'invalid_format'],
    [{ ...base, category: 'rude' }, '/body/category', 'invalid_value'],
    [{ ...base, description: '' }, '/body/description', 'too_short'],
    [{ ...base, description: '   ' }, '/body/description', 'required'],
    [{ ...base, description: 'x'.repeat(10_001) }, '/body/description', 'too_long'],
    [{ ...base, account_id: r.accountId }, '/body/account_id', 'unknown_field'],
  ];
  for (const [i, [body, pointer, code]] of cases.entries()) {
    // One address per case: each report costs 10 of an address's 60 tokens.
    const res = await report(app, body, `198.51.100.${100 + i}`);
    t.equal(res.statusCode, 422, `${pointer} ${code}`);
    t.equal(res.json().code, 'validation_failed');
    t.ok(
      res.json().errors.some((e: { pointer: string; code: string }) => e.pointer === pointer && e.code === code),
      `${pointer} ${code}: ${JSON.stringify(res.json().errors)}`,
    );
  }
  const stored = (
    await app.inject({ method: 'GET', url: '/v1/admin/abuse-complaints', headers: bearer(op.token) })
  ).json();
  t.same(stored.data, [], 'nothing was filed');

  const id = (await report(app, base)).json().id as string;
  const badAction = await respond(app, r.token, id, { action: 'ignored', message: 'meh' });
  t.equal(badAction.statusCode, 422);
  t.match(badAction.json().errors, [{ pointer: '/body/action', code: 'invalid_value' }]);
  const blank = await respond(app, r.token, id, { action: 'removed', message: ' ' });
  t.equal(blank.statusCode, 422);
  t.match(blank.json().errors, [{ pointer: '/body/message', code: 'required' }]);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/abuse-complaints/not-a-uuid', headers: bearer(r.token) })).statusCode,
    422,
  );
  t.equal((await adminGet(app, op.token, id)).status, 'open', 'invalid responses changed nothing');
});

t.test('R-DOM-6: every abuse route is in the OpenAPI document; the public one needs no credential', async (t) => {
  const { app } = await buildTestApp(t);
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const op = (path: string, method: string) => doc.paths[path]?.[method];
  t.same(op('/v1/abuse-complaints', 'post').security, []);
  t.ok(op('/v1/abuse-complaints', 'post').responses['429'], '429 documented');
  for (const [path, method, id] of [
    ['/v1/abuse-complaints', 'get', 'listAbuseComplaints'],
    ['/v1/abuse-complaints/{id}', 'get', 'getAbuseComplaint'],
    ['/v1/abuse-complaints/{id}/responses', 'post', 'respondToAbuseComplaint'],
    ['/v1/admin/abuse-complaints', 'post', 'adminCreateAbuseComplaint'],
    ['/v1/admin/abuse-complaints', 'get', 'adminListAbuseComplaints'],
    ['/v1/admin/abuse-complaints/{id}', 'get', 'adminGetAbuseComplaint'],
    ['/v1/admin/abuse-complaints/{id}/close', 'post', 'adminCloseAbuseComplaint'],
  ] as const) {
    t.equal(op(path, method)?.operationId, id, `${method} ${path}`);
    t.ok(op(path, method).security.length > 0, `${id} needs a credential`);
  }
  t.ok(app.jobs.names().includes('abuse-escalation'));
});

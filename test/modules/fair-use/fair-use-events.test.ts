// Issue 13 item 1 (fair use, R-API-4): the ladder's events, written in the transaction that records
// the incident or takes the step, read back through GET /v1/events.
import t from 'tap';
import { sql } from 'drizzle-orm';
import type { App } from '../../../src/app.js';
import { recordIncident } from '../../../src/modules/fair-use/api.js';
import { buildTestApp } from '../../helpers/app.js';
import { credit } from '../../helpers/domains.js';
import { bearer, operator, reseller, type Reseller } from '../../helpers/fixtures.js';
import { feedSettled } from '../../helpers/events.js';

interface FeedEvent {
  id: string;
  type: string;
  account_id: string;
  object: { type: string; id: string; sequence: number };
  data: Record<string, unknown>;
}

async function feed(
  app: App,
  r: Reseller,
  type = 'fair_use.incident_opened,fair_use.warning,fair_use.api_suspended,fair_use.api_suspension_lifted,fair_use.fee_charged',
): Promise<FeedEvent[]> {
  await feedSettled(app);
  const res = await app.inject({ method: 'GET', url: `/v1/events?type=${type}&limit=500`, headers: bearer(r.token) });
  if (res.statusCode !== 200) throw new Error(`events: ${res.statusCode} ${res.body}`);
  return res.json<{ data: FeedEvent[] }>().data;
}

/** A distinct failing command each time: every refusal of its repeat is a new incident (R-API-2). */
async function breach(app: App, token: string, i: number) {
  const payload = { username: `weak-${i}`, email: 'w@hosting.test', name: 'W', role: 'support', password: 'password' };
  await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(token), payload });
  const repeat = await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(token), payload });
  if (repeat.json().code !== 'repeated_failed_command') throw new Error(repeat.body);
}

const fairUse = async (app: App, r: Reseller) =>
  (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json<{
    standing: Record<string, unknown>;
    recent_incidents: Record<string, unknown>[];
  }>();

const DAY = 86_400_000;
/** Noon UTC today: a test's incidents never straddle midnight, whatever time it runs. */
const NOON = Math.floor(Date.now() / DAY) * DAY + DAY / 2;

t.test(
  'issue 13 item 1 / R-API-4: each ladder step writes its event once, in order, with data as the API shows it',
  async (t) => {
    let at = NOON - 2 * DAY;
    const { app } = await buildTestApp(t, { now: () => new Date(at) });
    const onDay = (n: number) => (at = NOON + (n - 3) * DAY);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    await credit(app, op.token, r.accountId, 10_000);

    // Day 1: the first incident, with the warning step.
    onDay(1);
    await breach(app, r.token, 1);
    let events = await feed(app, r);
    t.same(
      events.map((e) => e.type),
      ['fair_use.incident_opened', 'fair_use.warning'],
    );
    const incident = (await fairUse(app, r)).recent_incidents[0]!;
    t.match(events[0], {
      account_id: r.accountId,
      object: { type: 'fair_use_incident', id: String(incident.id), sequence: 1 },
    });
    t.same(events[0]!.data, incident, 'data is the incident as GET /v1/fair-use shows it, actions included');
    t.same(events[1]!.object, { type: 'fair_use_incident', id: String(incident.id), sequence: 2 });
    t.same(events[1]!.data, incident);

    // A second cause on the same day: an incident, no step.
    await breach(app, r.token, 11);
    events = await feed(app, r);
    t.same(
      events.slice(2).map((e) => e.type),
      ['fair_use.incident_opened'],
    );

    onDay(2);
    await breach(app, r.token, 2);
    onDay(3);
    await breach(app, r.token, 3);
    // Suspended: the standing is still readable; the feed is read once the operator has lifted it.
    const standing = (await fairUse(app, r)).standing;
    t.equal(standing.api_suspended_until, new Date(at + 24 * 3_600_000).toISOString(), 'the third day suspends');

    // The operator lifts it: one event, lifted_by operator.
    const lift = () =>
      app.inject({ method: 'DELETE', url: `/v1/admin/fair-use/suspensions/${r.accountId}`, headers: bearer(op.token) });
    t.equal((await lift()).statusCode, 204);
    t.equal((await lift()).statusCode, 204, 'lifting again is harmless');
    events = await feed(app, r);
    t.same(
      events.slice(3).map((e) => e.type),
      [
        'fair_use.incident_opened',
        'fair_use.incident_opened',
        'fair_use.api_suspended',
        'fair_use.api_suspension_lifted',
      ],
      'one suspension, one lift',
    );
    const [suspended, lifted] = events.slice(5);
    t.same(suspended!.object, { type: 'account', id: r.accountId, sequence: 1 });
    t.same(suspended!.data, standing, 'data is the standing of GET /v1/fair-use');
    t.same(lifted!.object, { type: 'account', id: r.accountId, sequence: 2 });
    t.same(lifted!.data, { ...(await fairUse(app, r)).standing, lifted_by: 'operator' });
    t.equal(lifted!.data.api_suspended_until, null);

    // Days 4 and 5 bring the handling fee.
    onDay(4);
    await breach(app, r.token, 4);
    onDay(5);
    await breach(app, r.token, 5);
    const fees = await feed(app, r, 'fair_use.fee_charged');
    t.equal(fees.length, 1);
    const [fee] = (
      await app.inject({ method: 'GET', url: '/v1/billing/transactions?type=fee', headers: bearer(r.token) })
    ).json().data;
    t.match(fees[0], { object: { type: 'transaction', id: String(fee.id), sequence: 1 } });
    t.same(fees[0]!.data, fee, 'data is the ledger entry');
    t.equal(fee.reference, `incident:${String((await fairUse(app, r)).recent_incidents[0]!.id)}`);

    const all = await feed(app, r);
    const incidents = (
      await app.inject({
        method: 'GET',
        url: `/v1/admin/fair-use/incidents?account_id=${r.accountId}`,
        headers: bearer(op.token),
      })
    ).json().data as { id: number }[];
    t.equal(incidents.length, 6);
    t.same(
      all
        .filter((e) => e.type === 'fair_use.incident_opened')
        .map((e) => e.object.id)
        .sort(),
      incidents.map((i) => String(i.id)).sort(),
      'one incident_opened per incident',
    );
    t.equal(all.filter((e) => e.type === 'fair_use.warning').length, 1);
    t.equal(all.filter((e) => e.type === 'fair_use.api_suspended').length, 1);
  },
);

t.test(
  'issue 13 item 1 / R-API-4: an expired suspension is reported by the expiry job once (lifted_by expiry); an incident already recorded (same dedupe key) writes nothing',
  async (t) => {
    let at = NOON - 3 * DAY;
    const { app } = await buildTestApp(t, { now: () => new Date(at) });
    const op = await operator(app);
    await app.inject({
      method: 'PUT',
      url: '/v1/admin/fair-use/ladder',
      headers: bearer(op.token),
      payload: { steps: [{ threshold: 2, action: 'suspend_api', suspension_hours: 1 }] },
    });
    const r = await reseller(app, op.token);
    await breach(app, r.token, 1);
    at = NOON - 2 * DAY;
    await breach(app, r.token, 2);
    const until = at + 3_600_000;
    let events = await feed(app, r, 'fair_use.api_suspended,fair_use.api_suspension_lifted');
    t.same(
      events.map((e) => e.type),
      ['fair_use.api_suspended'],
    );
    t.equal(events[0]!.data.api_suspended_until, new Date(until).toISOString());

    t.equal(await app.jobs.run('fair-use-suspension-expiry', new Date(until - 1)), 0, 'not before its end');
    t.equal(await app.jobs.run('fair-use-suspension-expiry', new Date(until)), 1, 'ended at its end');
    t.equal(await app.jobs.run('fair-use-suspension-expiry', new Date(until + DAY)), 0, 'once');
    events = await feed(app, r, 'fair_use.api_suspended,fair_use.api_suspension_lifted');
    t.same(
      events.map((e) => e.type),
      ['fair_use.api_suspended', 'fair_use.api_suspension_lifted'],
    );
    t.same(events[1]!.object, { type: 'account', id: r.accountId, sequence: 2 });
    t.same(events[1]!.data, { ...(await fairUse(app, r)).standing, lifted_by: 'expiry' });

    // The same incident again (same dedupe key) records nothing and writes nothing.
    const again = await recordIncident(
      app.db,
      { accountId: r.accountId, type: 'drop_catch_pattern', dedupeKey: 'k', evidence: {}, at: new Date(NOON) },
      30,
    );
    t.ok(again);
    const repeat = await recordIncident(
      app.db,
      { accountId: r.accountId, type: 'drop_catch_pattern', dedupeKey: 'k', evidence: {}, at: new Date(NOON) },
      30,
    );
    t.equal(repeat, null);
    t.equal((await feed(app, r, 'fair_use.incident_opened')).length, 3);
  },
);

t.test(
  'issue 13 item 1 / R-API-4: a suspension past its end that nobody noticed is reported before the next incident, and by an operator lift as expiry',
  async (t) => {
    let at = NOON - 3 * DAY;
    const { app } = await buildTestApp(t, { now: () => new Date(at) });
    const op = await operator(app);
    await app.inject({
      method: 'PUT',
      url: '/v1/admin/fair-use/ladder',
      headers: bearer(op.token),
      payload: { steps: [{ threshold: 2, action: 'suspend_api', suspension_hours: 1 }] },
    });
    const r = await reseller(app, op.token);
    await breach(app, r.token, 1);
    at = NOON - 2 * DAY;
    await breach(app, r.token, 2); // suspended for an hour, two days ago
    at = NOON - DAY;
    await breach(app, r.token, 3);
    let events = await feed(app, r);
    t.same(
      events.slice(-2).map((e) => [e.type, e.data.lifted_by]),
      [
        ['fair_use.api_suspension_lifted', 'expiry'],
        ['fair_use.incident_opened', undefined],
      ],
      'the lapsed suspension is written down before the new incident',
    );

    // A new suspension (a fourth cause-day) then lapses; an operator lift afterwards reports expiry.
    const r2 = await reseller(app, op.token);
    at = NOON - 3 * DAY;
    await breach(app, r2.token, 21);
    at = NOON - 2 * DAY;
    await breach(app, r2.token, 22);
    t.equal(
      (
        await app.inject({
          method: 'DELETE',
          url: `/v1/admin/fair-use/suspensions/${r2.accountId}`,
          headers: bearer(op.token),
        })
      ).statusCode,
      204,
    );
    events = await feed(app, r2, 'fair_use.api_suspension_lifted');
    t.equal(events.length, 1);
    t.equal(events[0]!.data.lifted_by, 'expiry', 'its end had passed before the operator came');
    t.equal(await app.jobs.run('fair-use-suspension-expiry', new Date()), 0, 'nothing left for the job');
  },
);

t.test('issue 13 item 1 / R-API-4: a rolled-back incident or lift leaves no event', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/ladder',
    headers: bearer(op.token),
    payload: { steps: [{ threshold: 1, action: 'warning' }] },
  });
  const r = await reseller(app, op.token);
  const input = {
    accountId: r.accountId,
    type: 'drop_catch_pattern' as const,
    dedupeKey: 'rolled-back',
    evidence: {},
  };
  await t.rejects(
    app.db.transaction(async (tx) => {
      const recorded = await recordIncident(tx, input, 30);
      t.same(recorded?.actions, ['warning'], 'recorded and warned inside the transaction');
      throw new Error('the caller failed afterwards');
    }),
    /the caller failed/,
  );
  t.same(await feed(app, r), [], 'no incident, no warning event');

  // The expiry job's batch fails (a trigger refuses the write): its events go with it.
  await app.db.execute(
    sql`update accounts set api_suspended_until = now() - interval '1 hour' where id = ${r.accountId}::uuid`,
  );
  await app.db.execute(sql`create function refuse_lift() returns trigger language plpgsql as $$
    begin
      if old.api_suspended_until is not null and new.api_suspended_until is null then
        raise exception 'refused by the test';
      end if;
      return new;
    end $$`);
  await app.db.execute(
    sql`create trigger refuse_lift before update on accounts for each row execute function refuse_lift()`,
  );
  await t.rejects(app.jobs.run('fair-use-suspension-expiry', new Date()), 'the batch fails');
  t.same(await feed(app, r), [], 'the failed batch wrote no event');
  await app.db.execute(sql`drop trigger refuse_lift on accounts`);
  t.equal(await app.jobs.run('fair-use-suspension-expiry', new Date()), 1);
  t.same(
    (await feed(app, r)).map((e) => e.type),
    ['fair_use.api_suspension_lifted'],
  );
});

// The repeated-failure guard (R-API-2) and the incident ladder (R-API-4) as a person learning the
// API meets them, and as a script hammering one failing command meets them (issue 11, items 22-23).
import t from 'tap';
import { eq } from 'drizzle-orm';
import { failedCommands } from '../../../src/db/schema/index.js';
import { compileSubjects, identifyCommand } from '../../../src/plugins/repeated-failure-guard.js';
import { buildTestApp } from '../../helpers/app.js';
import { addUser, apiKey, bearer, loginAs, operator } from '../../helpers/fixtures.js';
import { checkNames, credit, CUSTOMER, domainSetup, fundedReseller, registered } from '../../helpers/domains.js';

const DAY = 86_400_000;
const MINUTE = 60_000;

/** Noon UTC today: a test's hour of incidents never straddles midnight, whatever time it runs. */
const NOON = Math.floor(Date.now() / DAY) * DAY + DAY / 2;

/** A clock the test moves; fair use (guard windows, incident days) reads it. */
function testClock(start: number) {
  let at = start;
  return { now: () => new Date(at), set: (ms: number) => void (at = ms), advance: (ms: number) => void (at += ms) };
}

t.test(
  'hardening-22 / R-API-2: unlock, then the identical delete runs; the failure said it would be remembered; case and a trailing dot do not dodge the guard',
  async (t) => {
    const { app } = await buildTestApp(t);
    const { r } = await domainSetup(app);
    await registered(app, r, 'locked-first.com');
    const del = (name: string) =>
      app.inject({
        method: 'DELETE',
        url: `/v1/domains/${name}`,
        headers: bearer(r.token),
        payload: { confirm: true },
      });

    const first = await del('locked-first.com');
    t.equal(first.statusCode, 409);
    t.equal(first.json().code, 'domain_locked');
    const until = first.json().repeat_refused_until;
    t.ok(Date.parse(until) > Date.now(), 'the failure says until when its repeat is refused');
    t.match(first.json().detail, /unlock.*refused until/s, 'and says so in words, after the original detail');

    const repeat = await del('locked-first.com');
    t.equal(repeat.json().code, 'repeated_failed_command', 'an unaltered repeat is refused');
    t.same(
      repeat.json().first_failure.depends_on,
      ['domains:locked-first.com'],
      'the refusal names what the failure depended on',
    );
    t.match(repeat.json().detail, /change what it depends on \(domains:locked-first\.com\)/);
    const dodge = await del('LOCKED-First.COM.');
    t.equal(
      dodge.json().code,
      'repeated_failed_command',
      'upper case and a trailing dot name the same domain: still the same command',
    );

    const unlock = await app.inject({
      method: 'POST',
      url: '/v1/domains/locked-first.com/unlock',
      headers: bearer(r.token),
    });
    t.equal(unlock.statusCode, 200);
    const again = await del('locked-first.com');
    t.equal(
      again.statusCode,
      200,
      'after a successful change to the domain the identical delete is a new command, and runs',
    );

    const view = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
    t.equal(view.standing.api_suspended_until, null);
    t.same(
      view.recent_incidents.map((i: { actions: string[] }) => i.actions),
      [['warning']],
      'two refusals of one remembered failure are one incident: a warning',
    );
  },
);

t.test(
  'hardening-22 / R-API-2: an order refused for insufficient funds runs again after the operator credits the account',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await fundedReseller(app, op.token, 0);
    await checkNames(app, r, 'no-funds-yet.com');
    const order = () =>
      app.inject({
        method: 'POST',
        url: '/v1/domains',
        headers: bearer(r.token),
        payload: {
          name: 'no-funds-yet.com',
          contacts: { owner: r.contact, admin: r.contact, tech: r.contact },
          nameservers: [],
        },
      });
    const first = await order();
    t.equal(first.statusCode, 402);
    t.equal(first.json().code, 'insufficient_funds');
    t.ok(first.json().repeat_refused_until);
    const refused = await order();
    t.equal(refused.json().code, 'repeated_failed_command');
    t.ok(refused.json().first_failure.depends_on.includes('balance'), 'a 402 depended on the balance');
    await credit(app, op.token, r.accountId, 100_000);
    const paid = await order();
    t.equal(paid.statusCode, 201, 'a credit changes what the failure depended on');
  },
);

t.test(
  'hardening-22 / R-API-2: an order refused for its owner contact runs again after that contact is corrected',
  async (t) => {
    const { app } = await buildTestApp(t);
    const { r } = await domainSetup(app);
    const outside = await app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: bearer(r.token),
      payload: { ...CUSTOMER, country: 'US', postal_code: '10001' },
    });
    t.equal(outside.statusCode, 201);
    const handle = outside.json().handle as string;
    await checkNames(app, r, 'pekarna-eu.eu');
    const order = () =>
      app.inject({
        method: 'POST',
        url: '/v1/domains',
        headers: bearer(r.token),
        payload: { name: 'pekarna-eu.eu', contacts: { owner: handle, admin: handle, tech: handle }, nameservers: [] },
      });
    const first = await order();
    t.equal(first.statusCode, 422, '.eu needs an owner in the EU/EEA');
    t.equal((await order()).json().code, 'repeated_failed_command');
    const fixed = await app.inject({
      method: 'PATCH',
      url: `/v1/contacts/${handle}`,
      headers: bearer(r.token),
      payload: { country: 'CZ', postal_code: '120 00' },
    });
    t.equal(fixed.statusCode, 200);
    t.equal((await order()).statusCode, 201, 'the order names the contact: its update makes the order new');
  },
);

t.test(
  'hardening-22 / R-API-2 / R-DOM-2: a registration refused for a missing check runs, unaltered, once the name is checked',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const { r } = await domainSetup(app);
    const order = () =>
      app.inject({
        method: 'POST',
        url: '/v1/domains',
        headers: bearer(r.token),
        payload: {
          name: 'check-later.com',
          contacts: { owner: r.contact, admin: r.contact, tech: r.contact },
          nameservers: [],
        },
      });
    t.equal((await order()).json().code, 'availability_check_required');
    t.equal((await order()).json().code, 'repeated_failed_command', 'unchecked, the identical order is a blind repeat');
    await checkNames(app, r, 'other-name.com');
    t.equal(
      (await order()).json().code,
      'repeated_failed_command',
      'checking another name changes nothing the order depended on',
    );
    await checkNames(app, r, 'CHECK-LATER.com');
    const left = await store.db.select().from(failedCommands).where(eq(failedCommands.accountId, r.accountId));
    t.same(left, [], 'the check of the name forgot the failure that named it');
    t.equal(
      (await order()).statusCode,
      201,
      'the check changed what the failure depended on: the identical order is a new command, and runs',
    );

    // A deletion refused for a lock did not depend on any check: checking the name keeps it refused.
    const del = () =>
      app.inject({
        method: 'DELETE',
        url: '/v1/domains/check-later.com?confirm=true',
        headers: bearer(r.token),
      });
    t.equal((await del()).json().code, 'domain_locked');
    await checkNames(app, r, 'check-later.com');
    t.equal((await del()).json().code, 'repeated_failed_command', 'a check is no change to the lock');
  },
);

t.test(
  "hardening-22 / R-API-2: failures belong to the credential: a technical user's failed delete does not block the owner's own command",
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const { r } = await domainSetup(app);
    await registered(app, r, 'team-work.com');
    const tech = await addUser(app, r.token, 'technical');
    const techToken = (await loginAs(app, tech.username)).token;
    const del = (token: string) =>
      app.inject({
        method: 'DELETE',
        url: '/v1/domains/team-work.com',
        headers: bearer(token),
        payload: { confirm: true },
      });

    const techFirst = await del(techToken);
    t.equal(techFirst.json().code, 'domain_locked', 'the domain is locked');
    t.equal((await del(techToken)).json().code, 'repeated_failed_command', 'the technical user may not repeat it');
    const techAgain = await loginAs(app, tech.username);
    t.equal(
      (await del(techAgain.token)).json().code,
      'repeated_failed_command',
      'nor dodge it with a new login: a session counts as its user',
    );

    const owner = await del(r.token);
    t.equal(
      owner.json().code,
      'domain_locked',
      "the owner's identical command runs (and fails on its own account): the technical user's failure is not the owner's",
    );
    const unlock = await app.inject({
      method: 'POST',
      url: '/v1/domains/team-work.com/unlock',
      headers: bearer(r.token),
    });
    t.equal(unlock.statusCode, 200);
    const left = await store.db.select().from(failedCommands).where(eq(failedCommands.accountId, r.accountId));
    t.same(left, [], "the owner's unlock of the domain forgot both credentials' failures on it");
    t.equal((await del(techToken)).statusCode, 200, "and the technical user's identical delete runs");
  },
);

t.test('hardening-22 / R-API-2: identifiers are fingerprinted in normalised form', async (t) => {
  const subjects = compileSubjects('/v1/domains/:name', [
    { kind: 'contacts', at: '/body/contacts/*' },
    { kind: 'hosts', at: '/body/nameservers/*' },
  ]);
  const a = identifyCommand(
    'PATCH',
    '/v1/domains/:name',
    {
      params: { name: 'bücher.com' },
      body: { nameservers: ['NS1.Example.net.'], contacts: { owner: 'RA-ABCDEFGHIJ' } },
    },
    subjects,
  );
  const b = identifyCommand(
    'PATCH',
    '/v1/domains/:name',
    {
      params: { name: 'XN--BCHER-KVA.com.' },
      body: { contacts: { owner: 'RA-ABCDEFGHIJ' }, nameservers: ['ns1.example.net'] },
    },
    subjects,
  );
  t.equal(a.fingerprint, b.fingerprint, 'Unicode and A-label, case, trailing dots: one command');
  const order = compileSubjects('/v1/domains', [{ kind: 'domains', at: '/body/name' }]);
  const spaced = identifyCommand('POST', '/v1/domains', { body: { name: ' regtest1.com ' } }, order);
  const plain = identifyCommand('POST', '/v1/domains', { body: { name: 'regtest1.com' } }, order);
  t.equal(spaced.fingerprint, plain.fingerprint, 'spaces around a name, which the services trim, do not dodge it');
  t.same(a.subjects, ['domains:xn--bcher-kva.com', 'contacts:RA-ABCDEFGHIJ', 'hosts:ns1.example.net']);
  const otherHandle = identifyCommand(
    'PATCH',
    '/v1/domains/:name',
    {
      params: { name: 'bücher.com' },
      body: { nameservers: ['ns1.example.net'], contacts: { owner: 'RA-abcdefghij' } },
    },
    subjects,
  );
  t.not(otherHandle.fingerprint, a.fingerprint, 'contact handles are case-sensitive, so they are compared as sent');
  const ids = compileSubjects('/v1/api-keys/:id');
  t.equal(
    identifyCommand('DELETE', '/v1/api-keys/:id', { params: { id: '0B7E6E7C-5D3A-4F0E-9C71-2A1B3C4D5E6F' } }, ids)
      .fingerprint,
    identifyCommand('DELETE', '/v1/api-keys/:id', { params: { id: '0b7e6e7c-5d3a-4f0e-9c71-2a1b3c4d5e6f' } }, ids)
      .fingerprint,
    'UUIDs in any case',
  );
});

t.test(
  'hardening-23 / R-API-4: fifteen minutes of ordinary mistakes end with a warning, not a suspension',
  async (t) => {
    const clock = testClock(NOON);
    const { app } = await buildTestApp(t, { now: clock.now });
    const { r } = await domainSetup(app);
    await registered(app, r, 'learning.com');
    const mistakes = [
      () =>
        app.inject({
          method: 'DELETE',
          url: '/v1/domains/learning.com',
          headers: bearer(r.token),
          payload: { confirm: true },
        }),
      () =>
        app.inject({
          method: 'POST',
          url: '/v1/users',
          headers: bearer(r.token),
          payload: { username: 'weak-one', email: 'w@hosting.test', name: 'W', role: 'support', password: 'password' },
        }),
      () =>
        app.inject({
          method: 'POST',
          url: '/v1/domains',
          headers: bearer(r.token),
          payload: { name: 'never-checked.com', contacts: { owner: r.contact }, nameservers: [] },
        }),
      () =>
        app.inject({
          method: 'POST',
          url: '/v1/domains/learning.com/renew',
          headers: bearer(r.token),
          payload: { current_expires_at: '2001-01-01T00:00:00Z' },
        }),
      () =>
        app.inject({
          method: 'PATCH',
          url: '/v1/domains/learning.com',
          headers: bearer(r.token),
          payload: { nameservers: ['ns1.only-one.test'] },
        }),
    ];
    // A minute apart: each mistake, then (as people do) the same thing again, once or twice.
    for (let minute = 0; minute < 15; minute++) {
      const res = await mistakes[minute % mistakes.length]!();
      t.ok(
        res.statusCode >= 400 && res.statusCode < 500,
        `minute ${minute}: a client error (${res.statusCode} ${res.json().code})`,
      );
      clock.advance(MINUTE);
    }
    const view = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
    t.ok(
      view.standing.open_incidents >= 5,
      `refused repeats were recorded (${view.standing.open_incidents} incidents)`,
    );
    t.equal(view.standing.counted_incidents, 1, 'one cause on one day counts once');
    t.equal(view.standing.api_suspended_until, null, 'not suspended');
    t.same(
      [...new Set(view.recent_incidents.flatMap((i: { actions: string[] }) => i.actions))],
      ['warning'],
      'a warning, nothing else',
    );
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) })).statusCode,
      200,
      'the owner keeps working',
    );
  },
);

t.test(
  'hardening-23 / R-API-4: a script hammering one failing command is refused at once every time and suspended on the third day',
  async (t) => {
    const clock = testClock(NOON - 2 * DAY);
    const { app } = await buildTestApp(t, { now: clock.now });
    const { r } = await domainSetup(app);
    await registered(app, r, 'hammered.com');
    const key = await apiKey(app, r.token, ['domains:write', 'domains:read']);
    const hammer = () =>
      app.inject({
        method: 'DELETE',
        url: '/v1/domains/hammered.com',
        headers: bearer(key.key),
        payload: { confirm: true },
      });

    const day = async (n: number) => {
      clock.set(NOON - (3 - n) * DAY);
      const codes: string[] = [];
      // Every 11 minutes for an hour: each time the remembered failure has expired it runs (and fails) again.
      for (let round = 0; round < 6; round++) {
        for (let i = 0; i < 5; i++) codes.push((await hammer()).json().code);
        clock.advance(11 * MINUTE);
      }
      return codes;
    };

    const day1 = await day(1);
    t.equal(
      day1.filter((c) => c === 'repeated_failed_command').length,
      24,
      'day 1: every repeat refused with 409 at once',
    );
    t.equal(
      day1.filter((c) => c === 'domain_locked').length,
      6,
      'and the command ran only when its failure had expired',
    );
    let view = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
    t.match(view.standing, { counted_incidents: 1, incident_days: 1, api_suspended_until: null }, 'day 1: warned');

    await day(2);
    view = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
    t.match(
      view.standing,
      { counted_incidents: 2, incident_days: 2, api_suspended_until: null },
      'day 2: still not suspended',
    );

    const day3 = await day(3);
    t.equal(day3[0], 'domain_locked');
    t.equal(day3[1], 'repeated_failed_command', 'day 3: the first refusal is the third day with an incident');
    t.equal(day3[2], 'api_suspended', 'and suspends API access');
    view = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
    t.match(view.standing, { counted_incidents: 3, incident_days: 3 });
    t.equal(
      Date.parse(view.standing.api_suspended_until),
      NOON + 24 * 3_600_000,
      "suspended for 24 hours from the third day's incident",
    );
  },
);

t.test('hardening-23 / R-API-4: distinct days are ladder data an operator edits', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const ladder = (
    await app.inject({ method: 'GET', url: '/v1/admin/fair-use/ladder', headers: bearer(op.token) })
  ).json();
  t.same(
    ladder.steps.map((s: { threshold: number; min_days: number; action: string }) => [
      s.threshold,
      s.min_days,
      s.action,
    ]),
    [
      [1, 1, 'warning'],
      [3, 3, 'suspend_api'],
      [5, 4, 'fee'],
      [7, 5, 'termination_review'],
    ],
    'the default: suspension needs incidents on 3 distinct days, after the warning',
  );
  const never = await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/ladder',
    headers: bearer(op.token),
    payload: { steps: [{ threshold: 2, min_days: 31, action: 'suspend_api', suspension_hours: 1 }] },
  });
  t.equal(never.statusCode, 422);
  t.equal(
    never.json().errors[0].pointer,
    '/body/steps/0/min_days',
    'a step that could never fire within the period is refused',
  );
  const edited = await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/ladder',
    headers: bearer(op.token),
    payload: { steps: [{ threshold: 2, min_days: 2, action: 'suspend_api', suspension_hours: 1 }] },
  });
  t.same(edited.json().steps, [{ threshold: 2, min_days: 2, action: 'suspend_api', suspension_hours: 1, fee: null }]);
});

t.test('R-API-2: a refund, like a credit, makes an order refused for want of funds a new command', async (t) => {
  const { app } = await buildTestApp(t);
  const { r } = await domainSetup(app, 1_500);
  await registered(app, r, 'paid-first.com');
  await checkNames(app, r, 'paid-second.com');
  const order = () =>
    app.inject({
      method: 'POST',
      url: '/v1/domains',
      headers: bearer(r.token),
      payload: {
        name: 'paid-second.com',
        contacts: { owner: r.contact, admin: r.contact, tech: r.contact },
        nameservers: [],
      },
    });
  t.equal((await order()).statusCode, 402);
  t.equal((await order()).json().code, 'repeated_failed_command');
  await app.inject({ method: 'POST', url: '/v1/domains/paid-first.com/unlock', headers: bearer(r.token) });
  const released = await app.inject({
    method: 'DELETE',
    url: '/v1/domains/paid-first.com?confirm=true',
    headers: bearer(r.token),
  });
  t.equal(released.statusCode, 200, 'released in the add grace period, refunded');
  t.equal((await order()).statusCode, 201, 'the refund changed what the failure depended on');
});

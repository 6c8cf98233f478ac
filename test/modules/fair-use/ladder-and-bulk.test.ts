import t from 'tap';
import { eq } from 'drizzle-orm';
import { Type } from 'typebox';
import { accounts, ledgerTransactions } from '../../../src/db/schema/index.js';
import { judgeBulk } from '../../../src/modules/fair-use/bulk.js';
import { memoryBuckets } from '../../../src/modules/fair-use/buckets.js';
import { dropCatchThrottle } from '../../../src/modules/fair-use/drop-catch.js';
import type { App } from '../../../src/app.js';
import { buildTestApp, redisEnv, TEST_REDIS_URL } from '../../helpers/app.js';
import { credit } from '../../helpers/domains.js';
import { bearer, operator, reseller } from '../../helpers/fixtures.js';

/** A distinct failing command each time: every refusal of its repeat is a new incident. */
async function breach(app: App, token: string, i: number) {
  const payload = { username: `weak-${i}`, email: 'w@hosting.test', name: 'W', role: 'support', password: 'password' };
  await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(token), payload });
  const repeat = await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(token), payload });
  if (repeat.json().code !== 'repeated_failed_command') throw new Error(repeat.body);
}

const DAY = 86_400_000;
/** Noon UTC today: a test's incidents never straddle midnight, whatever time it runs. */
const NOON = Math.floor(Date.now() / DAY) * DAY + DAY / 2;

t.test(
  'R-API-4 / hardening-23: incidents on distinct days climb the ladder: warning, suspension on the third day, fee, termination review; one alone never suspends',
  async (t) => {
    // Fair use's clock: day 3 is today, so the suspension is in force now.
    let at = NOON - 2 * DAY;
    const { app, store } = await buildTestApp(t, { now: () => new Date(at) });
    const onDay = (n: number) => (at = NOON + (n - 3) * DAY);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    await credit(app, op.token, r.accountId, 10_000);

    onDay(1);
    await breach(app, r.token, 1);
    let view = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
    t.equal(view.standing.open_incidents, 1);
    t.equal(view.standing.api_suspended_until, null, 'one incident does not suspend');
    t.same(view.recent_incidents[0].actions, ['warning']);
    t.equal(view.recent_incidents[0].type, 'repeated_failed_command');
    await breach(app, r.token, 11);
    await breach(app, r.token, 12);
    view = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
    t.match(
      view.standing,
      { open_incidents: 3, counted_incidents: 1, incident_days: 1, api_suspended_until: null },
      'three incidents of one cause on one day count once: no suspension',
    );

    onDay(2);
    await breach(app, r.token, 2);
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) })).statusCode,
      200,
      'two days: still working',
    );
    onDay(3);
    await breach(app, r.token, 3);
    const suspended = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) });
    t.equal(suspended.statusCode, 403, 'the third day with an incident suspends');
    t.equal(suspended.json().code, 'api_suspended');
    t.equal(Date.parse(suspended.json().ends_at), at + 24 * 3_600_000, 'for 24 hours');
    view = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
    t.equal(view.standing.api_suspended_until, suspended.json().ends_at, 'the reseller can still read its standing');

    // Operators lift it; two more days bring the fee, two more the review flag.
    t.equal(
      (
        await app.inject({
          method: 'DELETE',
          url: `/v1/admin/fair-use/suspensions/${r.accountId}`,
          headers: bearer(op.token),
        })
      ).statusCode,
      204,
    );
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) })).statusCode,
      200,
      'lifted at once',
    );
    onDay(4);
    await breach(app, r.token, 4);
    onDay(5);
    await breach(app, r.token, 5);
    const fees = await store.db.select().from(ledgerTransactions).where(eq(ledgerTransactions.accountId, r.accountId));
    t.match(
      fees.filter((f) => f.type === 'fee'),
      [{ amount: 2500, currency: 'EUR', reason: 'Fair-use handling fee' }],
      'a handling fee is charged to the ledger',
    );
    onDay(6);
    await breach(app, r.token, 6);
    onDay(7);
    await breach(app, r.token, 7);
    const [acc] = await store.db.select().from(accounts).where(eq(accounts.id, r.accountId));
    t.equal(acc?.terminationReview, true, 'flagged for termination review');
    t.equal(acc?.status, 'active', 'but nothing is terminated automatically');
  },
);

t.test('R-API-4: operators list, annotate and clear incidents; cleared ones stop counting', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  await breach(app, r.token, 1);
  await breach(app, r.token, 2);
  const list = (
    await app.inject({
      method: 'GET',
      url: `/v1/admin/fair-use/incidents?account_id=${r.accountId}`,
      headers: bearer(op.token),
    })
  ).json().data;
  t.equal(list.length, 2);
  for (const i of list) {
    const res = await app.inject({
      method: 'PATCH',
      url: `/v1/admin/fair-use/incidents/${i.id}`,
      headers: bearer(op.token),
      payload: { status: 'cleared', annotation: 'integration bug, fixed with the reseller' },
    });
    t.equal(res.json().status, 'cleared');
  }
  await breach(app, r.token, 3);
  const view = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
  t.equal(view.standing.open_incidents, 1, 'cleared incidents do not count');
  t.equal((await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) })).statusCode, 200);
  const own = (
    await app.inject({ method: 'GET', url: '/v1/fair-use/incidents?status=cleared', headers: bearer(r.token) })
  ).json().data;
  t.equal(own.length, 2);
  t.equal(own[0].annotation, 'integration bug, fixed with the reseller');
});

t.test('R-API-4: the ladder is operator data, and no single incident may suspend', async (t) => {
  const today = Date.now();
  let at = today - DAY;
  const { app } = await buildTestApp(t, { now: () => new Date(at) });
  const op = await operator(app);
  const bad = await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/ladder',
    headers: bearer(op.token),
    payload: { steps: [{ threshold: 1, action: 'suspend_api', suspension_hours: 1 }] },
  });
  t.equal(bad.statusCode, 422);
  t.equal(bad.json().errors[0].pointer, '/body/steps/0/threshold');
  const ok = await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/ladder',
    headers: bearer(op.token),
    payload: { steps: [{ threshold: 2, action: 'suspend_api', suspension_hours: 1 }] },
  });
  t.same(
    ok.json().steps,
    [{ threshold: 2, min_days: 1, action: 'suspend_api', suspension_hours: 1, fee: null }],
    'min_days defaults to 1',
  );
  const r = await reseller(app, op.token);
  await breach(app, r.token, 1);
  await breach(app, r.token, 2);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) })).statusCode,
    200,
    'one cause counts once a day (hardening-23)',
  );
  at = today;
  await breach(app, r.token, 3);
  const res = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) });
  t.equal(res.json().code, 'api_suspended', 'the new ladder applies');
  t.equal(Date.parse(res.json().ends_at), today + 3_600_000, 'for the new length');
});

t.test('R-API-4: two replacements of the ladder at the same moment both succeed, one after the other', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const ladders = [
    [{ threshold: 2, action: 'warning' }],
    [
      { threshold: 2, action: 'warning' },
      { threshold: 4, action: 'suspend_api', suspension_hours: 2 },
    ],
  ];
  const answers = await Promise.all(
    [...ladders, ...ladders].map((steps) =>
      app.inject({ method: 'PUT', url: '/v1/admin/fair-use/ladder', headers: bearer(op.token), payload: { steps } }),
    ),
  );
  t.same(
    answers.map((a) => a.statusCode),
    [200, 200, 200, 200],
  );
  const now = (await app.inject({ method: 'GET', url: '/v1/admin/fair-use/ladder', headers: bearer(op.token) })).json();
  t.ok(
    ladders.some((l) => l.length === now.steps.length && l.every((s, i) => s.threshold === now.steps[i].threshold)),
    'the ladder is one of those sent, whole',
  );
});

t.test('R-API-4: sustained rate-limit hits are an incident', async (t) => {
  const { app } = await buildTestApp(t, { env: { RATE_LIMIT_INCIDENT_HITS: '3' } });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  await app.inject({
    method: 'PUT',
    url: '/v1/admin/fair-use/limits/credential',
    headers: bearer(op.token),
    payload: { capacity: 2, refill_per_minute: 1 },
  });
  for (let i = 0; i < 8; i++) await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) });
  const list = (
    await app.inject({
      method: 'GET',
      url: `/v1/admin/fair-use/incidents?account_id=${r.accountId}`,
      headers: bearer(op.token),
    })
  ).json().data;
  t.equal(list.length, 1, 'one incident for the hour, however many hits');
  t.equal(list[0].type, 'rate_limit_sustained');
});

t.test(
  'R-API-3: bulk work past the threshold warns and files one incident; past the ceiling it is refused; a notice covers it',
  async (t) => {
    const { app } = await buildTestApp(t, { env: { BULK_DAILY_THRESHOLD: '3', BULK_DAILY_CEILING: '5' } });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const change = (i: number) =>
      app.inject({
        method: 'PATCH',
        url: '/v1/account',
        headers: bearer(r.token),
        payload: { address: `Street ${i}` },
      });
    const seen = [];
    for (let i = 1; i <= 6; i++) {
      const res = await change(i);
      seen.push([res.statusCode, res.headers['fair-use-warning'] ? 'warn' : '-']);
    }
    t.same(seen, [
      [200, '-'],
      [200, '-'],
      [200, '-'],
      [200, 'warn'],
      [200, 'warn'],
      [429, '-'],
    ]);
    const refused = await change(7);
    t.equal(refused.json().code, 'bulk_notice_required');
    t.ok(Number(refused.headers['retry-after']) <= 86_400, 'retry when the UTC day ends');
    const view = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json();
    t.match(view.today, { commands: 7, threshold: 3, ceiling: 5, noticed: 0 });
    t.equal(
      view.recent_incidents.filter((i: { type: string }) => i.type === 'bulk_without_notice').length,
      1,
      'one incident for the day',
    );

    const today = new Date().toISOString().slice(0, 10);
    const past = await app.inject({
      method: 'POST',
      url: '/v1/fair-use/bulk-notices',
      headers: bearer(r.token),
      payload: { date: '2020-01-01', expected_count: 100, description: 'late' },
    });
    t.equal(past.statusCode, 422, 'a notice is filed in advance');
    const late = await app.inject({
      method: 'POST',
      url: '/v1/fair-use/bulk-notices',
      headers: bearer(r.token),
      payload: { date: today, expected_count: 1_000_000, description: 'refused, so now I announce it' },
    });
    t.equal(late.statusCode, 422, 'a notice for today filed past the threshold is not in advance');
    t.match(late.json().errors, [{ pointer: '/body/date', code: 'not_in_advance' }]);
    t.equal((await change(8)).json().code, 'bulk_notice_required', 'and it lifts nothing: the ceiling stands');
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const ahead = await app.inject({
      method: 'POST',
      url: '/v1/fair-use/bulk-notices',
      headers: bearer(r.token),
      payload: { date: tomorrow, expected_count: 20, description: 'the rest tomorrow' },
    });
    t.equal(ahead.statusCode, 201, 'a later day is still in advance');

    // Another account announces today's work before it passes the threshold: covered.
    const planned = await reseller(app, op.token);
    const notice = await app.inject({
      method: 'POST',
      url: '/v1/fair-use/bulk-notices',
      headers: bearer(planned.token),
      payload: { date: today, expected_count: 20, description: 'migrating 20 domains' },
    });
    t.equal(notice.statusCode, 201);
    const answers = [];
    for (let i = 1; i <= 8; i++) {
      const res = await app.inject({
        method: 'PATCH',
        url: '/v1/account',
        headers: bearer(planned.token),
        payload: { address: `Avenue ${i}` },
      });
      answers.push([res.statusCode, res.headers['fair-use-warning'] ? 'warn' : '-']);
    }
    t.same(answers, Array(8).fill([200, '-']), 'a notice in advance that covers the count lets the work through');
  },
);

t.test('R-API-3: the verdict table', async (t) => {
  const cases: [number, number, string][] = [
    [10_000, 0, 'ok'],
    [10_001, 0, 'warn'],
    [15_000, 0, 'warn'],
    [20_001, 0, 'refuse'],
    [20_001, 25_000, 'ok'],
    [25_001, 25_000, 'refuse'],
    [12_000, 11_000, 'warn'],
  ];
  for (const [n, noticed, kind] of cases)
    t.equal(judgeBulk(n, noticed, 10_000, 20_000).kind, kind, `${n} with ${noticed} noticed`);
  t.match(judgeBulk(10_001, 0, 10_000, 20_000), { firstPast: true });
  t.match(judgeBulk(10_002, 0, 10_000, 20_000), { firstPast: false });
});

t.test('too many requests of one account in flight answer 429 too_many_concurrent_requests', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { app } = await buildTestApp(t, {
    env: { MAX_IN_FLIGHT_PER_ACCOUNT: '2' },
    configure(app) {
      app.get(
        '/v1/test-wait',
        {
          schema: { operationId: 'testWait', tags: ['test'], summary: 'wait', response: { 200: Type.Object({}) } },
          config: { permission: 'account:read' },
        },
        async () => {
          await gate;
          return {};
        },
      );
    },
  });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const slow = [
    app.inject({ method: 'GET', url: '/v1/test-wait', headers: bearer(r.token) }),
    app.inject({ method: 'GET', url: '/v1/test-wait', headers: bearer(r.token) }),
  ];
  await new Promise((resolve) => setTimeout(resolve, 200));
  const third = await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) });
  t.equal(third.statusCode, 429);
  t.equal(third.json().code, 'too_many_concurrent_requests');
  const other = await reseller(app, op.token);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(other.token) })).statusCode,
    200,
    'other accounts are unaffected',
  );
  release();
  for (const s of await Promise.all(slow)) t.equal(s.statusCode, 200);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/account', headers: bearer(r.token) })).statusCode,
    200,
    'slots are freed when requests finish',
  );
});

t.test('R-DOM-4: the same account may check the same name once per 5 s (injected clock)', async (t) => {
  let now = 1_000_000;
  const throttle = dropCatchThrottle(
    memoryBuckets(1000, () => now),
    5,
  );
  await throttle.assertMayCheck('acc-1', 'example.com');
  const err = await throttle.assertMayCheck('acc-1', 'EXAMPLE.com').catch((e: unknown) => e);
  t.match(err, { statusCode: 429, code: 'rate_limited', headers: { 'retry-after': '5' } });
  await throttle.assertMayCheck('acc-2', 'example.com');
  await throttle.assertMayCheck('acc-1', 'example.net');
  now += 4_000;
  t.match(await throttle.assertMayCheck('acc-1', 'example.com').catch((e: unknown) => e), {
    headers: { 'retry-after': '1' },
  });
  now += 1_000;
  await t.resolves(throttle.assertMayCheck('acc-1', 'example.com'), 'after 5 s it may check again');

  // A check of several names is refused whole, spending none: the fresh name stays unchecked.
  const both = await throttle.assertMayCheck('acc-1', ['fresh.com', 'example.com']).catch((e: unknown) => e);
  t.match(
    both,
    { statusCode: 429, extensions: { name: 'example.com' } },
    'the refusal names the name checked too recently',
  );
  await t.resolves(throttle.assertMayCheck('acc-1', 'fresh.com'), 'fresh.com was not spent by the refused call');
  await t.resolves(
    throttle.assertMayCheck('acc-1', ['twice.com', 'TWICE.com']),
    'one name written twice in a check is one check',
  );
});

t.test(
  'R-DOM-4: the throttle holds across instances through Redis',
  { skip: !TEST_REDIS_URL && 'REDIS_URL not set' },
  async (t) => {
    const env = redisEnv();
    const a = await buildTestApp(t, { env });
    const b = await buildTestApp(t, { env });
    await a.app.dropCatch.assertMayCheck('acc-x', 'shared.example');
    const err = await b.app.dropCatch.assertMayCheck('acc-x', 'shared.example').catch((e: unknown) => e);
    t.match(err, { statusCode: 429, code: 'rate_limited' });
  },
);

t.test('R-DOM-4: with the store unreachable the throttle lets checks through and says so', async (t) => {
  const errors: unknown[] = [];
  const broken = { take: async () => Promise.reject(new Error('redis down')), peek: async () => [] };
  const throttle = dropCatchThrottle(broken, 5, (err) => errors.push(err));
  await t.resolves(throttle.assertMayCheck('acc-1', 'example.com'));
  t.equal(errors.length, 1);
});

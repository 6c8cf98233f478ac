// R-PLAN-2 usage totals stay exact: a subscription's disk total (its own and its customers' entries)
// and its traffic total of the newest month are at most 2^53 - 1 bytes, the largest integer a JSON
// number carries exactly. A report that would take one past it is refused (422 at /body/entries)
// and nothing of it is kept; one that replaces entries is counted with the values it brings.
import t from 'tap';
import { sql } from 'drizzle-orm';
import type { App } from '../../../src/app.js';
import pg from 'pg';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres, TEST_DATABASE_URL, untilLockWaits } from '../../helpers/db.js';
import { ValidationFailed } from '../../../src/errors.js';
import { usageRecorder } from '../../../src/modules/hosting/store.js';
import { queryRows } from '../../../src/db/client.js';
import { credit } from '../../helpers/domains.js';
import { bearer, operator, reseller, type Reseller } from '../../helpers/fixtures.js';

const MAX = Number.MAX_SAFE_INTEGER; // 9007199254740991

async function setup(t: Parameters<typeof buildTestApp>[0]) {
  let clock = new Date('2027-02-10T12:00:00Z');
  const { app, store } = await buildTestApp(t, { now: () => clock });
  const op = await operator(app);
  const r = await reseller(app, op.token, { currency: 'RUB' });
  await credit(app, op.token, r.accountId, 10_000_000, 'RUB');
  // Unlimited, overselling, overuse allowed: only the bound on the totals can refuse a report.
  const planRes = await app.inject({
    method: 'PUT',
    url: '/v1/admin/plans/p-huge',
    headers: bearer(op.token),
    payload: {
      name: 'Plan huge',
      active: true,
      limits: {
        disk_bytes: -1,
        traffic_bytes: -1,
        customers: -1,
        domains: -1,
        sites: -1,
        mailboxes: -1,
        mailbox_bytes: -1,
        databases: -1,
      },
      overuse: 'allowed',
      oversell: true,
      thresholds: [],
      prices: [{ currency: 'RUB', monthly_amount: 100_000 }],
    },
  });
  if (planRes.statusCode !== 200) throw new Error(`plan: ${planRes.statusCode} ${planRes.body}`);
  const subRes = await app.inject({
    method: 'POST',
    url: '/v1/hosting/subscriptions',
    headers: bearer(r.token),
    payload: { plan_id: 'p-huge', term_months: 1 },
  });
  if (subRes.statusCode !== 201) throw new Error(`subscribe: ${subRes.statusCode} ${subRes.body}`);
  const sub = subRes.json().subscription.id as string;
  const customers: string[] = [];
  for (const name of ['Bakery', 'Florist']) {
    const res = await app.inject({
      method: 'POST',
      url: `/v1/hosting/subscriptions/${sub}/customers`,
      headers: bearer(r.token),
      payload: { name, disk_bytes: -1, traffic_bytes: -1, domains: 1, sites: 1, mailboxes: 1, databases: 1 },
    });
    if (res.statusCode !== 201) throw new Error(`customer: ${res.statusCode} ${res.body}`);
    customers.push(res.json().id as string);
  }
  return { app, store, r, sub, customers, at: (iso: string) => (clock = new Date(iso)), now: () => clock };
}

const usage = (app: App, r: Reseller, sub: string, measuredAt: string, entries: Record<string, unknown>[]) =>
  app.inject({
    method: 'POST',
    url: `/v1/hosting/subscriptions/${sub}/usage`,
    headers: bearer(r.token),
    payload: { measured_at: measuredAt, entries },
  });

const totals = async (app: App, r: Reseller, sub: string) =>
  (await app.inject({ method: 'GET', url: `/v1/hosting/subscriptions/${sub}/usage`, headers: bearer(r.token) })).json();

t.test(
  'R-PLAN-2: a report whose disk or traffic total would pass 2^53-1 is refused with 422 at /body/entries and nothing of it is kept',
  async (t) => {
    const { app, r, sub, customers } = await setup(t);
    const [c1, c2] = customers as [string, string];
    const huge = (customer_id?: string) => ({ customer_id, disk_bytes: MAX, traffic_bytes: MAX });
    const refused = await usage(app, r, sub, '2027-02-10T10:00:00Z', [huge(), huge(c1), huge(c2)]);
    t.equal(refused.statusCode, 422, refused.body);
    t.match(refused.json(), {
      code: 'validation_failed',
      errors: [
        { pointer: '/body/entries', code: 'usage_total_too_large', message: /27021597764222973 bytes/ },
        { pointer: '/body/entries', code: 'usage_total_too_large', message: /traffic/ },
      ],
    });
    t.match(
      await totals(app, r, sub),
      { disk: { used_bytes: 0 }, traffic: { used_bytes: 0 }, subjects: [] },
      'nothing kept',
    );

    // Exactly at the bound: kept, and the total is exact.
    const fits = await usage(app, r, sub, '2027-02-10T10:00:01Z', [
      { disk_bytes: MAX - 2, traffic_bytes: MAX - 2 },
      { customer_id: c1, disk_bytes: 1, traffic_bytes: 1 },
      { customer_id: c2, disk_bytes: 1, traffic_bytes: 0 },
    ]);
    t.equal(fits.statusCode, 200, fits.body);
    t.match(fits.json(), { accepted: 3, disk: { used_bytes: MAX }, traffic: { used_bytes: MAX - 1 } });

    // The entries kept count: one byte more for a customer is one past the bound.
    const oneMore = await usage(app, r, sub, '2027-02-10T10:00:02Z', [
      { customer_id: c2, disk_bytes: 2, traffic_bytes: 0 },
    ]);
    t.equal(oneMore.statusCode, 422, oneMore.body);
    t.match(oneMore.json().errors, [
      { code: 'usage_total_too_large', message: /disk total .* 9007199254740992 bytes/ },
    ]);
    t.equal(oneMore.json().errors.length, 1, 'traffic still fits');

    // A report replaces what it reports: the own entry made smaller leaves room for the customer's.
    const moved = await usage(app, r, sub, '2027-02-10T10:00:03Z', [
      { disk_bytes: MAX - 1_000, traffic_bytes: MAX - 2 },
      { customer_id: c2, disk_bytes: 999, traffic_bytes: 1 },
    ]);
    t.equal(moved.statusCode, 200, moved.body);
    t.match(moved.json(), { disk: { used_bytes: MAX }, traffic: { used_bytes: MAX } });

    // An older measurement changes nothing, and cannot be refused for values that are not kept.
    const late = await usage(app, r, sub, '2027-02-10T09:00:00Z', [
      { customer_id: c1, disk_bytes: MAX, traffic_bytes: MAX },
    ]);
    t.equal(late.statusCode, 200, late.body);
    t.match(late.json(), { accepted: 0, disk: { used_bytes: MAX } });
    t.match(await totals(app, r, sub), { disk: { used_bytes: MAX }, traffic: { used_bytes: MAX } });
  },
);

t.test('R-PLAN-2: traffic of an earlier month does not count toward the bound of the newest month', async (t) => {
  const { app, r, sub, customers, at } = await setup(t);
  const [c1] = customers as [string];
  t.equal(
    (
      await usage(app, r, sub, '2027-02-10T10:00:00Z', [
        { disk_bytes: 0, traffic_bytes: MAX },
        { customer_id: c1, disk_bytes: 0, traffic_bytes: 0 },
      ])
    ).statusCode,
    200,
  );
  at('2027-03-02T12:00:00Z');
  const march = await usage(app, r, sub, '2027-03-02T10:00:00Z', [
    { customer_id: c1, disk_bytes: 0, traffic_bytes: MAX },
  ]);
  t.equal(march.statusCode, 200, march.body);
  t.match(march.json(), { traffic: { used_bytes: MAX, month: '2027-03' } });
});

t.test(
  'R-PLAN-2: reports sent together that each fit but together pass 2^53-1: one is kept, the other refused, the total exact',
  async (t) => {
    const { app, r, sub, customers } = await setup(t);
    const [c1, c2] = customers as [string, string];
    const half = Math.floor(MAX / 2) + 1; // two of them: MAX + 1
    const sent = await Promise.all([
      usage(app, r, sub, '2027-02-10T10:00:00Z', [{ customer_id: c1, disk_bytes: half, traffic_bytes: 0 }]),
      usage(app, r, sub, '2027-02-10T10:00:00Z', [{ customer_id: c2, disk_bytes: half, traffic_bytes: 0 }]),
    ]);
    t.same(sent.map((res) => res.statusCode).sort(), [200, 422], sent.map((res) => res.body).join('\n'));
    const ok = sent.find((res) => res.statusCode === 200)!;
    t.match(ok.json(), { accepted: 1, disk: { used_bytes: half } });
    t.match(sent.find((res) => res.statusCode === 422)!.json().errors, [{ code: 'usage_total_too_large' }]);
    const view = await totals(app, r, sub);
    t.equal(view.disk.used_bytes, half);
    t.equal(view.subjects.length, 1);
  },
);

t.test(
  'R-PLAN-2: reports of one subscription in one statement that each fit but together pass 2^53-1 are sent one by one: the first kept, the second refused',
  async (t) => {
    const { app, r, sub, customers, now } = await setup(t);
    const [c1, c2] = customers as [string, string];
    const half = Math.floor(MAX / 2) + 1;
    const record = usageRecorder(app.db);
    const input = (subject: string) => ({
      subscriptionId: sub,
      accountId: r.accountId,
      measuredAt: new Date(now().getTime() - 60_000),
      entries: [{ subject, diskBytes: half, trafficBytes: half, mailboxes: 0, largestMailboxBytes: 0 }],
      audit: null,
    });
    // One tick, one batch, one statement: each report alone fits what is kept, both together do not.
    const out = await Promise.allSettled([record(input(c1)), record(input(c2))]);
    t.same(
      out.map((o) => o.status),
      ['fulfilled', 'rejected'],
    );
    const refused: unknown = (out[1] as PromiseRejectedResult).reason;
    t.ok(refused instanceof ValidationFailed, String(refused));
    t.match((refused as InstanceType<typeof ValidationFailed>).fieldErrors, [
      { pointer: '/body/entries', code: 'usage_total_too_large', message: /disk total .* 9007199254740992 bytes/ },
      { pointer: '/body/entries', code: 'usage_total_too_large', message: /traffic total .* 9007199254740992 bytes/ },
    ]);
    const view = await totals(app, r, sub);
    t.match(view, { disk: { used_bytes: half }, traffic: { used_bytes: half } });
    t.same(
      view.subjects.map((x: { customer_id: string }) => x.customer_id),
      [c1],
    );
  },
);

t.test(
  'R-PLAN-2: two instances whose reports of one subscription waited on its lock together count both (PostgreSQL)',
  { skip: !onPostgres && 'PostgreSQL only (set DATABASE_URL): PGlite is one connection' },
  async (t) => {
    const { app, store, r, sub, customers } = await setup(t);
    const [c1, c2] = customers as [string, string];
    // A second instance on the same database: its own batches, so the two reports are two statements.
    const { app: other } = await buildTestApp(t, { store });
    const url = new URL(TEST_DATABASE_URL!);
    url.pathname = `/${(await queryRows<{ db: string }>(store.db, sql`select current_database() as db`))[0]!.db}`;
    const locker = new pg.Client({ connectionString: url.toString() });
    await locker.connect();
    t.teardown(() => locker.end());

    // Each time: a session holds the subscription, both reports wait for it, the session lets go.
    // The statement that gets the lock second read its snapshot before the first one committed.
    const together = async (at: string, b1: number, b2: number) => {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM hosting_subscriptions WHERE id = $1 FOR UPDATE', [sub]);
      const sent = [
        usage(app, r, sub, at, [{ customer_id: c1, disk_bytes: b1, traffic_bytes: 0 }]),
        usage(other, r, sub, at, [{ customer_id: c2, disk_bytes: b2, traffic_bytes: 0 }]),
      ];
      await untilLockWaits(locker, 2, Promise.all(sent));
      await locker.query('COMMIT');
      return Promise.all(sent);
    };

    const both = await together('2027-02-10T10:00:00Z', 1000, 2000);
    t.same(
      both.map((res) => res.statusCode),
      [200, 200],
    );
    t.equal((await totals(app, r, sub)).disk.used_bytes, 3000, 'the total counts both reports');

    const half = Math.floor(MAX / 2) + 1; // two of them: MAX + 1
    const sent = await together('2027-02-10T11:00:00Z', half, half);
    t.same(sent.map((res) => res.statusCode).sort(), [200, 422], sent.map((res) => res.body).join('\n'));
    const view = await totals(app, r, sub);
    t.ok(view.disk.used_bytes <= MAX, 'never past 2^53-1');
    t.equal(view.disk.used_bytes, half + (sent[0]!.statusCode === 200 ? 2000 : 1000), 'exactly what was kept');
  },
);

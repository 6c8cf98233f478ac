// R-PLAN-2: usage reports arriving together go in as few statements as possible, each naming a
// customer (or the reseller's own usage) once: an upsert cannot change one row twice in a statement,
// and a batch that failed for it would be retried report by report while every account waited.
import { sql } from 'drizzle-orm';
import t from 'tap';
import { queryRows } from '../../../src/db/client.js';
import { ingestRounds, usageRecorder } from '../../../src/modules/hosting/store.js';
import type { AuditRow } from '../../../src/plugins/audit.js';
import { buildTestApp } from '../../helpers/app.js';
import { credit } from '../../helpers/domains.js';
import { bearer, operator, reseller } from '../../helpers/fixtures.js';

const entry = (subject: string) => ({ subject, diskBytes: 0, trafficBytes: 0, mailboxes: 0, largestMailboxBytes: 0 });
const report = (subscriptionId: string, ...subjects: string[]) => ({ subscriptionId, entries: subjects.map(entry) });

t.test('R-PLAN-2: reports naming different customers share one statement', async (t) => {
  t.same(ingestRounds([report('a', 'own'), report('a', 'c1', 'c2'), report('b', 'own'), report('b', 'c1')]), [
    [0, 1, 2, 3],
  ]);
  t.same(ingestRounds([]), []);
});

t.test('R-PLAN-2: a customer named twice goes in a later statement, in the order the reports came', async (t) => {
  // The reseller's own usage three times, and another subscription's between them.
  t.same(ingestRounds([report('a', 'own'), report('b', 'own'), report('a', 'own'), report('a', 'own')]), [
    [0, 1],
    [2],
    [3],
  ]);
  // A report that shares one customer with a later round's report goes after it, even with new customers of its own.
  t.same(ingestRounds([report('a', 'c1'), report('a', 'c1', 'c2'), report('a', 'c2', 'c3'), report('a', 'c4')]), [
    [0, 3],
    [1],
    [2],
  ]);
  // The same customer id under two subscriptions is two rows.
  t.same(ingestRounds([report('a', 'c1'), report('b', 'c1')]), [[0, 1]]);
});

t.test('R-PLAN-2: every report is in exactly one statement, and no statement names a row twice', async (t) => {
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
  for (let c = 0; c < 200; c++) {
    const items = Array.from({ length: 1 + rand(40) }, () =>
      report(`s${rand(3)}`, ...new Set(Array.from({ length: 1 + rand(3) }, () => `c${rand(5)}`))),
    );
    const rounds = ingestRounds(items);
    t.same(
      rounds.flat().sort((x, y) => x - y),
      items.map((_, i) => i),
      'each report once',
    );
    for (const round of rounds) {
      const keys = round.flatMap((i) => items[i]!.entries.map((e) => `${items[i]!.subscriptionId} ${e.subject}`));
      t.equal(new Set(keys).size, keys.length, 'no row twice in one statement');
    }
    // A row's reports keep their order across statements.
    const position = new Map(rounds.flatMap((round, r) => round.map((i) => [i, r] as const)));
    items.forEach((a, i) =>
      items.slice(i + 1).forEach((b, k) => {
        const shared =
          a.subscriptionId === b.subscriptionId &&
          a.entries.some((e) => b.entries.some((f) => f.subject === e.subject));
        if (shared) t.ok(position.get(i)! < position.get(i + 1 + k)!, 'the earlier report first');
      }),
    );
  }
});

t.test(
  'R-PLAN-2 / R-SEC-7: a round of a batch that fails is retried report by report; the rounds written before are not written again',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token, { currency: 'RUB' });
    await credit(app, op.token, r.accountId, 10_000_000, 'RUB');
    const bought = await app.inject({
      method: 'POST',
      url: '/v1/hosting/subscriptions',
      headers: bearer(r.token),
      payload: { plan_id: 'reseller-start', term_months: 1 },
    });
    t.equal(bought.statusCode, 201, bought.body);
    const sub = bought.json().subscription.id as string;
    // A measurement this store refuses, as a statement fails for a customer deleted meanwhile.
    await app.db.execute(sql`
      CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.disk_bytes = 666 THEN RAISE EXCEPTION 'poisoned measurement'; END IF; RETURN NEW; END $$`);
    await app.db.execute(sql`
      CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON hosting_usage
      FOR EACH ROW EXECUTE FUNCTION refuse_poison()`);
    const record = usageRecorder(app.db);
    const audit = (requestId: string): AuditRow => ({
      at: new Date().toISOString(),
      account_id: r.accountId,
      user_id: r.ownerId,
      credential_type: 'session',
      credential_id: null,
      address: '127.0.0.1',
      operation: 'reportHostingUsage',
      method: 'POST',
      path: `/v1/hosting/subscriptions/${sub}/usage`,
      target_type: 'hosting_subscription',
      target_id: sub,
      status_code: 200,
      result: 'success',
      error_code: null,
      request_id: requestId,
      details: {},
    });
    const at = Date.now() - 60_000;
    const input = (requestId: string, ms: number, disk: number) => ({
      subscriptionId: sub,
      accountId: r.accountId,
      measuredAt: new Date(at + ms),
      entries: [{ subject: 'own', diskBytes: disk, trafficBytes: 0, mailboxes: 0, largestMailboxBytes: 0 }],
      audit: audit(requestId),
    });
    // One tick, one batch: the first report in round 0, the second (the same row, poisoned) and the
    // third (the same row again) in rounds 1 and 2.
    const out = await Promise.allSettled([
      record(input('rounds-1', 0, 1_000)),
      record(input('rounds-2', 1, 666)),
      record(input('rounds-3', 2, 3_000)),
    ]);
    t.same(
      out.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    const rows = await queryRows<{ request_id: string; n: number }>(
      app.db,
      sql`SELECT request_id, count(*)::int AS n FROM audit_events WHERE request_id LIKE 'rounds-%'
          GROUP BY request_id ORDER BY request_id`,
    );
    t.same(
      rows.map((x) => [x.request_id, Number(x.n)]),
      [
        ['rounds-1', 1],
        ['rounds-3', 1],
      ],
      'each written report audited once; the failed one not at all',
    );
    const kept = await queryRows<{ disk_bytes: string }>(
      app.db,
      sql`SELECT disk_bytes FROM hosting_usage WHERE subscription_id = ${sub} AND subject = 'own'`,
    );
    t.equal(Number(kept[0]!.disk_bytes), 3_000, 'the newest good measurement is kept');
  },
);

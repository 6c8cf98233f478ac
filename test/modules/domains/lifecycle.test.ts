// The domain lifecycle, run by the job at an injected time (never sleeping).
import t from 'tap';
import { eq } from 'drizzle-orm';
import { domains, ledgerTransactions, registryNames } from '../../../src/db/schema/index.js';
import { createPostgresStore } from '../../../src/db/client.js';
import type { App } from '../../../src/app.js';
import { builtInRegistry, type RegistryBackend } from '../../../src/modules/domains/registry.js';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres, postgresTestDatabase } from '../../helpers/db.js';
import { balanceOf, checkNames, credit, domainSetup, fundedReseller, registered } from '../../helpers/domains.js';
import { bearer, operator, type Reseller } from '../../helpers/fixtures.js';

const at = (iso: string, plusMs = 0) => new Date(Date.parse(iso) + plusMs);
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const get = async (app: App, r: Reseller, name: string) =>
  app.inject({ method: 'GET', url: `/v1/domains/${name}`, headers: bearer(r.token) });
const run = (app: App, now: Date) => app.jobs.run('domain-lifecycle', now);

t.test('R-DOM-5 lifecycle: at expiry, autorenewal with funds is charged and extends a year', async (t) => {
  const { app, store } = await buildTestApp(t);
  const { r } = await domainSetup(app);
  const d = await registered(app, r, 'renews-itself.com');
  const before = await balanceOf(app, r);
  t.equal(await run(app, at(d.expires_at, -1000)), 0, 'nothing is due before expiry');
  t.equal(await run(app, at(d.expires_at, 1000)), 1);
  const after = (await get(app, r, 'renews-itself.com')).json();
  const expected = new Date(d.expires_at);
  expected.setUTCFullYear(expected.getUTCFullYear() + 1);
  t.match(after, { status: 'active', expires_at: expected.toISOString(), autorenew_failed_at: null });
  t.equal(Date.parse(after.grace_ends_at), expected.getTime() + 45 * DAY_MS, 'the grace end moved with the expiry');
  t.equal(await balanceOf(app, r), before - 1099, 'charged the renewal price');
  const [reg] = await store.db.select().from(registryNames).where(eq(registryNames.name, 'renews-itself.com'));
  t.equal(reg!.expiresAt.toISOString(), expected.toISOString(), 'the registry agrees');
  t.equal(await run(app, at(d.expires_at, 2000)), 0, 'running again changes nothing');
});

t.test(
  'R-DOM-5 lifecycle: without funds the autorenewal fails into grace, is retried daily, and renews after a top-up',
  async (t) => {
    const { app } = await buildTestApp(t);
    const { op, r } = await domainSetup(app, 1099);
    const d = await registered(app, r, 'short-of-money.com');
    t.equal(await balanceOf(app, r), 0);
    await run(app, at(d.expires_at, 1000));
    const grace = (await get(app, r, 'short-of-money.com')).json();
    t.match(grace, {
      status: 'grace',
      expires_at: d.expires_at,
      autorenew_failed_at: at(d.expires_at, 1000).toISOString(),
    });
    t.equal(await balanceOf(app, r), 0, 'nothing charged');
    await credit(app, op.token, r.accountId, 2000);
    t.equal(await run(app, at(d.expires_at, 12 * HOUR_MS)), 0, 'not retried within the day');
    t.equal(await run(app, at(d.expires_at, 25 * HOUR_MS)), 1, 'retried a day later');
    const renewed = (await get(app, r, 'short-of-money.com')).json();
    t.equal(renewed.status, 'active');
    t.equal(renewed.autorenew_failed_at, null);
    t.equal(await balanceOf(app, r), 2000 - 1099);
  },
);

t.test(
  'R-DOM-5 lifecycle: unpaid, a domain walks grace -> redemption -> pending delete -> released; the name is free again',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const { op, r } = await domainSetup(app, 1099);
    const d = await registered(app, r, 'let-it-go.com');
    const dates = (await get(app, r, 'let-it-go.com')).json();
    t.equal(
      Date.parse(dates.grace_ends_at) - Date.parse(d.expires_at),
      45 * DAY_MS,
      '.com: 45 days of auto-renew grace',
    );
    t.equal(
      Date.parse(dates.redemption_ends_at) - Date.parse(dates.grace_ends_at),
      30 * DAY_MS,
      '30 days of redemption',
    );
    t.equal(
      Date.parse(dates.pending_delete_ends_at) - Date.parse(dates.redemption_ends_at),
      5 * DAY_MS,
      '5 days of pending delete',
    );

    await run(app, at(d.expires_at, 1000));
    t.equal((await get(app, r, 'let-it-go.com')).json().status, 'grace');
    await run(app, at(dates.grace_ends_at, 1000));
    const red = (await get(app, r, 'let-it-go.com')).json();
    t.equal(red.status, 'redemption');
    t.same(
      [red.expires_at, red.grace_ends_at, red.redemption_ends_at],
      [dates.expires_at, dates.grace_ends_at, dates.redemption_ends_at],
      'the dates do not move',
    );
    t.equal(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/domains/let-it-go.com/renew',
          headers: bearer(r.token),
          payload: {},
        })
      ).json().code,
      'domain_status_conflict',
      'redemption needs a restore, not a renewal',
    );
    await run(app, at(dates.redemption_ends_at, 1000));
    t.equal((await get(app, r, 'let-it-go.com')).json().status, 'pending_delete');
    t.equal(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/domains/let-it-go.com/restore',
          headers: bearer(r.token),
          payload: {},
        })
      ).json().code,
      'domain_status_conflict',
      'too late to restore',
    );
    await run(app, at(dates.pending_delete_ends_at, 1000));
    t.equal((await get(app, r, 'let-it-go.com')).statusCode, 404, 'released');
    const list = (q: string) =>
      app
        .inject({ method: 'GET', url: `/v1/domains${q}`, headers: bearer(r.token) })
        .then((x) => x.json().data.map((d: { name: string }) => d.name));
    t.same(await list(''), [], 'the list leaves released domains out');
    t.same(await list('?status=released'), ['let-it-go.com'], 'and shows them when asked');
    t.same(await list('?status=all'), ['let-it-go.com']);
    const [row] = await store.db.select().from(domains).where(eq(domains.name, 'let-it-go.com'));
    t.equal(row!.status, 'released', 'the record stays, as history');
    const other = await fundedReseller(app, op.token, 0);
    t.equal(
      (await checkNames(app, other, 'let-it-go.com')).json().results[0].status,
      'free',
      'the registry released the name',
    );
    const charges = await store.db
      .select()
      .from(ledgerTransactions)
      .where(eq(ledgerTransactions.accountId, r.accountId));
    t.same(charges.map((c) => c.type).sort(), ['charge', 'credit'], 'only the registration was ever charged');
  },
);

t.test(
  'R-DOM-5 lifecycle: a late run walks every phase that is due; autorenew off goes to grace without a charge',
  async (t) => {
    const { app } = await buildTestApp(t);
    const { r } = await domainSetup(app);
    const d = await registered(app, r, 'no-autorenew.com', { autorenew: false });
    const before = await balanceOf(app, r);
    await run(app, at(d.expires_at, 1000));
    t.match((await get(app, r, 'no-autorenew.com')).json(), { status: 'grace', autorenew_failed_at: null });
    t.equal(await balanceOf(app, r), before, 'no charge with autorenew off');
    const renewed = await app.inject({
      method: 'POST',
      url: '/v1/domains/no-autorenew.com/renew',
      headers: bearer(r.token),
      payload: {},
    });
    t.equal(renewed.statusCode, 200, 'a domain in grace can still be renewed by hand');
    t.equal(renewed.json().domain.status, 'active');

    await registered(app, r, 'outage.com', { autorenew: false });
    const lateDates = (await get(app, r, 'outage.com')).json();
    t.equal(
      await run(app, at(lateDates.pending_delete_ends_at, 1000)),
      4,
      'one run: grace, redemption, pending delete, released',
    );
    t.equal((await get(app, r, 'outage.com')).statusCode, 404);
  },
);

t.test(
  'R-DOM-5 lifecycle: two instances running the job together renew each domain exactly once',
  { skip: !onPostgres && 'needs PostgreSQL' },
  async (t) => {
    const url = await postgresTestDatabase(t);
    const storeA = createPostgresStore(url, { max: 5 });
    const storeB = createPostgresStore(url, { max: 5 });
    t.teardown(() => Promise.all([storeA.close(), storeB.close()]));
    const { app: a } = await buildTestApp(t, { store: storeA });
    const { app: b } = await buildTestApp(t, { store: storeB });
    const op = await operator(a);
    // Three accounts of eight names each (one account would meet its registration rate limit).
    const resellers = [
      await fundedReseller(a, op.token),
      await fundedReseller(a, op.token),
      await fundedReseller(a, op.token),
    ];
    const expiries: string[] = [];
    for (const [i, r] of resellers.entries())
      for (let j = 0; j < 8; j++) expiries.push((await registered(a, r, `batch-${i}-${j}.com`)).expires_at);
    const now = at(expiries.sort().at(-1)!, 1000);
    const [na, nb] = await Promise.all([a.jobs.run('domain-lifecycle', now), b.jobs.run('domain-lifecycle', now)]);
    t.equal(na + nb, 24, `every due domain handled once between the two (${na} + ${nb})`);
    const charges = await storeA.db.select().from(ledgerTransactions);
    t.equal(charges.filter((c) => c.reason.startsWith('Autorenewal')).length, 24, 'one autorenewal charge per domain');
    for (const r of resellers) t.equal(await balanceOf(a, r), 100_000 - 16 * 1099);
  },
);

t.test(
  'R-DOM-5 lifecycle: a domain whose step fails is skipped and logged; the others go on; a free renewal charges nothing',
  async (t) => {
    const { app, store, logs } = await buildTestApp(t);
    const { op, r } = await domainSetup(app);
    const a = await registered(app, r, 'broken-at-registry.com');
    const b = await registered(app, r, 'fine.net');
    // The registry lost the first name (an inconsistency an operator must look at): its renewal fails.
    await store.db.delete(registryNames).where(eq(registryNames.name, 'broken-at-registry.com'));
    // .net renewals are free for a promotion.
    const prices = [
      { operation: 'register', currency: 'EUR', amount: 999 },
      { operation: 'renew', currency: 'EUR', amount: 0 },
      { operation: 'transfer', currency: 'EUR', amount: 999 },
      { operation: 'restore', currency: 'EUR', amount: 8000 },
    ];
    t.equal(
      (
        await app.inject({
          method: 'PUT',
          url: '/v1/admin/tlds/net/lists',
          headers: bearer(op.token),
          payload: { prices },
        })
      ).statusCode,
      200,
    );
    const before = await balanceOf(app, r);
    const now = at([a.expires_at, b.expires_at].sort().at(-1)!, 1000);
    t.equal(await run(app, now), 1, 'the healthy domain is handled');
    t.equal((await get(app, r, 'fine.net')).json().status, 'active', 'renewed');
    t.equal(await balanceOf(app, r), before, 'for nothing, with no ledger entry');
    t.equal(
      (await get(app, r, 'broken-at-registry.com')).json().status,
      'active',
      'the broken one waits for the next run',
    );
    t.ok(
      logs().some(
        (l) => l.msg === 'lifecycle step failed; retried on the next run' && l.domain === 'broken-at-registry.com',
      ),
      'and is logged',
    );
  },
);

t.test(
  'hardening-21: a failed step blames the domain its instance claimed, never one another instance holds',
  { skip: !onPostgres && 'needs PostgreSQL' },
  async (t) => {
    const url = await postgresTestDatabase(t);
    const storeA = createPostgresStore(url, { max: 5 });
    const storeB = createPostgresStore(url, { max: 5 });
    t.teardown(() => Promise.all([storeA.close(), storeB.close()]));
    // Instance B's registry stalls on the renewal of the earliest due domain: B holds its row meanwhile.
    let holding: () => void = () => {};
    const held = new Promise<void>((resolve) => (holding = resolve));
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const stalling: RegistryBackend = {
      ...builtInRegistry,
      async renew(tx, input) {
        if (input.name === 'held-by-b.com') {
          holding();
          await released;
        }
        return builtInRegistry.renew(tx, input);
      },
    };
    const { app: a, logs: logsA } = await buildTestApp(t, { store: storeA });
    const { app: b } = await buildTestApp(t, { store: storeB, registry: stalling });
    const { op, r } = await domainSetup(a);
    // Another account: B's held transaction also holds its account's balance row.
    const r2 = await fundedReseller(a, op.token);
    const held1 = await registered(a, r2, 'held-by-b.com');
    await registered(a, r, 'broken-at-registry.com');
    const last = await registered(a, r, 'healthy.com');
    // The registry lost the second name: its renewal fails on whichever instance tries it.
    await storeA.db.delete(registryNames).where(eq(registryNames.name, 'broken-at-registry.com'));
    const now = at([held1.expires_at, last.expires_at].sort().at(-1)!, 1000);

    const runB = b.jobs.run('domain-lifecycle', now);
    await held;
    const handledByA = await a.jobs.run('domain-lifecycle', now);
    release();
    await runB;

    const failures = logsA().filter((l) => l.msg === 'lifecycle step failed; retried on the next run');
    t.same(
      failures.map((l) => l.domain),
      ['broken-at-registry.com'],
      'A blames only the domain it claimed, once',
    );
    t.equal(handledByA, 1, 'A renewed the healthy one');
    t.equal((await get(a, r2, 'held-by-b.com')).json().status, 'active', "B's domain was renewed by B");
    t.not((await get(a, r2, 'held-by-b.com')).json().expires_at, held1.expires_at);
  },
);

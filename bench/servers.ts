// Servers under load, one per child process so the load generator never shares their core.
//   tsx bench/servers.ts app    -> the real app (+ two bench routes), prints {"port", "key"}
//   tsx bench/servers.ts bare   -> a bare Fastify + pg route, prints {"port"}
// The database is DATABASE_URL (a fresh schema is created by the runner) or embedded PGlite.
import Fastify from 'fastify';
import pg from 'pg';
import { eq, sql } from 'drizzle-orm';
import { Type } from 'typebox';
import { loadConfig } from '../src/config.js';
import { accounts, rateLimitPolicies } from '../src/db/schema/index.js';
import { apiKey, operator, reseller } from '../test/helpers/fixtures.js';

const mode = process.argv[2];
const databaseUrl = process.env.DATABASE_URL;

if (mode === 'bare') {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const accountId = process.argv[3];
  const app = Fastify({ logger: false });
  app.get(
    '/bare/account',
    { schema: { response: { 200: Type.Object({ id: Type.String(), name: Type.String(), status: Type.String() }) } } },
    async () => {
      const r = await pool.query({
        name: 'bare_account',
        text: 'select id, name, status from accounts where id = $1',
        values: [accountId],
      });
      return r.rows[0];
    },
  );
  // The framework alone, without the database: what the app's hooks cost is measured against this.
  app.get('/bare/noop', { schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({
    ok: true,
  }));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`${JSON.stringify({ url: address })}\n`);
} else if (mode === 'app') {
  // The app as `npm start` runs it: tsc's output in dist/ (run.ts and profile.ts build it first),
  // not tsx's on-the-fly transform, which wraps every closure it creates in a naming helper.
  // BENCH_FROM_SOURCE=1 measures src/ through tsx instead.
  const { buildApp } = (await import(
    process.env.BENCH_FROM_SOURCE ? '../src/app.js' : '../dist/app.js'
  )) as typeof import('../src/app.js');
  const config = loadConfig({
    DATABASE_URL: databaseUrl ?? '',
    MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
    DATA_DIR: process.env.BENCH_DATA_DIR ?? './bench/.out/data',
    LOG_LEVEL: 'warn',
    // 50 connections on one account: the in-flight cap (default 32) would answer 429s instead of work.
    MAX_IN_FLIGHT_PER_ACCOUNT: '1000',
    // The bench checks thousands of distinct names a minute on purpose.
    DROP_CATCH_NAMES_PER_MINUTE: '100000000',
    REDIS_URL: process.env.REDIS_URL ?? '',
    // The product default (10) unless a run asks for another pool size.
    ...(process.env.DATABASE_POOL_MAX ? { DATABASE_POOL_MAX: process.env.DATABASE_POOL_MAX } : {}),
    // JOBS_ENABLED=false measures a run without the background loops (jobs, event fan-out, deliveries).
    ...(process.env.JOBS_ENABLED ? { JOBS_ENABLED: process.env.JOBS_ENABLED } : {}),
  });
  const app = await buildApp(config);
  // The same read served two ways: public, and behind an API key. Only authentication differs.
  const view = Type.Object({ id: Type.String(), name: Type.String(), status: Type.String() });
  const readAccount = async (id: string) => {
    const [row] = await app.db
      .select({ id: accounts.id, name: accounts.name, status: accounts.status })
      .from(accounts)
      .where(eq(accounts.id, id));
    return row!;
  };
  let publicAccountId = '';
  app.get(
    '/bench/public/account',
    { schema: { hide: true, response: { 200: view } }, config: { permission: 'public' } },
    async () => readAccount(publicAccountId),
  );
  app.get(
    '/bench/authed/account',
    { schema: { hide: true, response: { 200: view } }, config: { permission: 'account:read' } },
    async (req) => readAccount(req.principal!.accountId!),
  );
  // No database: the app's per-request cost (hooks, auth, limiter, headers) against bare's /bare/noop.
  const ok = Type.Object({ ok: Type.Boolean() });
  app.get(
    '/bench/public/noop',
    { schema: { hide: true, response: { 200: ok } }, config: { permission: 'public' } },
    async () => ({ ok: true }),
  );
  app.get(
    '/bench/authed/noop',
    { schema: { hide: true, response: { 200: ok } }, config: { permission: 'account:read' } },
    async () => ({ ok: true }),
  );
  // Issue 4: the same authenticated read with the fair-use limiter switched off for this route only.
  app.get(
    '/bench/unmetered/account',
    { schema: { hide: true, response: { 200: view } }, config: { permission: 'account:read', rateLimitExempt: true } },
    async (req) => readAccount(req.principal!.accountId!),
  );
  await app.ready();
  const op = await operator(app);
  const r = await reseller(app, op.token);
  publicAccountId = r.accountId;
  const key = await apiKey(app, r.token, ['account:read', 'domains:read']);
  // Buckets large enough that the load itself is never limited: we measure the metering, not refusals.
  await app.db.update(rateLimitPolicies).set({ capacity: 1_000_000_000, refillPerMinute: 1_000_000_000 });
  await app.fairUsePolicy.refresh();
  // Issue 5: ten funded accounts with a contact each and names already checked, for registrations.
  const perAccount = Number(process.env.BENCH_NAMES_PER_ACCOUNT ?? 4000);
  const registrants = [];
  for (let i = 0; i < 10; i++) {
    const acc = await reseller(app, op.token);
    await app.inject({
      method: 'POST',
      url: `/v1/admin/accounts/${acc.accountId}/credit`,
      headers: { authorization: `Bearer ${op.token}` },
      payload: { amount: { amount: 100_000_000, currency: 'EUR' }, reason: 'bench' },
    });
    const k = await apiKey(app, acc.token, ['domains:read', 'domains:write']);
    const contact = (
      await app.inject({
        method: 'POST',
        url: '/v1/contacts',
        headers: { authorization: `Bearer ${k.key}` },
        payload: {
          name: 'Bench Customer',
          email: 'c@bench.test',
          phone: '+49.301234567',
          country: 'DE',
          street: ['Str. 1'],
          city: 'Berlin',
          postal_code: '10115',
        },
      })
    ).json().handle as string;
    const names = Array.from({ length: perAccount }, (_, j) => `reg-${i}-${j}-${process.pid}.com`);
    for (let j = 0; j < names.length; j += 50) {
      await app.inject({
        method: 'POST',
        url: '/v1/domains/check',
        headers: { authorization: `Bearer ${k.key}` },
        payload: { names: names.slice(j, j + 50) },
      });
    }
    registrants.push({ key: k.key, contact, prefix: `reg-${i}-`, count: perAccount });
  }
  // Issue 14: BENCH_LICENSES licenses of one account, each on an address of its own, for address
  // reports. Ids and addresses follow from the index (bench/licenses.ts computes the same), written
  // in three statements rather than through 10,000 orders.
  const licenseCount = Number(process.env.BENCH_LICENSES ?? 0);
  let licenseKey = '';
  if (licenseCount > 0) {
    const holder = await reseller(app, op.token);
    licenseKey = (await apiKey(app, holder.token, ['licenses:read', 'licenses:write'])).key;
    const address = `'185.' || (i / 250) || '.' || (i % 250) || '.1'`;
    await app.db.execute(
      sql.raw(`INSERT INTO servers (id, account_id, name, addresses, provider)
               VALUES ('00000000-0000-4000-8000-000000000001', '${holder.accountId}', 'bench', '{}', 'own')`),
    );
    await app.db.execute(
      sql.raw(`INSERT INTO license_keys (key_number, activation_code, item, bound_address, restrict_binding, status)
               SELECT 'BENCH' || i, 'CODE' || i, 'PLESK-12-WEB-ADMIN-1M', ${address}, false, 'active'
               FROM generate_series(0, ${licenseCount - 1}) AS i`),
    );
    await app.db.execute(
      sql.raw(`INSERT INTO plesk_licenses (id, account_id, server_id, product, period_months, key_number,
                 activation_code_sealed, bound_address, binding_mode, period_anchor, expires_at)
               SELECT md5('bench-license-' || i)::uuid, '${holder.accountId}', '00000000-0000-4000-8000-000000000001',
                 'PLESK-12-WEB-ADMIN', 1, 'BENCH' || i, 'unused', ${address}, 'lookup', now(), now() + interval '1 month'
               FROM generate_series(0, ${licenseCount - 1}) AS i`),
    );
  }
  // Issue 15: BENCH_HOSTING_SUBSCRIPTIONS reseller subscriptions (reseller-start) of one account with
  // BENCH_HOSTING_CUSTOMERS customers each, ids following from the indexes (bench/hosting.ts computes
  // the same), written in a few statements rather than through the API; and one subscription with
  // BENCH_CASCADE_CUSTOMERS customers for the cascading suspension.
  const subscriptionCount = Number(process.env.BENCH_HOSTING_SUBSCRIPTIONS ?? 0);
  const customersEach = Number(process.env.BENCH_HOSTING_CUSTOMERS ?? 20);
  const cascadeCustomers = Number(process.env.BENCH_CASCADE_CUSTOMERS ?? 0);
  let hostingKey = '';
  if (subscriptionCount > 0 || cascadeCustomers > 0) {
    const holder = await reseller(app, op.token);
    hostingKey = (await apiKey(app, holder.token, ['hosting:read', 'hosting:write'])).key;
    const subs = (from: number, count: number) =>
      app.db.execute(
        sql.raw(`INSERT INTO hosting_subscriptions (id, account_id, plan_id, plan_price_version, term_months, term_anchor, term_start, term_end, panel_id)
                 SELECT md5('bench-sub-' || i)::uuid, '${holder.accountId}', 'reseller-start', 1, 12, date_trunc('second', now()),
                        date_trunc('second', now()), date_trunc('second', now()) + interval '1 year', 'r-bench-' || i
                 FROM generate_series(${from}, ${from + count - 1}) AS i`),
      );
    const customers = (from: number, count: number, each: number) =>
      app.db.execute(
        sql.raw(`INSERT INTO hosting_customers (id, subscription_id, name, disk_bytes, traffic_bytes, domains, sites, mailboxes, databases, panel_id)
                 SELECT md5('bench-cust-' || i || '-' || j)::uuid, md5('bench-sub-' || i)::uuid, 'c' || j, 1000000, 1000000, 1, 1, 1, 1, 'c-bench-' || i || '-' || j
                 FROM generate_series(${from}, ${from + count - 1}) AS i, generate_series(0, ${each - 1}) AS j`),
      );
    if (subscriptionCount > 0) {
      await subs(0, subscriptionCount);
      await customers(0, subscriptionCount, customersEach);
      // The steady state: every customer's last measurement is kept (two days old, before the load's).
      await app.db.execute(
        sql.raw(`INSERT INTO hosting_usage (subscription_id, subject, measured_at, disk_bytes, traffic_bytes, traffic_month, mailboxes, largest_mailbox_bytes)
                 SELECT md5('bench-sub-' || i)::uuid, md5('bench-cust-' || i || '-' || j)::uuid::text, now() - interval '2 days',
                        100000000, 100000000, to_char(now() - interval '2 days', 'YYYY-MM'), 0, 0
                 FROM generate_series(0, ${subscriptionCount - 1}) AS i, generate_series(0, ${customersEach - 1}) AS j`),
      );
    }
    if (cascadeCustomers > 0) {
      // Index 1,000,000: the cascade's subscription, apart from the load's.
      await subs(1_000_000, 1);
      await customers(1_000_000, 1, cascadeCustomers);
      await app.db.execute(
        sql.raw(`INSERT INTO hosting_panel_objects (panel_id, kind, parent_panel_id, status)
                 SELECT 'c-bench-1000000-' || j, 'customer', 'r-bench-1000000', 'active' FROM generate_series(0, ${cascadeCustomers - 1}) AS j
                 UNION ALL SELECT 'r-bench-1000000', 'reseller', NULL, 'active'`),
      );
    }
  }
  // Issue 16: a key that opens tickets (BENCH_TICKETS=1).
  const ticketKey = process.env.BENCH_TICKETS
    ? (await apiKey(app, r.token, ['tickets:read', 'tickets:write'])).key
    : '';
  // Statistics, as a database that has been running has them (autovacuum would analyze these
  // tables only a minute or more into the load).
  await app.db.execute(sql.raw('ANALYZE'));
  // A clean exit on SIGTERM/SIGINT, so `node --cpu-prof` writes its profile (bench/profile.ts).
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.once(signal, () => void app.close().finally(() => process.exit(0)));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(
    `${JSON.stringify({ url: address, key: key.key, keyId: key.keyId, secret: key.secret, accountId: r.accountId, registrants, pid: process.pid, licenseKey, hostingKey, ticketKey })}\n`,
  );
} else {
  process.stderr.write('usage: tsx bench/servers.ts app|bare <account id>\n');
  process.exit(2);
}

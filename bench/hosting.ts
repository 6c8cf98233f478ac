// Usage reports (issue 15, R-PLAN-2/3): POST /v1/hosting/subscriptions/{id}/usage over 1,000 reseller
// subscriptions with 20 customers each (each request one customer's measurement, as a panel sends
// them), against the bare Fastify + pg route (GET one account by id) measured in the same run, in
// alternating rounds; and the cascading suspension of a reseller with 1,000 customers (R-PLAN-2),
// timed: one request whose transaction suspends the subscription and every customer, then one that
// resumes them. The app is the production build in a process of its own, the bare server in another.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/hosting.ts
// A fresh database is created next to the one named, and dropped. BENCH_ROUNDS (3) rounds of
// BENCH_DURATION s (10) each way, 50 connections; BENCH_CASCADES (3) suspend/resume cycles.
import autocannon from 'autocannon';
import pg from 'pg';
import { benchDatabase, buildUnlessFromSource, cpuPerRequest, cpuTicks, machine, md5uuid, start } from './harness.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CASCADES = Number(process.env.BENCH_CASCADES ?? 3);
const SUBSCRIPTIONS = 1000;
const CUSTOMERS = 20;
const CASCADE_CUSTOMERS = 1000;
const CONNECTIONS = 50;
const database = await benchDatabase('bench_hosting');
const url = database.url;

buildUnlessFromSource();

const app = await start(url, ['app'], {
  BENCH_HOSTING_SUBSCRIPTIONS: String(SUBSCRIPTIONS),
  BENCH_HOSTING_CUSTOMERS: String(CUSTOMERS),
  BENCH_CASCADE_CUSTOMERS: String(CASCADE_CUSTOMERS),
  BENCH_NAMES_PER_ACCOUNT: '0',
});
const bare = await start(url, ['bare', app.info.accountId!], {});
const auth = { authorization: `Bearer ${app.info.hostingKey}`, 'content-type': 'application/json' };
const GB = 1_000_000_000;

// ---- the cascade: one request suspends 1,000 customers, one resumes them ----
const db = new pg.Client({ connectionString: url.toString() });
await db.connect();
const cascadeSub = md5uuid('bench-sub-1000000');
let measured = Date.now() - 3_600_000;
const cascades: { suspend_ms: number; resume_ms: number; suspended: number; resumed: number }[] = [];
async function post(disk: number): Promise<{ ms: number; status: string }> {
  const t0 = performance.now();
  const res = await fetch(`${app.info.url}/v1/hosting/subscriptions/${cascadeSub}/usage`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({
      measured_at: new Date(measured++).toISOString(),
      entries: [{ disk_bytes: disk, traffic_bytes: 0 }],
    }),
  });
  const ms = performance.now() - t0;
  const body = (await res.json()) as { status: string };
  if (res.status !== 200) throw new Error(`cascade: ${res.status} ${JSON.stringify(body)}`);
  return { ms, status: body.status };
}
const countWith = async (status: string) =>
  Number(
    (
      await db.query('select count(*) from hosting_customers where subscription_id = $1 and status = $2', [
        cascadeSub,
        status,
      ])
    ).rows[0].count,
  );
for (let i = 0; i < CASCADES; i++) {
  const down = await post(60 * GB); // over reseller-start's 50 GiB
  const suspended = await countWith('suspended');
  const up = await post(GB);
  const resumed = await countWith('active');
  if (down.status !== 'suspended' || up.status !== 'active') throw new Error('the cascade did not happen');
  cascades.push({ suspend_ms: Math.round(down.ms), resume_ms: Math.round(up.ms), suspended, resumed });
}
const cascadeEvents = Number(
  (
    await db.query(
      "select count(*) from events where type in ('hosting.customer.suspended', 'hosting.customer.resumed')",
    )
  ).rows[0].count,
);

// ---- the load ----
const run = (u: string, opts: Partial<autocannon.Options> = {}) =>
  autocannon({ url: u, connections: CONNECTIONS, duration: DURATION, ...opts });
const targets = Array.from({ length: SUBSCRIPTIONS * CUSTOMERS }, (_, k) => {
  const i = k % SUBSCRIPTIONS;
  const j = Math.floor(k / SUBSCRIPTIONS);
  return {
    path: `/v1/hosting/subscriptions/${md5uuid(`bench-sub-${i}`)}/usage`,
    prefix: `{"measured_at":"`,
    suffix: `","entries":[{"customer_id":"${md5uuid(`bench-cust-${i}-${j}`)}","disk_bytes":${(1 + (k % 7)) * 100_000_000},"traffic_bytes":${(1 + (k % 5)) * 200_000_000}}]}`,
  };
});
let n = 0;
const usageOpts = (): Partial<autocannon.Options> => ({
  method: 'POST',
  headers: auth,
  requests: [
    {
      method: 'POST',
      setupRequest: (req) => {
        const k = n++;
        const t = targets[k % targets.length]!;
        // Each measurement later than the last: every report changes what is kept.
        return { ...req, path: t.path, body: `${t.prefix}${new Date(measured + k).toISOString()}${t.suffix}` };
      },
    },
  ],
});

type Cpu = ReturnType<typeof cpuPerRequest>;
const rounds: { bare: number; usage: number; p99: number; non2xx: number; bareCpu: Cpu; usageCpu: Cpu }[] = [];
try {
  await autocannon({ url: `${bare.info.url}/bare/account`, connections: CONNECTIONS, duration: 2 });
  await autocannon({ url: app.info.url!, connections: CONNECTIONS, duration: 2, ...usageOpts() });
  for (let r = 0; r < ROUNDS; r++) {
    const b0 = cpuTicks(bare.child.pid);
    const b = await run(`${bare.info.url}/bare/account`);
    const b1 = cpuTicks(bare.child.pid);
    const a0 = cpuTicks(app.child.pid);
    const a = await run(app.info.url!, usageOpts());
    const a1 = cpuTicks(app.child.pid);
    rounds.push({
      bare: b.requests.average,
      usage: a.requests.average,
      p99: a.latency.p99,
      non2xx: a.non2xx,
      bareCpu: cpuPerRequest(b0, b1, b.requests.total),
      usageCpu: cpuPerRequest(a0, a1, a.requests.total),
    });
  }
} finally {
  const exited = new Promise((resolve) => app.child.once('exit', resolve));
  app.child.kill();
  bare.child.kill();
  await exited;
}
const kept = Number((await db.query('select count(*) from hosting_usage')).rows[0].count);
await db.end();
await database.drop();

const ratios = rounds.map((r) => r.usage / r.bare).sort((x, y) => x - y);
const median = ratios[Math.floor(ratios.length / 2)]!;
console.log(
  JSON.stringify(
    {
      machine: machine(),
      date: new Date().toISOString(),
      subscriptions: SUBSCRIPTIONS,
      customers_each: CUSTOMERS,
      rounds: rounds.map((r) => ({
        bare_per_s: Math.round(r.bare),
        usage_per_s: Math.round(r.usage),
        ratio: `${((r.usage / r.bare) * 100).toFixed(1)}%`,
        usage_p99_ms: r.p99,
        non2xx: r.non2xx,
        cpu_us_per_request: { bare: r.bareCpu, usage: r.usageCpu },
      })),
      median_ratio: `${(median * 100).toFixed(1)}%`,
      usage_rows_kept: kept,
      cascade: { customers: CASCADE_CUSTOMERS, cycles: cascades, customer_events: cascadeEvents },
    },
    null,
    2,
  ),
);
if (rounds.some((r) => r.non2xx > 0)) {
  console.error('Invalid run: non-2xx answers. A refused request is not a measurement.');
  process.exitCode = 1;
}

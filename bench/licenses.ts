// Address reports (issue 14, R-LIC-2): POST /v1/licenses/plesk/{id}/ip-reports from 10,000
// licenses (each reporting its bound address, as a check-in does), against the bare Fastify + pg
// route (GET one account by id) measured in the same run, in alternating rounds so both see the same
// machine. The app is the production build in a process of its own, the bare server in another;
// autocannon runs here.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/licenses.ts
// A fresh database is created next to the one named, and dropped. BENCH_ROUNDS (3) rounds of
// BENCH_DURATION s (10) each way, 50 connections; BENCH_LICENSES (10000).
import autocannon from 'autocannon';
import pg from 'pg';
import { benchDatabase, buildUnlessFromSource, cpuPerRequest, cpuTicks, machine, md5uuid, start } from './harness.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LICENSES = Number(process.env.BENCH_LICENSES ?? 10_000);
const CONNECTIONS = 50;
const database = await benchDatabase('bench_licenses');
const url = database.url;

/** The id and bound address of license i, as bench/servers.ts writes them. */
const licenseId = (i: number) => md5uuid(`bench-license-${i}`);
const addressOf = (i: number) => `185.${Math.floor(i / 250)}.${i % 250}.1`;

buildUnlessFromSource();

const app = await start(url, ['app'], { BENCH_LICENSES: String(LICENSES), BENCH_NAMES_PER_ACCOUNT: '0' });
const bare = await start(url, ['bare', app.info.accountId!], {});

const run = (u: string, opts: Partial<autocannon.Options> = {}) =>
  autocannon({ url: u, connections: CONNECTIONS, duration: DURATION, ...opts });
// Each license's path and body made once: the load generator shares the machine, so its own work
// per request is kept as small as the bare route's.
const checkIns = Array.from({ length: LICENSES }, (_, i) => ({
  path: `/v1/licenses/plesk/${licenseId(i)}/ip-reports`,
  body: JSON.stringify({ addresses: [addressOf(i)] }),
}));
let n = 0;
const reportOpts = (): Partial<autocannon.Options> => ({
  method: 'POST',
  headers: { authorization: `Bearer ${app.info.licenseKey}`, 'content-type': 'application/json' },
  requests: [
    {
      method: 'POST',
      setupRequest: (req) => {
        const c = checkIns[n++ % LICENSES]!;
        return { ...req, path: c.path, body: c.body };
      },
    },
  ],
});

type Cpu = ReturnType<typeof cpuPerRequest>;
const rounds: { bare: number; reports: number; p99: number; non2xx: number; bareCpu: Cpu; reportsCpu: Cpu }[] = [];
try {
  // Warm-up of both.
  await autocannon({ url: `${bare.info.url}/bare/account`, connections: CONNECTIONS, duration: 2 });
  await autocannon({
    url: `${app.info.url}/v1/licenses/plesk/x/ip-reports`,
    connections: CONNECTIONS,
    duration: 2,
    ...reportOpts(),
  });
  for (let r = 0; r < ROUNDS; r++) {
    // CPU per request of each side's server, PostgreSQL and the load generator, from /proc.
    const b0 = cpuTicks(bare.child.pid);
    const b = await run(`${bare.info.url}/bare/account`);
    const b1 = cpuTicks(bare.child.pid);
    const a0 = cpuTicks(app.child.pid);
    const a = await run(`${app.info.url}/v1/licenses/plesk/x/ip-reports`, reportOpts());
    const a1 = cpuTicks(app.child.pid);
    rounds.push({
      bare: b.requests.average,
      reports: a.requests.average,
      p99: a.latency.p99,
      non2xx: a.non2xx,
      bareCpu: cpuPerRequest(b0, b1, b.requests.total),
      reportsCpu: cpuPerRequest(a0, a1, a.requests.total),
    });
  }
} finally {
  const exited = new Promise((resolve) => app.child.once('exit', resolve));
  app.child.kill();
  bare.child.kill();
  await exited;
}
const reports = new pg.Client({ connectionString: url.toString() });
await reports.connect();
const stored = Number((await reports.query('select count(*) from license_ip_reports')).rows[0].count);
const changed = Number(
  (await reports.query("select count(*) from plesk_licenses where multi_use <> 'none'")).rows[0].count,
);
await reports.end();
await database.drop();

const ratios = rounds.map((r) => r.reports / r.bare).sort((x, y) => x - y);
const median = ratios[Math.floor(ratios.length / 2)]!;
console.log(
  JSON.stringify(
    {
      machine: machine(),
      date: new Date().toISOString(),
      licenses: LICENSES,
      rounds: rounds.map((r) => ({
        bare_per_s: Math.round(r.bare),
        reports_per_s: Math.round(r.reports),
        ratio: `${((r.reports / r.bare) * 100).toFixed(1)}%`,
        reports_p99_ms: r.p99,
        non2xx: r.non2xx,
        cpu_us_per_request: { bare: r.bareCpu, reports: r.reportsCpu },
      })),
      median_ratio: `${(median * 100).toFixed(1)}%`,
      reports_stored: stored,
      licenses_changed_state: changed,
    },
    null,
    2,
  ),
);
if (rounds.some((r) => r.non2xx > 0)) {
  console.error('Invalid run: non-2xx answers. A refused request is not a measurement.');
  process.exitCode = 1;
}

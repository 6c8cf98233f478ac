// Profiles the app under one load: `node --cpu-prof` on the server, autocannon from here, the CPU
// of every process sampled meanwhile, and the hottest functions printed (self time).
//   DATABASE_URL=postgres://... BENCH_NAMES_PER_ACCOUNT=200 npx tsx bench/profile.ts check|register|authed|public|reports|usage|tickets [seconds]
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, mkdirSync } from 'node:fs';
import autocannon from 'autocannon';
import { md5uuid, processTicks } from './harness.js';

const what = process.argv[2] ?? 'check';
const seconds = Number(process.argv[3] ?? 10);
const dir = `${process.env.PROFILE_DIR ?? '/tmp/reseller-prof'}/${Date.now()}`;
mkdirSync(dir, { recursive: true });
if (!process.env.BENCH_FROM_SOURCE) execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
const child = spawn(
  process.execPath,
  ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', 'bench/servers.ts', 'app'],
  { stdio: ['ignore', 'pipe', 'inherit'], env: process.env },
);
type ServerInfo = {
  url: string;
  key: string;
  pid: number;
  registrants: { key: string; contact: string; prefix: string }[];
  licenseKey: string;
  hostingKey: string;
  ticketKey: string;
};
const info: ServerInfo = await new Promise((resolve) => {
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const line = buf.split('\n').find((l) => l.startsWith('{'));
    if (line) resolve(JSON.parse(line) as ServerInfo);
  });
});
const url = info.url;
let n = 0;
let i = 0;
const registrants = info.registrants;
const opts: autocannon.Options =
  what === 'check'
    ? {
        url: `${url}/v1/domains/check`,
        method: 'POST',
        headers: { authorization: `Bearer ${info.key}`, 'content-type': 'application/json' },
        requests: [
          {
            method: 'POST',
            setupRequest: (r) => ({ ...r, body: JSON.stringify({ names: [`prof-${process.pid}-${n++}.com`] }) }),
          },
        ],
      }
    : what === 'register'
      ? {
          url: `${url}/v1/domains`,
          method: 'POST',
          connections: 25,
          headers: { 'content-type': 'application/json' },
          requests: [
            {
              method: 'POST',
              setupRequest: (req) => {
                const r = registrants[i % registrants.length]!;
                const j = Math.floor(i / registrants.length);
                i++;
                return {
                  ...req,
                  headers: { ...req.headers, authorization: `Bearer ${r.key}` },
                  body: JSON.stringify({
                    name: `${r.prefix}${j}-${info.pid}.com`,
                    contacts: { owner: r.contact, admin: r.contact, tech: r.contact },
                    nameservers: [],
                  }),
                };
              },
            },
          ],
        }
      : what === 'reports'
        ? {
            // Run with BENCH_LICENSES=10000 BENCH_NAMES_PER_ACCOUNT=0: each license's check-in, in turn.
            url: `${url}/v1/licenses/plesk/x/ip-reports`,
            method: 'POST',
            headers: { authorization: `Bearer ${info.licenseKey}`, 'content-type': 'application/json' },
            requests: [
              {
                method: 'POST',
                setupRequest: (req) => {
                  const k = n++ % Number(process.env.BENCH_LICENSES ?? 10_000);
                  const id = md5uuid(`bench-license-${k}`);
                  return {
                    ...req,
                    path: `/v1/licenses/plesk/${id}/ip-reports`,
                    body: JSON.stringify({ addresses: [`185.${Math.floor(k / 250)}.${k % 250}.1`] }),
                  };
                },
              },
            ],
          }
        : what === 'usage'
          ? {
              // Run with BENCH_HOSTING_SUBSCRIPTIONS=1000 BENCH_NAMES_PER_ACCOUNT=0: one customer's measurement each.
              url: `${url}/v1/hosting/subscriptions/x/usage`,
              method: 'POST',
              headers: { authorization: `Bearer ${info.hostingKey}`, 'content-type': 'application/json' },
              requests: [
                {
                  method: 'POST',
                  setupRequest: (req) => {
                    const k = n++;
                    const subs = Number(process.env.BENCH_HOSTING_SUBSCRIPTIONS ?? 1000);
                    const custs = Number(process.env.BENCH_HOSTING_CUSTOMERS ?? 20);
                    const sub = k % subs;
                    const cust = Math.floor(k / subs) % custs;
                    return {
                      ...req,
                      path: `/v1/hosting/subscriptions/${md5uuid(`bench-sub-${sub}`)}/usage`,
                      body: JSON.stringify({
                        measured_at: new Date(Date.now() - 3_600_000 + k).toISOString(),
                        entries: [
                          {
                            customer_id: md5uuid(`bench-cust-${sub}-${cust}`),
                            disk_bytes: (1 + (k % 7)) * 100_000_000,
                            traffic_bytes: (1 + (k % 5)) * 200_000_000,
                          },
                        ],
                      }),
                    };
                  },
                },
              ],
            }
          : what === 'tickets'
            ? {
                // Run with BENCH_TICKETS=1 BENCH_NAMES_PER_ACCOUNT=0: each request opens a ticket.
                url: `${url}/v1/tickets`,
                method: 'POST',
                headers: { authorization: `Bearer ${info.ticketKey}`, 'content-type': 'application/json' },
                requests: [
                  {
                    method: 'POST',
                    setupRequest: (req) => ({
                      ...req,
                      body: JSON.stringify({
                        subject: `Renewal fails ${n++}`,
                        description: 'Renewing example.com answers an error since this morning.',
                        concerns: { type: 'product', ref: 'domains' },
                      }),
                    }),
                  },
                ],
              }
            : what === 'public'
              ? { url: `${url}/bench/public/account` }
              : { url: `${url}/bench/authed/account`, headers: { authorization: `Bearer ${info.key}` } };
// CPU time per process from /proc (clock ticks, 10 ms), so short runs still show who used the cores.
const cpuBefore = processTicks();
const loadStart = performance.now();
const r = await autocannon({ connections: 50, duration: seconds, ...opts });
const loadEnd = performance.now();
const cpuAfter = processTicks();
console.log(
  `${what}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}`,
);
// CPU seconds per process name during the load.
const byComm = new Map<string, number>();
// The server's user and system (kernel) time apart: loopback sends to PostgreSQL are system time.
const sys = (pid: number | undefined, ticks: Map<string, { comm: string; ticks: number; sys: number }>) =>
  ticks.get(String(pid))?.sys ?? 0;
console.log(
  `server system time: ${(((sys(child.pid, cpuAfter) - sys(child.pid, cpuBefore)) * 10_000) / (r.requests.average * seconds)).toFixed(0)} us/req`,
);
const role = (pid: string, comm: string) =>
  Number(pid) === child.pid ? 'server' : Number(pid) === process.pid ? 'autocannon' : comm;
for (const [pid, v] of cpuAfter)
  byComm.set(role(pid, v.comm), (byComm.get(role(pid, v.comm)) ?? 0) + v.ticks - (cpuBefore.get(pid)?.ticks ?? 0));
const perRequest = (ticks: number) => `${Math.round((ticks * 10_000) / (r.requests.average * seconds))} us/req`;
console.log(
  'CPU during load:',
  [...byComm]
    .filter(([, t]) => t > 0)
    .sort((x, y) => y[1] - x[1])
    .map(([c, t]) => `${c}=${(t / 100).toFixed(2)}s (${perRequest(t)})`)
    .join(' '),
);
const killAt = performance.now();
child.kill('SIGINT');
await new Promise((res) => child.on('exit', res));
// Time between the end of the load and the end of the profile, estimated from our side.
const shutdownLag = performance.now() - loadEnd;
void killAt;
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
const prof = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  endTime: number;
};
// Only the samples of the measured window (the last `seconds` before the shutdown, minus 0.5 s).
const times: number[] = [];
let t = (prof as unknown as { startTime: number }).startTime;
for (const d of prof.timeDeltas) times.push((t += d));
const from = loadStart * 1000;
const to = loadEnd * 1000;
const parent = new Map<number, number>();
for (const node of prof.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
const byId = new Map(prof.nodes.map((x) => [x.id, x]));
const label = (id: number) => {
  const f = byId.get(id)!.callFrame;
  return `${f.functionName || '(anon)'} ${f.url.replace(/^.*node_modules\//, 'nm/').replace(/^file:\/\/.*\/main\//, '')}:${f.lineNumber + 1}`;
};
const self = new Map<string, number>();
// Self time per file or package: where the CPU goes without the hook chains' nesting.
const byGroup = new Map<string, number>();
const inclusive = new Map<string, number>();
const stacks = new Map<string, number>();
// PROFILE_MATCH=a,b: the share of samples whose stack has a frame containing each string.
const matches = (process.env.PROFILE_MATCH ?? '').split(',').filter(Boolean);
const matched = new Map<string, number>();
let total = 0;
prof.samples.forEach((id, k) => {
  // Sample times are in the profiler's clock (microseconds, monotonic); compare relative to the end.
  const rel = times[k]! - times[times.length - 1]!;
  if (rel < -(to - from) - shutdownLag * 1000 || rel > -shutdownLag * 1000) return;
  total++;
  self.set(label(id), (self.get(label(id)) ?? 0) + 1);
  const u = byId.get(id)!.callFrame.url;
  const g = !u
    ? byId.get(id)!.callFrame.functionName || '(native)'
    : u.includes('node_modules/')
      ? `nm/${u.split('node_modules/')[1]!.split('/')[0]}`
      : u.includes('/dist/')
        ? `dist/${u.split('/dist/')[1]}`
        : u.startsWith('node:')
          ? u.split('/').slice(0, 2).join('/')
          : u.replace(/^.*\/main\//, '');
  byGroup.set(g, (byGroup.get(g) ?? 0) + 1);
  const seen = new Set<string>();
  const chain: string[] = [];
  const stackLabels: string[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(cur);
    stackLabels.push(l);
    if (!seen.has(l)) inclusive.set(l, (inclusive.get(l) ?? 0) + 1);
    seen.add(l);
    if (chain.length < 8) chain.push(l);
  }
  for (const m of matches) if (stackLabels.some((l) => l.includes(m))) matched.set(m, (matched.get(m) ?? 0) + 1);
  const key = chain.join(' < ');
  stacks.set(key, (stacks.get(key) ?? 0) + 1);
});
const top = Number(process.env.PROFILE_TOP ?? 40);
const pct = (v: number) => `${((v / total) * 100).toFixed(1).padStart(5)}%`;
console.log(`profile ${dir}/${file}: ${total} samples in the load window`);
console.log('--- self');
for (const [k, v] of [...self].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
console.log('--- self by file or package');
for (const [k, v] of [...byGroup].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
console.log('--- inclusive');
for (const [k, v] of [...inclusive].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
console.log('--- stacks');
for (const [k, v] of [...stacks].sort((x, y) => y[1] - x[1]).slice(0, Number(process.env.PROFILE_STACKS ?? 15)))
  console.log(`${pct(v)}  ${k}`);
if (matches.length) {
  console.log('--- matched (inclusive)');
  for (const m of matches) console.log(`${pct(matched.get(m) ?? 0)}  ${m}`);
}

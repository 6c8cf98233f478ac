// Registrations with and without events, measured in one run: this checkout's server and a
// baseline build (a commit before events, by default the tag bench-baseline-13) started side by
// side, each on its own PostgreSQL database, and loaded in alternating rounds so that both see the
// same machine.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/registrations.ts
// BENCH_BASE_DIR (default ../base): a checkout of the baseline, made with `git worktree add` when
// missing, its node_modules linked to this one's; the tag is made again from
// bench/baseline-13.patch when a clone lacks it. BENCH_ROUNDS (3) rounds of BENCH_DURATION s (10).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { cpus, totalmem } from 'node:os';
import autocannon from 'autocannon';
import pg from 'pg';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// The tag: the last commit before events (d0331d8) plus the same speed-ups this issue made to code
// that is not about events (bench/baseline-13.patch), so that the comparison is of the events alone.
const BASE_TAG = 'bench-baseline-13';
const BASE_COMMIT = process.env.BENCH_BASE_COMMIT ?? BASE_TAG;
const BASE_DIR = resolve(process.env.BENCH_BASE_DIR ?? '../base');
const admin = process.env.DATABASE_URL;
if (!admin) throw new Error('DATABASE_URL (PostgreSQL) is required: the comparison is about PostgreSQL');

const git = (args: string[], cwd = '.') => execFileSync('git', args, { cwd, stdio: 'inherit' });
const hasRef = (ref: string) => spawnSync('git', ['rev-parse', '-q', '--verify', `${ref}^{commit}`]).status === 0;
if (BASE_COMMIT === BASE_TAG && !hasRef(BASE_TAG)) {
  // A clone without the tag: make it again from d0331d8 and the patch.
  if (existsSync(BASE_DIR)) git(['checkout', '-q', '--detach', 'd0331d8'], BASE_DIR);
  else git(['worktree', 'add', '-f', '--detach', BASE_DIR, 'd0331d8']);
  git(['apply', resolve('bench/baseline-13.patch')], BASE_DIR);
  git(['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'commit', '-qam', 'bench baseline 13'], BASE_DIR);
  git(['tag', BASE_TAG], BASE_DIR);
}
if (!existsSync(BASE_DIR)) git(['worktree', 'add', '-f', '--detach', BASE_DIR, BASE_COMMIT]);
const commitOf = (ref: string, cwd = '.') =>
  execFileSync('git', ['rev-parse', `${ref}^{commit}`], { cwd })
    .toString()
    .trim();
if (commitOf('HEAD', BASE_DIR) !== commitOf(BASE_COMMIT)) {
  execFileSync('git', ['checkout', '-q', '--detach', BASE_COMMIT], { cwd: BASE_DIR, stdio: 'inherit' });
}
if (!existsSync(`${BASE_DIR}/node_modules`)) symlinkSync(resolve('node_modules'), `${BASE_DIR}/node_modules`);
for (const dir of ['.', BASE_DIR]) execFileSync('npm', ['run', '-s', 'build'], { cwd: dir, stdio: 'inherit' });

async function freshDatabase(name: string): Promise<string> {
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`drop database if exists ${name} with (force)`);
  await c.query(`create database ${name}`);
  await c.end();
  const u = new URL(admin!);
  u.pathname = `/${name}`;
  return u.toString();
}

interface Registrant {
  key: string;
  contact: string;
  prefix: string;
}
interface Server {
  label: string;
  child: ChildProcess;
  url: string;
  pid: number;
  registrants: Registrant[];
  next: number;
  database: string;
}

async function start(label: string, cwd: string, database: string, env: Record<string, string> = {}): Promise<Server> {
  const databaseUrl = await freshDatabase(database);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers.ts', 'app'], {
    cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      BENCH_DATA_DIR: resolve(`bench/.out/${database}`),
      BENCH_NAMES_PER_ACCOUNT: String(Math.ceil(((ROUNDS * (DURATION + 3) + 3) * 2000) / 10)),
      ...env,
    },
  });
  return new Promise((ok, fail) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      const info = JSON.parse(line) as { url: string; pid: number; registrants: Registrant[] };
      ok({ label, child, url: info.url, pid: info.pid, registrants: info.registrants, next: 0, database: databaseUrl });
    });
    child.on('exit', (code) => fail(new Error(`${label} server exited ${code}`)));
  });
}

// CPU seconds used so far by the server's process and by every PostgreSQL process (/proc).
const ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
function cpuOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / ticks;
  } catch {
    return 0;
  }
}
// Busy CPU seconds of the whole machine (/proc/stat: every field but idle and iowait).
function machineCpu(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return f.reduce((a, b) => a + b, 0) / ticks - ((f[3] ?? 0) + (f[4] ?? 0)) / ticks;
}

function steal(): { steal: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { steal: f[7] ?? 0, total: f.reduce((a, b) => a + b, 0) };
}

async function load(s: Server, duration: number) {
  const opts: autocannon.Options = {
    url: `${s.url}/v1/domains`,
    connections: 25,
    duration,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const r = s.registrants[s.next % s.registrants.length]!;
          const j = Math.floor(s.next / s.registrants.length);
          s.next++;
          return {
            ...req,
            headers: { ...req.headers, authorization: `Bearer ${r.key}` },
            body: JSON.stringify({
              name: `${r.prefix}${j}-${s.pid}.com`,
              contacts: { owner: r.contact, admin: r.contact, tech: r.contact },
              nameservers: [],
            }),
          };
        },
      },
    ],
  };
  const before = steal();
  const [nodeBefore, pgBefore] = [cpuOf(s.pid), machineCpu()];
  const r = await autocannon(opts);
  const after = steal();
  const done = r.requests.total;
  return {
    nodeMs: (1000 * (cpuOf(s.pid) - nodeBefore)) / done,
    allMs: (1000 * (machineCpu() - pgBefore)) / done,
    rps: r.requests.average,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    steal: (100 * (after.steal - before.steal)) / Math.max(1, after.total - before.total),
  };
}

const base = await start(`baseline ${BASE_COMMIT}`, BASE_DIR, 'bench_reg_base');
// BENCH_HEAD_ENV: extra variables for this checkout's server only, as JSON (an experiment).
const head = await start(
  'this checkout',
  '.',
  'bench_reg_head',
  JSON.parse(process.env.BENCH_HEAD_ENV ?? '{}') as Record<string, string>,
);
// BENCH_HEAD_SQL: SQL run on this checkout's database before the rounds (an experiment).
if (process.env.BENCH_HEAD_SQL) {
  const c = new pg.Client({ connectionString: head.database });
  await c.connect();
  await c.query(process.env.BENCH_HEAD_SQL);
  await c.end();
}
const rows: string[] = [];
const ratios: number[] = [];
try {
  for (const s of [base, head]) await load(s, 3); // warm-up
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which goes first, so neither always follows the other's autovacuum.
    const order = round % 2 ? [base, head] : [head, base];
    const got = new Map<Server, Awaited<ReturnType<typeof load>>>();
    for (const s of order) {
      // A pause first, so background work left by the previous load (fan-out, autovacuum) is done,
      // then a warm-up: the pool closed its idle connections meanwhile, and a new connection
      // prepares its statements again.
      await new Promise((r) => setTimeout(r, 5000));
      await load(s, 3);
      got.set(s, await load(s, DURATION));
    }
    const b = got.get(base)!;
    const h = got.get(head)!;
    if (b.non2xx || h.non2xx) throw new Error(`non-2xx answers in round ${round}: not a measurement`);
    ratios.push(h.rps / b.rps);
    rows.push(
      `| ${round} | ${Math.round(b.rps)} | ${b.p99} | ${Math.round(h.rps)} | ${h.p99} | ${((100 * h.rps) / b.rps).toFixed(1)}% | ${b.steal.toFixed(1)} / ${h.steal.toFixed(1)} | ${b.nodeMs.toFixed(3)} / ${h.nodeMs.toFixed(3)} | ${b.allMs.toFixed(3)} / ${h.allMs.toFixed(3)} |`,
    );
  }
} finally {
  base.child.kill();
  head.child.kill();
}
const cpu = cpus()[0]?.model ?? 'unknown';
console.log(
  `Machine: ${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
);
console.log(`POST /v1/domains, 10 accounts, 25 connections, ${DURATION} s per round; baseline = ${BASE_COMMIT}\n`);
console.log(
  '| round | baseline req/s | p99 ms | this checkout req/s | p99 ms | this / baseline | steal % (b / t) | server CPU ms per registration (b / t) | machine CPU ms per registration (b / t) |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
const sorted = [...ratios].sort((a, b) => a - b);
const mid = Math.floor(sorted.length / 2);
const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
console.log(`\nMedian ratio: ${(100 * median).toFixed(1)}% (target >= 90%)`);

// Webhook delivery benchmark (issue 13): PostgreSQL, two app instances with jobs enabled (their
// fan-out and delivery loops running), each in a process of its own (bench/webhook-instance.ts, the
// production build), one loopback receiver in another.
//   1. bare: an undici POST loop to the receiver, CONCURRENCY in flight, for DURATION s (the ceiling).
//   2. throughput: N events committed at once (one transaction, a connection of its own);
//      deliveries per second from that commit to the last delivery received (fan-out, claim, sign,
//      send, record included). Rounds of bare, backlog, bare (BENCH_ROUNDS, 3): the median round counts.
//   3. latency: events written one per transaction at half the measured throughput for DURATION s;
//      event-to-delivery latency (event written -> receiver got it) p50/p99.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/webhooks.ts
// A fresh database is created (and dropped) next to the one named. The receiver and the two
// instances run in child processes; the bare loop, and the writes of the events, in this one.
import { randomBytes } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { Agent, request } from 'undici';
import { buildApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createPostgresStore, queryRows } from '../src/db/client.js';
import { insertEventSql } from '../src/modules/events/api.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 5_000);
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 4);
const PER_ENDPOINT = Number(process.env.BENCH_PER_ENDPOINT ?? 25);
const CONCURRENCY = ENDPOINTS * PER_ENDPOINT;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const base = process.env.DATABASE_URL;
if (!base) throw new Error('DATABASE_URL is required (PostgreSQL)');

const dbName = `bench_webhooks_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`create database "${dbName}"`);
const url = new URL(base);
url.pathname = `/${dbName}`;

// The receiver, in a child process of its own (so it shares no event loop with the bare loop or the
// instances): 200 at once; it counts and spots duplicate webhook-ids, and in the latency phase keeps
// each delivery's latency from the event's data.t (ms since epoch; it parses bodies only then, as the
// bare loop's requests are not parsed either). GET /stats reads them, POST /reset clears them, and
// POST /reset?latency=1 starts keeping latencies.
const receiverSource = `
import { createServer } from 'node:http';
let received = 0, duplicates = 0; const seen = new Set(); let latencies = []; let timing = false;
const server = createServer((req, res) => {
  if (req.url === '/stats') { res.end(JSON.stringify({ received, duplicates })); return; }
  if (req.url === '/latencies') { res.end(JSON.stringify(latencies)); return; }
  if (req.url.startsWith('/reset')) { received = 0; latencies = []; timing = req.url.endsWith('latency=1'); res.end('{}'); return; }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    received++;
    const id = String(req.headers['webhook-id'] ?? '');
    if (id) {
      if (seen.has(id)) duplicates++;
      seen.add(id);
      if (timing) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (body.data?.t) latencies.push(Date.now() - body.data.t);
      }
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;
const receiverProcess = spawn(process.execPath, ['--input-type=module', '-e', receiverSource], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise<number>((resolve) =>
  receiverProcess.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
);
const target = `http://127.0.0.1:${port}`;
const control = new Agent({ connections: 1 });
const stats = async () =>
  (await (await request(`${target}/stats`, { dispatcher: control })).body.json()) as {
    received: number;
    duplicates: number;
  };
const receivedLatencies = async () =>
  (await (await request(`${target}/latencies`, { dispatcher: control })).body.json()) as number[];
const reset = async (latency = false) =>
  void (await (
    await request(`${target}/reset${latency ? '?latency=1' : ''}`, { method: 'POST', dispatcher: control })
  ).body.text());

const env = {
  DATABASE_URL: url.toString(),
  MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
  LOG_LEVEL: 'warn',
  JOBS_ENABLED: 'true',
  WEBHOOK_ALLOWED_RANGES: '127.0.0.0/8',
  WEBHOOK_MAX_CONCURRENCY: '100',
};
if (!process.env.BENCH_FROM_SOURCE) execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
// This process's own app, jobs off: the database and the secret box, for the set-up.
const a: App = await buildApp(loadConfig({ ...env, JOBS_ENABLED: 'false' }));
await a.ready();
const instances: ChildProcess[] = [];
for (let i = 0; i < 2; i++) {
  // BENCH_CPU_PROFILE=dir: a CPU profile of each instance (its whole life) in that directory.
  const profile = process.env.BENCH_CPU_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`]
    : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'bench/webhook-instance.ts'], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_INSTANCE_ENV: JSON.stringify(env) },
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`an instance exited before it was ready (${code})`)));
  });
  instances.push(child);
}
const wake = (i: number) => instances[i % 2]!.send('wake');
const instancesCpu = () => instances.reduce((sum, c) => sum + processCpu(c.pid!), 0);

// Busy CPU seconds of the whole machine so far (/proc/stat: every field but idle and iowait).
const machineBusy = (): number => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((x, y) => x + y, 0) - (f[3] ?? 0) - (f[4] ?? 0)) / 100;
};

// CPU seconds of one process (/proc/<pid>/stat utime + stime), and of every PostgreSQL process.
const processCpu = (pid: number): number => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
};
const postgresCpu = (): number =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .reduce((sum, pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres') ? sum + processCpu(Number(pid)) : sum;
      } catch {
        return sum;
      }
    }, 0);

// 1. The bare loop: CONCURRENCY POSTs in flight for DURATION s; its rate and the machine CPU per POST.
const body = JSON.stringify({ id: 'x', type: 'bench.pinged', data: { n: 1 } });
async function bareLoop(seconds: number): Promise<{ rate: number; cpuUs: number }> {
  const busy0 = machineBusy();
  const agent = new Agent();
  let count = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        const r = await request(`${target}/bare`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json' },
          body,
        });
        await r.body.text();
        count++;
      }
    }),
  );
  await agent.close();
  return { rate: count / seconds, cpuUs: ((machineBusy() - busy0) / count) * 1e6 };
}

// An account and its endpoints.
const [acct] = await queryRows<{ id: string }>(a.db, sql`INSERT INTO accounts (name) VALUES ('bench') RETURNING id`);
const accountId = acct!.id;
for (let i = 0; i < ENDPOINTS; i++) {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  await a.db.execute(
    sql`INSERT INTO webhook_endpoints (account_id, url, secret_sealed, max_concurrency)
        VALUES (${accountId}::uuid, ${`${target}/e${i}`}, ${a.secretBox.seal(secret)}, ${PER_ENDPOINT})`,
  );
}
const emit = (n: number, i: number) =>
  insertEventSql({
    type: 'endpoint.disabled',
    accountId,
    objectType: 'bench',
    objectId: `o${i}`,
    data: { n, t: Date.now() },
  });
const waitFor = async (count: number, timeoutMs: number) => {
  const until = Date.now() + timeoutMs;
  let got = await stats();
  while (got.received < count && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
    got = await stats();
  }
  return got;
};

// 2. Throughput: a backlog of EVENTS events (ENDPOINTS deliveries each) committed at once by a
// connection of its own (outside both instances' pools), as a burst of changes would leave it;
// the clock starts as that transaction commits and stops at the last delivery received (fan-out,
// claim, sign, send and record included).
const writer = createPostgresStore(url.toString(), { max: 1 });
let offset = 0;
async function backlog() {
  await reset();
  let t0 = 0;
  let cpu0 = 0;
  let each0: number[] = [];
  let busy0 = 0;
  let pg0 = 0;
  let rx0 = 0;
  await writer.db.transaction(async (tx) => {
    for (let j = 0; j < EVENTS; j++) await tx.execute(emit(j, offset + j));
    // Measured from here: the COMMIT that follows makes the backlog visible.
    t0 = Date.now();
    cpu0 = instancesCpu();
    each0 = instances.map((c) => processCpu(c.pid!));
    busy0 = machineBusy();
    [pg0, rx0] = [postgresCpu(), processCpu(receiverProcess.pid!)];
  });
  offset += EVENTS;
  wake(0);
  wake(1);
  const got = await waitFor(EVENTS * ENDPOINTS, 300_000);
  const elapsed = (Date.now() - t0) / 1000;
  const cpu1 = instancesCpu() - cpu0;
  const each = instances.map((c, i) => processCpu(c.pid!) - each0[i]!);
  const perDelivery = (seconds: number) => Math.round((seconds / got.received) * 1e6);
  return {
    rate: got.received / elapsed,
    cpuUs: ((machineBusy() - busy0) / got.received) * 1e6,
    split: {
      instances: perDelivery(cpu1),
      postgres: perDelivery(postgresCpu() - pg0),
      receiver: perDelivery(processCpu(receiverProcess.pid!) - rx0),
    },
    instancesCpu: `${Math.round((cpu1 / elapsed) * 100)}% of one core (both: ${each
      .map((s) => `${Math.round((s / elapsed) * 100)}%`)
      .join(' + ')})`,
  };
}

// Rounds of (bare loop, backlog, bare loop): the machine's speed drifts by tens of percent within
// minutes here, so each round compares the backlog with the mean of the bare loops just before and
// just after it (DURATION / 2 s each), and the result is the median round, after a warm-up round.
const rounds: { bare: Awaited<ReturnType<typeof bareLoop>>; run: Awaited<ReturnType<typeof backlog>> }[] = [];
// A warm-up first, not counted: one backlog and a bare loop (the JIT, PostgreSQL's caches, the sockets).
await backlog();
await bareLoop(DURATION / 2);
for (let i = 0; i < ROUNDS; i++) {
  const before = await bareLoop(DURATION / 2);
  const run = await backlog();
  const after = await bareLoop(DURATION / 2);
  const bare = { rate: (before.rate + after.rate) / 2, cpuUs: (before.cpuUs + after.cpuUs) / 2 };
  rounds.push({ bare, run });
  console.error(
    `round ${i + 1}: bare ${Math.round(bare.rate)}/s, deliveries ${Math.round(run.rate)}/s = ${((run.rate / bare.rate) * 100).toFixed(1)}%`,
  );
}
const byRatio = [...rounds].sort((x, y) => x.run.rate / x.bare.rate - y.run.rate / y.bare.rate);
const median = byRatio[Math.floor(byRatio.length / 2)]!;
const rate = median.run.rate;

// 3. Latency at half that rate (events per second = rate / 2 / ENDPOINTS deliveries each).
await reset(true);
const eventsPerSecond = rate / 2 / ENDPOINTS;
const total = Math.round(eventsPerSecond * DURATION);
const start = Date.now();
for (let i = 0; i < total; i++) {
  const due = start + (i / eventsPerSecond) * 1000;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  await writer.db.transaction(async (tx) => {
    await tx.execute(emit(i, i));
  });
  wake(i);
}
const latency = await waitFor(total * ENDPOINTS, 60_000);
const latencies = (await receivedLatencies()).sort((x, y) => x - y);
const duplicates = latency.duplicates;
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;

const pctOf = (r: (typeof rounds)[number]) => `${((r.run.rate / r.bare.rate) * 100).toFixed(1)}%`;
const result = {
  machine: `${cpus().length} cores, Node ${process.version}, PostgreSQL`,
  rounds: rounds.map((r) => ({
    bare_posts_per_s: Math.round(r.bare.rate),
    deliveries_per_s: Math.round(r.run.rate),
    ratio: pctOf(r),
    machine_cpu_us_per_delivery: Math.round(r.run.cpuUs),
    instances_cpu: r.run.instancesCpu,
  })),
  // The median round:
  bare_posts_per_s: Math.round(median.bare.rate),
  deliveries_per_s: Math.round(rate),
  ratio_to_bare: pctOf(median),
  deliveries: `${EVENTS * ENDPOINTS} a round (${EVENTS} events x ${ENDPOINTS} endpoints, max_concurrency ${PER_ENDPOINT})`,
  latency_rate_deliveries_per_s: Math.round(eventsPerSecond * ENDPOINTS),
  latency_ms: { p50: pct(50), p99: pct(99), max: latencies.at(-1), n: latencies.length },
  duplicates,
  instances_cpu_during_throughput: median.run.instancesCpu,
  // What one costs the whole machine (all processes, PostgreSQL included), in CPU microseconds.
  machine_cpu_us_per_bare_post: Math.round(median.bare.cpuUs),
  machine_cpu_us_per_delivery: Math.round(median.run.cpuUs),
  // Of which: both instances, PostgreSQL, the receiver.
  cpu_us_per_delivery_split: median.run.split,
};
console.log(JSON.stringify(result, null, 2));

for (const c of instances) {
  c.send('close');
  await new Promise((resolve) => c.once('exit', resolve));
}
await a.close();
await writer.close();
await control.close();
receiverProcess.kill();
await admin.query(`drop database if exists "${dbName}" with (force)`);
await admin.end();

// Runs every benchmark in one go and prints a Markdown table for bench/RESULTS.md.
//   DATABASE_URL=postgres://... npm run bench      (PGlite when unset)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import autocannon from 'autocannon';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

// The app under load is the production build (see servers.ts).
if (!process.env.BENCH_FROM_SOURCE) execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });

function start(args: string[]): Promise<{ child: ChildProcess; info: Record<string, string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers.ts', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, info: JSON.parse(line) as Record<string, string> });
    });
    child.on('exit', (code) => reject(new Error(`bench server exited ${code}`)));
  });
}

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  steal: number;
}

// CPU time the hypervisor gave to other guests during a measurement (the `steal` column of
// /proc/stat), in percent of all CPU time: a row measured while it is high is not comparable.
function cpuTimes(): { steal: number; total: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { steal: f[7] ?? 0, total: f.reduce((a, b) => a + b, 0) };
  } catch {
    return { steal: 0, total: 0 };
  }
}

async function load(
  name: string,
  url: string,
  headers: Record<string, string> = {},
  extra: Partial<autocannon.Options> = {},
): Promise<Row> {
  // Warm-up so JIT and pools are settled before measuring.
  await autocannon({ url, headers, connections: CONNECTIONS, duration: 2, ...extra });
  const before = cpuTimes();
  const r = await autocannon({ url, headers, connections: CONNECTIONS, duration: DURATION, ...extra });
  const after = cpuTimes();
  const steal = after.total > before.total ? (100 * (after.steal - before.steal)) / (after.total - before.total) : 0;
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, steal };
}

const app = await start(['app']);
const rows: Row[] = [];
try {
  const bare = await start(['bare', app.info.accountId!]);
  try {
    rows.push(await load('bare Fastify + pg: GET account by id', `${bare.info.url}/bare/account`));
  } finally {
    bare.child.kill();
  }
  rows.push(await load('app: same read, public route', `${app.info.url}/bench/public/account`));
  rows.push(
    await load('app: same read, API key (Bearer)', `${app.info.url}/bench/authed/account`, {
      authorization: `Bearer ${app.info.key}`,
    }),
  );
  rows.push(
    await load('app: same read, API key, fair-use limiter off', `${app.info.url}/bench/unmetered/account`, {
      authorization: `Bearer ${app.info.key}`,
    }),
  );
  rows.push(
    await load('app: GET /v1/account, API key (Bearer)', `${app.info.url}/v1/account`, {
      authorization: `Bearer ${app.info.key}`,
    }),
  );

  // Issue 5. A check of one fresh name per request (the same name twice within 5 s is throttled).
  let n = 0;
  rows.push(
    await load(
      'app: POST /v1/domains/check, one name, API key',
      `${app.info.url}/v1/domains/check`,
      { authorization: `Bearer ${app.info.key}`, 'content-type': 'application/json' },
      {
        method: 'POST',
        requests: [
          {
            method: 'POST',
            setupRequest: (req) => ({ ...req, body: JSON.stringify({ names: [`bench-${process.pid}-${n++}.com`] }) }),
          },
        ],
      },
    ),
  );
  // Registrations spread over 10 accounts, each name checked beforehand (R-DOM-2). The warm-up
  // registers names of its own: the counter goes on, so every name is registered once.
  const registrants = app.info.registrants as unknown as {
    key: string;
    contact: string;
    prefix: string;
    count: number;
  }[];
  let i = 0;
  rows.push(
    await load(
      'app: POST /v1/domains (registration), 10 accounts, 25 connections',
      `${app.info.url}/v1/domains`,
      { 'content-type': 'application/json' },
      {
        method: 'POST',
        connections: 25,
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
                  name: `${r.prefix}${j}-${app.info.pid}.com`,
                  contacts: { owner: r.contact, admin: r.contact, tech: r.contact },
                  nameservers: [],
                }),
              };
            },
          },
        ],
      },
    ),
  );
} finally {
  app.child.kill();
}

const invalid = rows.filter((r) => r.non2xx > 0);
if (invalid.length > 0) {
  console.error(
    `Invalid run: non-2xx answers on ${invalid.map((r) => r.name).join('; ')}. A refused request is not a measurement.`,
  );
  process.exitCode = 1;
}
const byName = (prefix: string) => rows.find((r) => r.name.startsWith(prefix))!;
const checkRatio = byName('app: POST /v1/domains/check').rps / byName('bare Fastify').rps;
const reg = byName('app: POST /v1/domains (registration)');
const ratio = byName('app: same read, API key').rps / byName('app: same read, public').rps;
const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `Machine: ${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; store: ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}${process.env.REDIS_URL ? ' + Redis' : ''}`,
);
console.log(
  `Date: ${new Date().toISOString().slice(0, 10)}; autocannon ${CONNECTIONS} connections, ${DURATION} s per route after 2 s warm-up\n`,
);
console.log('| route | req/s | p50 ms | p99 ms | non-2xx | steal % |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows)
  console.log(`| ${r.name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.non2xx} | ${r.steal.toFixed(1)} |`);
console.log(`\nAPI-key authenticated / public, same route: ${(ratio * 100).toFixed(1)}% (issue 3 target >= 70%)`);
const limiter =
  byName('app: same read, API key (Bearer)').rps / byName('app: same read, API key, fair-use limiter off').rps;
console.log(
  `Fair-use limiter on / off, same authenticated route: ${(limiter * 100).toFixed(1)}% (issue 4 target >= 85%)`,
);
console.log(
  `Domain check (one name, authenticated) / bare Fastify + pg: ${(checkRatio * 100).toFixed(1)}% (issue 5 target >= 50%)`,
);
console.log(`Registrations: ${Math.round(reg.rps)}/s, p99 ${reg.p99} ms (issue 5 target >= 500/s with p99 < 100 ms)`);

// What the benches against the bare route share: a fresh database next to DATABASE_URL (dropped at
// the end), the ids bench/servers.ts writes, the production build, and the servers each in a
// process of its own (`start`), so the load generator never shares their event loop.
import type autocannon from 'autocannon';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import pg from 'pg';

/** A fresh database named `<prefix>_<random>` beside DATABASE_URL's; `drop()` removes it. */
export async function benchDatabase(prefix: string) {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is required (PostgreSQL)');
  const dbName = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database "${dbName}"`);
  const url = new URL(base);
  url.pathname = `/${dbName}`;
  return {
    url,
    async drop() {
      await admin.query(`drop database "${dbName}" with (force)`);
      await admin.end();
    },
  };
}

/** The uuid bench/servers.ts derives from a name (md5). */
export const md5uuid = (s: string) => {
  const h = createHash('md5').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

/** The app as `npm start` runs it: tsc's output in dist/ (BENCH_FROM_SOURCE=1 measures src/ instead). */
export function buildUnlessFromSource(): void {
  if (!process.env.BENCH_FROM_SOURCE) execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
}

export const machine = () =>
  `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL`;

/** Starts `bench/servers.ts <args>` on `url`; resolves with the first JSON line it prints. */
export function start(
  url: URL,
  args: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; info: Record<string, string> }> {
  // BENCH_CPU_PROFILE=dir: a CPU profile of the app (its whole life) in that directory.
  const profile =
    process.env.BENCH_CPU_PROFILE && args[0] === 'app'
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`]
      : [];
  // BENCH_APP_FLAGS: node flags for the app's process only (as `npm start` would pass them).
  const flags = args[0] === 'app' ? (process.env.BENCH_APP_FLAGS ?? '').split(' ').filter(Boolean) : [];
  const child = spawn(process.execPath, [...flags, ...profile, '--import', 'tsx', 'bench/servers.ts', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, DATABASE_URL: url.toString(), ...env },
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const end = buf.indexOf('\n');
      if (end >= 0 && buf.startsWith('{'))
        resolve({ child, info: JSON.parse(buf.slice(0, end)) as Record<string, string> });
    });
    child.on('exit', (code) => reject(new Error(`bench server exited ${code}`)));
  });
}

/** CPU ticks (1/100 s) each process has used so far, from /proc: total and in the kernel. */
export function processTicks(): Map<string, { comm: string; ticks: number; sys: number }> {
  const out = new Map<string, { comm: string; ticks: number; sys: number }>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, { comm, ticks: Number(fields[11]) + Number(fields[12]), sys: Number(fields[12]) });
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/** CPU ticks so far: the server `pid`, each PostgreSQL process, this process (the load generator), and the machine's. */
export function cpuTicks(pid: number | undefined) {
  // The machine's own counters (cpu line of /proc/stat): busy is everything but idle and iowait,
  // including interrupt time, which no process is charged for.
  const [, ...cpu] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu.map(Number);
  const processes = processTicks();
  const postgres = new Map<string, number>();
  for (const [p, v] of processes) if (v.comm === 'postgres') postgres.set(p, v.ticks);
  return {
    server: processes.get(String(pid))?.ticks ?? 0,
    postgres,
    loader: processes.get(String(process.pid))?.ticks ?? 0,
    machineBusy: user + nice + system + irq + softirq + steal,
    machineIdle: idle + iowait,
  };
}

/**
 * Microseconds of CPU per request between two cpuTicks() readings. PostgreSQL's is summed over its
 * processes that lived through the round or started in it (one that ended meanwhile is not counted).
 */
export function cpuPerRequest(
  before: ReturnType<typeof cpuTicks>,
  after: ReturnType<typeof cpuTicks>,
  requests: number,
) {
  const us = (ticks: number) => Math.round((ticks * 10_000) / Math.max(requests, 1));
  let postgres = 0;
  for (const [p, ticks] of after.postgres) postgres += ticks - (before.postgres.get(p) ?? 0);
  return {
    server_us: us(after.server - before.server),
    postgres_us: us(postgres),
    loader_us: us(after.loader - before.loader),
    machine_us: us(after.machineBusy - before.machineBusy),
    machine_idle_us: us(after.machineIdle - before.machineIdle),
  };
}

/**
 * POST /v1/tickets as the ticket benchmarks send it: a Low ticket about a product, each with its own
 * subject (a repeated body would be the same command: R-API-2 counts repeats).
 */
let ticketsSent = 0;
export function ticketLoad(url: string, key: string): Partial<autocannon.Options> {
  return {
    url,
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => ({
          ...req,
          path: '/v1/tickets',
          body: `{"subject":"Renewal fails ${ticketsSent++}","description":"Renewing example.com answers an error since this morning; the steps are in the attachment of the first ticket.","concerns":{"type":"product","ref":"domains"}}`,
        }),
      },
    ],
  };
}

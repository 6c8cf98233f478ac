// A Redis or PostgreSQL server of the test's own, on a free port, stopped by its PID at teardown:
// fault tests pause (SIGSTOP), resume and kill these, never the machine's shared services.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface PrivateService {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** SIGSTOP: the port still accepts connections, nothing answers (a stall). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Stops the server for good (SIGKILL); connections are refused from then on. */
  kill(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The PIDs of a process and all its descendants (PostgreSQL serves each connection from a child). */
function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    // pgrep exits 1 when there are none
  }
  return [pid, ...children.flatMap(processTree)];
}

function control(child: ChildProcess, port: number, url: string): PrivateService {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signalTree = (signal: NodeJS.Signals) => {
    for (const pid of processTree(child.pid!)) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone meanwhile
      }
    }
  };
  return {
    url,
    port,
    pid: child.pid!,
    pause: () => signalTree('SIGSTOP'),
    resume: () => signalTree('SIGCONT'),
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalTree('SIGCONT');
      signalTree('SIGKILL');
      await exited;
    },
  };
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** redis-server on a free port (or on `port`, to bring one back after kill()), keeping nothing on disk. */
export async function startPrivateRedis(t: Teardown, opts: { port?: number } = {}): Promise<PrivateService> {
  const port = opts.port ?? (await freePort());
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const service = control(child, port, `redis://127.0.0.1:${port}`);
  t.teardown(() => service.kill());
  await waitFor(async () => {
    const { Redis } = await import('ioredis');
    const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } finally {
      r.disconnect();
    }
  }, 'redis-server');
  return service;
}

function postgresBin(name: string): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort().reverse() : [];
  for (const v of versions) {
    const p = join(base, v, 'bin', name);
    if (existsSync(p)) return p;
  }
  return name;
}

/**
 * A PostgreSQL cluster of its own (initdb into a temp dir, trust auth, on a free port). Runs as the
 * current user; as root, initdb refuses, so it runs as `postgres` through runuser.
 */
export async function startPrivatePostgres(t: Teardown): Promise<PrivateService> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'reseller-api-pg-'));
  const asRoot = process.getuid?.() === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  if (asRoot) execFileSync('chown', ['postgres', dir]);
  const [initCmd, initArgs] = wrap(postgresBin('initdb'), [
    '-D',
    dir,
    '-U',
    'postgres',
    '-A',
    'trust',
    '--no-sync',
    '-E',
    'UTF8',
  ]);
  execFileSync(initCmd, initArgs, { stdio: 'ignore' });
  const [cmd, args] = wrap(postgresBin('postgres'), [
    '-D',
    dir,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
  ]);
  const child = spawn(cmd, args, { stdio: 'ignore' });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const service = control(child, port, url);
  t.teardown(async () => {
    await service.kill();
    await rm(dir, { recursive: true, force: true });
  });
  await waitFor(async () => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    try {
      await c.connect();
      await c.query('select 1');
      return true;
    } finally {
      await c.end().catch(() => {});
    }
  }, 'postgres');
  return service;
}

// The real entry points (src/server.ts, src/cli.ts) in child processes, as an operator starts them.
import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where this file's tree starts: the checkout, or the compiled copy `npm test` runs (node_modules/.cache/reseller-api-tests/). */
const TREE = new URL('../..', import.meta.url).pathname;
/** The checkout itself (package.json is a symlink in the compiled copy). */
export const ROOT = `${dirname(realpathSync(`${TREE}package.json`))}/`;
/** tsx's loader by path, so a child may run in any working directory. */
const TSX = pathToFileURL(`${ROOT}node_modules/tsx/dist/loader.mjs`).href;

const compiled = import.meta.url.endsWith('.js');
/** What a child node needs to load our modules as this test does: nothing when compiled, else tsx. */
export const loaderArgs: string[] = compiled ? [] : ['--import', TSX];
/** The file of a module of ours (`src/server`, `src/db/data-dir-lock`) as this test runs it. */
export const modulePath = (module: string): string => (compiled ? `${TREE}${module}.js` : `${ROOT}${module}.ts`);
/** Node's arguments to run that module in a child process. */
export const nodeArgsFor = (module: string): string[] => [...loaderArgs, modulePath(module)];

/**
 * For a test whose processes never see the suite's DATABASE_URL (they get a clean environment and
 * run embedded, or are refused before any store): on CI's PostgreSQL pass it would repeat the
 * PGlite pass exactly, so it runs on the pass without DATABASE_URL only.
 */
export const embeddedPass = {
  skip: process.env.DATABASE_URL ? 'the same on every pass: runs on the pass without DATABASE_URL' : false,
};

/** Only what the child needs: the test's own DATABASE_URL, REDIS_URL... must not leak in. */
const baseEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' });

/** Children still running; killed when this test process exits, even when a timeout ends it early. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
function track(child: ChildProcess): void {
  running.add(child);
  child.on('exit', () => running.delete(child));
}

export interface ServerProcess {
  pid: number;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** The base URL once it listens; rejects if the process exits first. */
  listening: Promise<string>;
  output(): { stdout: string; stderr: string };
  kill(signal?: NodeJS.Signals): void;
}

export function startServer(env: Record<string, string>, opts: { cwd?: string } = {}): ServerProcess {
  const child = spawn(process.execPath, nodeArgsFor('src/server'), {
    cwd: opts.cwd ?? ROOT,
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (m) resolve(m[1]!);
    };
    child.stdout.on('data', check);
    void exited.then((code) => reject(new Error(`exited (${code}) before listening: ${stderr}`)));
  });
  listening.catch(() => {}); // a test that expects a refusal never awaits it
  return {
    pid: child.pid!,
    exited,
    listening,
    output: () => ({ stdout, stderr }),
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Runs the operator CLI to its end, with `stdin` on its standard input. */
export function runCli(
  args: string[],
  stdin: string,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [...nodeArgsFor('src/cli'), ...args], {
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
  });
  track(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
}

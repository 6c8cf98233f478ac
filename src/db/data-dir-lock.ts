// One process per embedded data directory. PGlite takes no lock of its own: two processes opening
// the same DATA_DIR each run their own copy of the database over the same files, and whatever the
// first one acknowledged is lost when the second one writes.
//
// Node has no flock(), and the npm packages that add it compile a native addon at install. Lock
// files kept fresh by a heartbeat (mtime, as proper-lockfile does) are no answer either: PGlite runs
// on the event loop, so a long statement stops the heartbeat and a live holder would look stale.
// So the lock is a record of its holder, and a record is stale only when its holder is provably
// gone: same machine (host name and boot id) and no process with that PID and that start time
// (the start time, in clock ticks since boot from /proc/<pid>/stat, tells a reused PID apart).
//
// Records are generations, `process.lock.<n>`, each created with link() (atomic, fails if it
// exists) from a complete temporary file. The highest generation is the lock. Taking over a stale
// record n means creating n+1, so of several processes taking over at once exactly one wins, and
// no record is ever removed while it is the highest. On close the holder replaces its record with a
// released one (rename(), atomic), so the next process finds the lock free.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';

const RECORD = /^process\.lock\.(\d+)$/;

export interface LockHolder {
  pid: number;
  /** Clock ticks since boot when the process started (field 22 of /proc/<pid>/stat); null off Linux. */
  start_ticks: number | null;
  boot_id: string | null;
  host: string;
  command: string;
  started_at: string;
  released?: boolean;
}

export class DataDirInUse extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
    readonly provable: boolean,
  ) {
    const who = `process ${holder.pid} (${holder.command}, started ${holder.started_at}${holder.host === hostname() ? '' : ` on host ${holder.host}`})`;
    super(
      provable
        ? `DATA_DIR: ${dataDir} is in use by ${who}; stop it first (an embedded data directory belongs to one process; set DATABASE_URL to share a database between processes)`
        : `DATA_DIR: ${dataDir} was locked by ${who}, which cannot be checked from here; if no process uses ${dataDir} any more, delete ${join(dataDir, 'process.lock.*')}`,
    );
    this.name = 'DataDirInUse';
  }
}

/** Field 22 of /proc/<pid>/stat, or null if there is no such process (or no /proc). */
function startTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[22 - 3]);
  } catch {
    return null;
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

function describeSelf(): LockHolder {
  return {
    pid: process.pid,
    start_ticks: startTicks(process.pid),
    boot_id: bootId(),
    host: hostname(),
    command: [basename(process.argv0), ...process.execArgv, ...process.argv.slice(1)].join(' '),
    started_at: new Date(Date.now() - process.uptime() * 1000).toISOString(),
  };
}

/** 'alive', 'gone', or 'unknown' when the holder ran where we cannot look (another host). */
function holderState(h: LockHolder): 'alive' | 'gone' | 'unknown' {
  if (h.released) return 'gone';
  if (h.host !== hostname()) return 'unknown';
  const boot = bootId();
  if (h.boot_id !== null && boot !== null && h.boot_id !== boot) return 'gone'; // rebooted since
  if (h.start_ticks === null) {
    // No /proc where it was written: all we can ask is whether the PID exists.
    try {
      process.kill(h.pid, 0);
      return 'alive';
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH' ? 'gone' : 'alive';
    }
  }
  return startTicks(h.pid) === h.start_ticks ? 'alive' : 'gone';
}

async function generations(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names
    .flatMap((n) => {
      const m = RECORD.exec(n);
      return m ? [Number(m[1])] : [];
    })
    .sort((a, b) => a - b);
}

export interface DataDirLock {
  /** Marks the lock released; the next process takes it at once. */
  release(): Promise<void>;
}

/** Takes the data directory's lock for this process, or throws DataDirInUse naming its holder. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const dir = resolve(dataDir);
  await mkdir(dir, { recursive: true });
  const self = describeSelf();
  const tmp = join(dir, `.process.lock.${process.pid}.${randomBytes(6).toString('hex')}`);
  await writeFile(tmp, JSON.stringify(self));
  try {
    for (;;) {
      const gens = await generations(dir);
      const top = gens.at(-1) ?? 0;
      if (top > 0) {
        let holder: LockHolder;
        try {
          holder = JSON.parse(await readFile(join(dir, `process.lock.${top}`), 'utf8')) as LockHolder;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // superseded meanwhile
          throw err;
        }
        const state = holderState(holder);
        if (state !== 'gone') throw new DataDirInUse(dataDir, holder, state === 'alive');
      }
      const mine = top + 1;
      const file = join(dir, `process.lock.${mine}`);
      try {
        await link(tmp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // another process won; look at it
        throw err;
      }
      // Older generations serve nothing now (only the highest counts).
      for (const g of gens) await unlink(join(dir, `process.lock.${g}`)).catch(() => {});
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          const done = `${tmp}.released`;
          await writeFile(done, JSON.stringify({ ...self, released: true }));
          await rename(done, file);
        },
      };
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

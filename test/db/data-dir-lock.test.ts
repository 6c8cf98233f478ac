// hardening-19: one process per embedded data directory. A second server or the CLI refuses to
// start naming the holder; a lock left by a killed process is taken over, never one of a live one.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DataDirInUse, lockDataDir, type LockHolder } from '../../src/db/data-dir-lock.js';
import { OTHER_STRONG_PASSWORD, STRONG_PASSWORD } from '../helpers/fixtures.js';
import { embeddedPass, loaderArgs, modulePath, runCli, startServer } from '../helpers/server-process.js';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'reseller-api-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const json = { 'content-type': 'application/json' };

async function login(base: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${base}/v1/auth/login`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

t.test(
  'hardening-19: a second server and the CLI refuse a DATA_DIR in use; after SIGKILL the acknowledged data is there',
  embeddedPass,
  async (t) => {
    const dataDir = await tempDir(t);
    const env = {
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      BOOTSTRAP_OPERATOR_USERNAME: 'ops',
      BOOTSTRAP_OPERATOR_PASSWORD: STRONG_PASSWORD,
    };
    const first = startServer(env);
    t.teardown(() => first.kill('SIGKILL'));
    const base = await first.listening;

    const op = await login(base, 'ops', STRONG_PASSWORD);
    const created = await fetch(`${base}/v1/admin/accounts`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${op}` },
      body: JSON.stringify({
        name: 'Locked Hosting',
        company_name: 'Locked Hosting GmbH',
        contact_email: 'billing@locked.test',
        contact_phone: '+49.3012345678',
        country: 'DE',
        address: 'Hauptstr. 1, 10115 Berlin',
        currency: 'EUR',
        owner: { username: 'alice', email: 'alice@locked.test', name: 'Alice', password: OTHER_STRONG_PASSWORD },
      }),
    });
    t.equal(created.status, 201, 'account created');
    const accountId = ((await created.json()) as { account: { id: string } }).account.id;
    for (let i = 0; i < 5; i++) {
      const credit = await fetch(`${base}/v1/admin/accounts/${accountId}/credit`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${op}` },
        body: JSON.stringify({ amount: { amount: 100, currency: 'EUR' }, reason: `credit ${i}` }),
      });
      t.equal(credit.status, 201, `credit ${i} acknowledged`);
    }

    const second = startServer({ ...env, BOOTSTRAP_OPERATOR_USERNAME: '', BOOTSTRAP_OPERATOR_PASSWORD: '' });
    t.equal(await second.exited, 1, 'a second server on the same DATA_DIR exits 1');
    t.match(
      second.output().stderr,
      new RegExp(`^DATA_DIR: .* in use by process ${first.pid} \\(`),
      "naming the first server's PID",
    );
    t.match(second.output().stderr, /src\/server\.[jt]s, started \d{4}-/, 'its command and start time');
    t.equal(second.output().stderr.trim().split('\n').length, 1, 'in one line');

    const cli = await runCli(
      ['create-operator', '--username', 'ops-two', '--email', 'ops2@provider.test'],
      `${STRONG_PASSWORD}\n`,
      { DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
    );
    t.equal(cli.code, 1, 'the CLI refuses while the server runs');
    t.match(cli.err, new RegExp(`in use by process ${first.pid} `));
    t.notMatch(cli.out, /created operator/);

    first.kill('SIGKILL');
    t.equal(await first.exited, null, 'killed');

    const third = startServer({ ...env, BOOTSTRAP_OPERATOR_USERNAME: '', BOOTSTRAP_OPERATOR_PASSWORD: '' });
    t.teardown(() => third.kill('SIGKILL'));
    const base3 = await third.listening;
    const alice = await login(base3, 'alice', OTHER_STRONG_PASSWORD);
    const balance = await fetch(`${base3}/v1/billing/balance`, { headers: { authorization: `Bearer ${alice}` } });
    t.equal(
      ((await balance.json()) as { balance: { amount: number } }).balance.amount,
      500,
      'every credit acknowledged before the kill is there',
    );
    t.equal((await login(base3, 'ops', STRONG_PASSWORD)).length > 0, true, 'and the operator');
    third.kill('SIGTERM');
    t.equal(await third.exited, 0);

    const cliAfter = await runCli(
      ['create-operator', '--username', 'ops-two', '--email', 'ops2@provider.test'],
      `${STRONG_PASSWORD}\n`,
      { DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
    );
    t.equal(cliAfter.code, 0, `the CLI runs once the server is stopped: ${cliAfter.err}`);
  },
);

const myStartTicks = () => {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
};

function record(over: Partial<LockHolder>): string {
  return JSON.stringify({
    pid: 1,
    start_ticks: 1,
    boot_id: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    host: hostname(),
    command: 'node dist/server.js',
    started_at: '2026-01-01T00:00:00.000Z',
    ...over,
  });
}

t.test(
  'hardening-19: a record whose PID is gone or reused is stale; a live holder and another host are refused',
  embeddedPass,
  async (t) => {
    const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const deadPid = Number(exited.stdout);

    const dead = await tempDir(t);
    await writeFile(join(dead, 'process.lock.1'), record({ pid: deadPid }));
    const a = await lockDataDir(dead);
    t.same(
      (await readdir(dead)).filter((f) => f.startsWith('process.lock')),
      ['process.lock.2'],
      'taken over as the next generation; the stale record removed',
    );
    await t.rejects(lockDataDir(dead), DataDirInUse, 'while held, a second lock is refused');
    await a.release();
    const again = await lockDataDir(dead);
    t.pass('after release the lock is free at once');
    await again.release();

    // The PID exists (it is this very process) but started at another time: a reused PID.
    const reused = await tempDir(t);
    await writeFile(join(reused, 'process.lock.7'), record({ pid: process.pid, start_ticks: myStartTicks() - 1 }));
    const b = await lockDataDir(reused);
    t.ok((await readdir(reused)).includes('process.lock.8'), 'a reused PID does not keep the lock');
    await b.release();

    const live = await tempDir(t);
    await writeFile(
      join(live, 'process.lock.3'),
      record({ pid: process.pid, start_ticks: myStartTicks(), command: 'node dist/server.js' }),
    );
    const refused = await lockDataDir(live).catch((err: unknown) => err);
    t.type(refused, DataDirInUse);
    t.match(
      (refused as Error).message,
      `in use by process ${process.pid} (node dist/server.js, started 2026-01-01T00:00:00.000Z)`,
    );

    const remote = await tempDir(t);
    await writeFile(join(remote, 'process.lock.1'), record({ pid: deadPid, host: 'another-host' }));
    const unknown = await lockDataDir(remote).catch((err: unknown) => err);
    t.type(unknown, DataDirInUse, 'a holder on another host cannot be checked, so it is not taken over');
    t.match(
      (unknown as Error).message,
      /on host another-host\), which cannot be checked from here; if no process uses .* any more, delete/,
    );
  },
);

t.test(
  'hardening-19: of several processes taking over one stale lock at once, exactly one wins',
  embeddedPass,
  async (t) => {
    const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const dir = await tempDir(t);
    await writeFile(join(dir, 'process.lock.4'), record({ pid: Number(exited.stdout) }));
    // Child processes racing for it: each prints "won" or "refused", and the winner holds the lock
    // until every racer has answered (its standard input closes).
    const script = `import { lockDataDir } from ${JSON.stringify(modulePath('src/db/data-dir-lock'))};
    try { await lockDataDir(process.argv[1]); process.stdout.write('won'); }
    catch (err) { process.stdout.write(err.name === 'DataDirInUse' ? 'refused' : String(err)); }
    process.stdin.on('end', () => process.exit(0)).resume();`;
    const { spawn } = await import('node:child_process');
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, [...loaderArgs, '--input-type=module', '-e', script, dir], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    const racers = children.map(
      (child) =>
        new Promise<string>((resolve) => {
          child.stdout.once('data', (d: Buffer) => resolve(d.toString()));
          child.on('exit', () => resolve('exited without answering'));
        }),
    );
    const answered = await Promise.all(racers);
    for (const child of children) child.stdin.end();
    const outcomes = answered.sort();
    t.same(outcomes, ['refused', 'refused', 'refused', 'won']);
  },
);

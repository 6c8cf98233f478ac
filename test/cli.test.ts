// The first operator: from the CLI, and from BOOTSTRAP_OPERATOR_* at start.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { eq } from 'drizzle-orm';
import { users } from '../src/db/schema/index.js';
import { buildTestApp } from './helpers/app.js';
import { testStore } from './helpers/db.js';
import { STRONG_PASSWORD } from './helpers/fixtures.js';
import { embeddedPass, nodeArgsFor, ROOT } from './helpers/server-process.js';

function cli(args: string[], stdin: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [...nodeArgsFor('src/cli'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(stdin);
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, out, err })),
  );
}

t.test('npm run cli -- create-operator creates an operator who can log in', embeddedPass, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'reseller-api-cli-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const env = { DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  const ok = await cli(
    ['create-operator', '--username', 'ops-admin', '--email', 'ops@provider.test'],
    `${STRONG_PASSWORD}\n`,
    env,
  );
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /created operator ops-admin/);
  const weak = await cli(
    ['create-operator', '--username', 'ops-two', '--email', 'ops2@provider.test'],
    'password\n',
    env,
  );
  t.equal(weak.code, 1);
  t.match(weak.err, /too weak/);
  const usage = await cli(['make-coffee'], '', env);
  t.equal(usage.code, 2);
  t.match(usage.err, /usage:/);
});

t.test('BOOTSTRAP_OPERATOR_* creates the first operator once', async (t) => {
  const store = await testStore(t);
  const env = { BOOTSTRAP_OPERATOR_USERNAME: 'first-op', BOOTSTRAP_OPERATOR_PASSWORD: STRONG_PASSWORD };
  const first = await buildTestApp(t, { store, env });
  const login = await first.app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { username: 'first-op', password: STRONG_PASSWORD },
  });
  t.equal(login.statusCode, 200);
  t.equal(login.json().user.role, 'operator');
  await buildTestApp(t, { store, env: { ...env, BOOTSTRAP_OPERATOR_USERNAME: 'second-op' } });
  const ops = await store.db.select().from(users).where(eq(users.role, 'operator'));
  t.same(
    ops.map((u) => u.username),
    ['first-op'],
    'a later start with an operator present creates none',
  );
});

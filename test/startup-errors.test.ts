// hardening-24: a start that fails because of the setup says so in one line on stderr, naming the
// variable and the fix, and exits non-zero; hardening-25: a .env file is read, under the environment.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError, loadConfig } from '../src/config.js';
import { TEST_MASTER_KEY } from './helpers/app.js';
import { TEST_DATABASE_URL } from './helpers/db.js';
import { freePort } from './helpers/private-services.js';
import { embeddedPass, startServer } from './helpers/server-process.js';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'reseller-api-start-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts the server expecting a refusal; answers its exit code and its stderr's one line. */
async function refusedStart(t: Test, env: Record<string, string>): Promise<string> {
  const server = startServer({ PORT: '0', LOG_LEVEL: 'warn', ...env });
  t.teardown(() => server.kill('SIGKILL'));
  const code = await server.exited;
  const { stderr } = server.output();
  t.equal(code, 1, 'exits 1');
  t.equal(stderr.trim().split('\n').length, 1, `one line on stderr: ${stderr}`);
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
  return stderr.trim();
}

t.test(
  'hardening-24: a database that does not exist names DATABASE_URL and says how to create it',
  { skip: TEST_DATABASE_URL ? false : 'needs PostgreSQL' },
  async (t) => {
    const url = new URL(TEST_DATABASE_URL!);
    const name = `rtest_missing_${randomBytes(4).toString('hex')}`;
    url.pathname = `/${name}`;
    const line = await refusedStart(t, { DATABASE_URL: url.toString(), MASTER_KEY: TEST_MASTER_KEY });
    t.match(
      line,
      new RegExp(
        `^DATABASE_URL: database "${name}" does not exist on .*; create it \\(createdb -h \\S+ -p \\d+ -U \\S+ ${name}\\)`,
      ),
    );
  },
);

t.test('hardening-24: an unreachable PostgreSQL names DATABASE_URL', embeddedPass, async (t) => {
  const port = await freePort();
  const line = await refusedStart(t, {
    DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/reseller`,
    MASTER_KEY: TEST_MASTER_KEY,
  });
  t.match(
    line,
    new RegExp(
      `^DATABASE_URL: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); start PostgreSQL or fix`,
    ),
  );
});

t.test('hardening-24: a weak BOOTSTRAP_OPERATOR_PASSWORD is named', embeddedPass, async (t) => {
  const dataDir = join(await tempDir(t), 'data');
  const line = await refusedStart(t, {
    DATA_DIR: dataDir,
    BOOTSTRAP_OPERATOR_USERNAME: 'ops',
    BOOTSTRAP_OPERATOR_PASSWORD: 'password1234',
  });
  t.match(line, /^BOOTSTRAP_OPERATOR_PASSWORD: too weak \(.+\); set a longer, less guessable one/);
  t.notOk(existsSync(dataDir), 'refused before the data directory is opened');
});

t.test('hardening-24: a port in use names PORT, before the data directory is touched', embeddedPass, async (t) => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const dataDir = join(await tempDir(t), 'data');
  const line = await refusedStart(t, { PORT: String(port), DATA_DIR: dataDir });
  t.equal(
    line,
    `PORT: 127.0.0.1:${port} is already in use (another server running?); stop it or set PORT to a free port`,
  );
  t.notOk(existsSync(dataDir), 'the data directory was neither created nor opened');
});

t.test('hardening-24: LOG_LEVEL=loud lists the allowed values', embeddedPass, async (t) => {
  const err = (() => {
    try {
      loadConfig({ LOG_LEVEL: 'loud' });
    } catch (e) {
      return e;
    }
  })();
  t.type(err, ConfigError);
  t.match((err as ConfigError).problems, [
    /^LOG_LEVEL: .*: fatal, error, warn, info, debug, trace, silent \(got "loud"\)$/,
  ]);
});

t.test(
  'hardening-25: a .env in the working directory is read, and the environment wins over it',
  embeddedPass,
  async (t) => {
    const dir = await tempDir(t);
    const fromFile = join(dir, 'data-from-env-file');
    const [filePort, envPort] = [await freePort(), await freePort()];
    await writeFile(join(dir, '.env'), `# local settings\nDATA_DIR=${fromFile}\nPORT=${filePort}\nLOG_LEVEL=info\n`);
    const server = startServer({ PORT: String(envPort) }, { cwd: dir });
    t.teardown(() => server.kill('SIGKILL'));
    const base = await server.listening;
    t.equal(base, `http://127.0.0.1:${envPort}`, 'PORT from the environment, not from .env');
    t.ok(existsSync(join(fromFile, 'PG_VERSION')), 'DATA_DIR from .env');
    t.equal((await fetch(`${base}/readyz`)).status, 200);
    server.kill('SIGTERM');
    t.equal(await server.exited, 0);
  },
);

// The real entry point in a child process: it starts, serves, and drains on SIGTERM.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startServer } from './helpers/server-process.js';

t.test('the server starts on embedded PGlite, serves /readyz, and exits cleanly on SIGTERM', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'reseller-api-server-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const server = startServer({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info' });
  const base = await server.listening;
  const ready = await fetch(`${base}/readyz`);
  t.equal(ready.status, 200);
  t.same(await ready.json(), { status: 'ready', checks: { database: 'ok', migrations: 'ok' } });
  server.kill('SIGTERM');
  t.equal(await server.exited, 0, 'exit code 0');
  t.match(server.output().stdout, '"signal":"SIGTERM"');
  t.match(server.output().stdout, 'server closed');
});

t.test('a bad configuration stops the process with a message naming the variable', async (t) => {
  const server = startServer({ PORT: 'not-a-port', LOG_LEVEL: 'chatty' });
  server.listening.catch(() => {});
  t.equal(await server.exited, 1);
  t.match(server.output().stderr, /PORT: /);
  t.match(server.output().stderr, /LOG_LEVEL: /);
});

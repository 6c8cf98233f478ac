// hardening-26: the README's walkthrough, pasted as one block, works: its sh blocks run in one bash
// from the project's directory (as `npm start` needs), on a fresh DATA_DIR and a free PORT.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { freePort } from './helpers/private-services.js';
import { ROOT } from './helpers/server-process.js';

const SECTION = '## From an empty server to a working API key';

/** The fenced sh blocks of the walkthrough section, in order. */
function walkthroughScript(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(SECTION);
  if (start < 0) throw new Error(`README.md has no "${SECTION}"`);
  const rest = readme.slice(start + SECTION.length);
  const end = rest.search(/^#{2,3} /m);
  const section = end === -1 ? rest : rest.slice(0, end);
  const blocks = [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  if (blocks.length === 0) throw new Error('the walkthrough has no sh block');
  return blocks.join('\n');
}

t.test('hardening-26: the README walkthrough runs as one pasted block and ends with working calls', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'reseller-api-readme-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const script = walkthroughScript();
  t.match(script, /readyz/, 'it waits for /readyz');

  // Its own process group, so that the server it leaves running in the background is stopped too.
  // -e and pipefail only make a failing step end the run here; the block itself is pasted as is.
  const bash = spawn('bash', ['-c', `set -eo pipefail\n${script}`], {
    cwd: ROOT,
    detached: true,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  bash.stdout.on('data', (d: Buffer) => (out += d.toString()));
  bash.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const stopGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-bash.pid!, signal);
    } catch {
      // already gone
    }
  };
  t.teardown(() => stopGroup('SIGKILL'));
  process.on('exit', () => stopGroup('SIGKILL')); // also when a timeout ends this file early
  const code = await new Promise<number | null>((resolve) => bash.on('exit', resolve));
  t.equal(code, 0, `the block ran to its end\nstdout:\n${out}\nstderr:\n${err}`);

  t.match(out, /"status":"ready"/, 'the server was ready before the first call');
  t.match(out, /"account":\{"id":"[^"]+","name":"Example Hosting"/, 'the operator created the account');
  t.match(out, /^\{"id":"[^"]+","name":"Example Hosting"/m, 'the key read it back');
  t.match(out, /^200 \{"balance":/m, 'the signed request with the secret succeeded');
  // The second block: a key for the ordering areas, and the operator's credit it can spend.
  t.match(out, /"type":"credit"/, 'the operator credited the account');
  t.match(out, /^\{"balance":\{"amount":50000,"currency":"EUR"\}/m, 'the new key reads the credited balance');
  t.notMatch(out + err, /repeated_failed_command|"status":4\d\d/, 'nothing was refused');

  // The server it started stops on SIGTERM, and its port is free again.
  stopGroup('SIGTERM');
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      () => true,
      () => false,
    );
    if (!up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await t.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'the background server was stopped');
});

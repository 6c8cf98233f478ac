// Operator command line: `npm run cli -- create-operator --username U --email E [--name N]`,
// password on standard input (never on the command line, where `ps` would show it).
// In embedded mode run it while the server is stopped: PGlite's files belong to one process, and
// the CLI refuses (naming the server's process) while the server holds DATA_DIR.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, withEnvFile } from './config.js';
import { createStore, type Store } from './db/client.js';
import { runMigrations } from './db/migrate.js';
import { AppError } from './errors.js';
import { createOperator } from './modules/accounts/service.js';
import { explainStartupFailure } from './startup-errors.js';

const USAGE = `usage:
  echo "$PASSWORD" | npm run cli -- create-operator --username <name> --email <address> [--name "<full name>"]`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'create-operator') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: { username: { type: 'string' }, email: { type: 'string' }, name: { type: 'string' } },
  });
  if (!values.username || !values.email) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const password = await readStdin();
  const config = loadConfig(withEnvFile(process.env));
  let store: Store | undefined;
  try {
    store = await createStore(config);
    await runMigrations(store);
  } catch (err) {
    const line = explainStartupFailure(err, config);
    if (line === null) throw err;
    await store?.close();
    process.stderr.write(`${line}\n`);
    return 1;
  }
  try {
    const user = await createOperator(store.db, {
      username: values.username,
      email: values.email,
      name: values.name ?? values.username,
      password,
    });
    process.stdout.write(`created operator ${user.username} (${user.id})\n`);
    return 0;
  } finally {
    await store.close();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof ConfigError || err instanceof AppError) {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  } else {
    throw err;
  }
}

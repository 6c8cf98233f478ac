import t from 'tap';
import { ConfigError, EnvSchema, loadConfig } from '../src/config.js';

const KEY = Buffer.alloc(32, 1).toString('base64');

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

t.test('defaults give a runnable embedded configuration', async (t) => {
  const c = loadConfig({});
  t.equal(c.port, 3000);
  t.equal(c.host, '127.0.0.1');
  t.equal(c.databaseUrl, undefined);
  t.equal(c.dataDir, './data');
  t.equal(c.trustProxy, false);
  t.equal(c.logLevel, 'info');
  t.ok(Object.isFrozen(c), 'config is frozen');
});

t.test('values are converted to their types', async (t) => {
  const c = loadConfig({
    PORT: '8080',
    BODY_LIMIT: '2048',
    LOG_LEVEL: 'debug',
    MASTER_KEY: KEY,
    DATABASE_URL: 'postgres://u@h/db',
  });
  t.equal(c.port, 8080);
  t.equal(c.bodyLimit, 2048);
  t.equal(c.masterKey?.length, 32);
  t.equal(c.databaseUrl, 'postgres://u@h/db');
});

t.test('an empty variable counts as unset', async (t) => {
  t.equal(loadConfig({ PORT: '', DATABASE_URL: '' }).port, 3000);
});

t.test('every bad variable is named, all at once', async (t) => {
  const problems = problemsOf({
    PORT: 'abc',
    LOG_LEVEL: 'loud',
    DATABASE_URL: 'mysql://x',
    REDIS_URL: 'http://r',
    BODY_LIMIT: '1',
  });
  for (const name of ['PORT', 'LOG_LEVEL', 'DATABASE_URL', 'REDIS_URL', 'BODY_LIMIT']) {
    t.ok(
      problems.some((p) => p.startsWith(`${name}:`)),
      `names ${name}`,
    );
  }
});

t.test('a port out of range is refused', async (t) => {
  t.match(problemsOf({ PORT: '70000' }), [/^PORT:/]);
});

t.test('MASTER_KEY is required with DATABASE_URL and must be 32 base64 bytes', async (t) => {
  t.match(problemsOf({ DATABASE_URL: 'postgres://x/y' }), [/^MASTER_KEY: required/]);
  t.match(problemsOf({ DATABASE_URL: 'postgres://x/y', MASTER_KEY: 'c2hvcnQ=' }), [/^MASTER_KEY:/]);
});

t.test('TRUST_PROXY takes a boolean, a hop count or addresses and CIDRs', async (t) => {
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
  t.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2);
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 2001:db8::/32,127.0.0.1' }).trustProxy, [
    '10.0.0.0/8',
    '2001:db8::/32',
    '127.0.0.1',
  ]);
  t.match(problemsOf({ TRUST_PROXY: '10.0.0.0/99' }), [/^TRUST_PROXY: not an address or CIDR: 10.0.0.0\/99/]);
  t.match(problemsOf({ TRUST_PROXY: 'proxy.local' }), [/^TRUST_PROXY:/]);
});

t.test('.env.example documents every variable the schema reads', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const example = await readFile(new URL('../.env.example', import.meta.url), 'utf8');
  for (const name of Object.keys(EnvSchema.properties)) {
    t.match(example, new RegExp(`^#? ?${name}=`, 'm'), `${name} is in .env.example`);
  }
});

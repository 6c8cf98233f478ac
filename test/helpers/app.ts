// Builds the real app on this test file's own database, with logs captured for assertions.
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Store } from '../../src/db/client.js';
import type { RegistryBackend } from '../../src/modules/domains/registry.js';
import { testStore } from './db.js';
import type { Resolver } from '../../src/lib/ssrf-guard.js';

export const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

interface TestContext {
  teardown(fn: () => unknown): void;
}

export const TEST_REDIS_URL = process.env.REDIS_URL || undefined;

/** Env for an app on the test Redis with its own key prefix (parallel test files never share buckets). */
export function redisEnv(prefix = `test:${randomUUID()}:`): Record<string, string> {
  if (!TEST_REDIS_URL) throw new Error('redisEnv needs REDIS_URL');
  return { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix };
}

export function testConfig(env: Record<string, string> = {}): Config {
  // Background jobs off: tests run them with app.jobs.run(name, now) at an injected time.
  return loadConfig({ LOG_LEVEL: 'info', MASTER_KEY: TEST_MASTER_KEY, JOBS_ENABLED: 'false', ...env });
}

export interface TestApp {
  app: App;
  store: Store;
  /** Every log line written so far, parsed. */
  logs: () => Record<string, unknown>[];
}

export async function buildTestApp(
  t: TestContext,
  opts: {
    env?: Record<string, string>;
    store?: Store;
    registry?: RegistryBackend;
    now?: () => Date;
    resolver?: Resolver;
    configure?: (app: App) => void | Promise<void>;
  } = {},
): Promise<TestApp> {
  const store = opts.store ?? (await testStore(t));
  const stream = new PassThrough();
  const lines: string[] = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter(Boolean));
  });
  // Every route answers only the error codes it declares (the OpenAPI document lists them).
  const undeclared: string[] = [];
  const app = await buildApp(testConfig(opts.env), {
    store,
    logStream: stream,
    checkErrorCodes: (u) => undeclared.push(`${u.method} ${u.url} answered undeclared code ${u.code}`),
    ...(opts.registry ? { registry: opts.registry } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.resolver ? { resolver: opts.resolver } : {}),
  });
  if (opts.configure) await opts.configure(app);
  await app.ready();
  t.teardown(async () => {
    await app.close();
    if (undeclared.length) throw new Error(`undeclared error codes:\n${[...new Set(undeclared)].join('\n')}`);
  });
  return { app, store, logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

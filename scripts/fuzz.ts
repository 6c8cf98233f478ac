// The long bad-input fuzz run: `npm run fuzz -- --cases 10000 [--seed N]`. Builds the app on its own
// database (PGlite in memory, or a fresh PostgreSQL database when DATABASE_URL is set), sends the
// cases of test/helpers/fuzz.ts round-robin over every operation, prints a summary and every
// finding, and exits non-zero when there is one. Results are recorded in bench/RESULTS.md.
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { buildTestApp, redisEnv, TEST_REDIS_URL } from '../test/helpers/app.js';
import { onPostgres } from '../test/helpers/db.js';
import { runFuzz } from '../test/helpers/fuzz.js';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '10000' }, seed: { type: 'string' } } });
const cases = Number(values.cases);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isSafeInteger(cases) || cases < 1 || !Number.isSafeInteger(seed)) {
  console.error('usage: npm run fuzz -- --cases <n> [--seed <n>]');
  process.exit(2);
}

const teardowns: (() => unknown)[] = [];
const { app } = await buildTestApp(
  { teardown: (fn) => teardowns.push(fn) },
  { env: { LOG_LEVEL: 'fatal', ...(TEST_REDIS_URL ? redisEnv() : {}) } },
);
const started = Date.now();
console.log(
  `fuzz: ${cases} cases, seed ${seed} (FUZZ_SEED / --seed to reproduce), store ${onPostgres ? 'PostgreSQL' : 'PGlite'}${TEST_REDIS_URL ? ' + Redis' : ''}`,
);
const summary = await runFuzz(app, {
  seed,
  cases,
  onProgress: (done) => {
    if (done % 1000 === 0) console.log(`  ${done} cases`);
  },
});
const seconds = ((Date.now() - started) / 1000).toFixed(1);
for (const f of summary.findings) {
  console.log(
    `FINDING ${f.status} ${f.why}: ${f.case.operationId} ${f.case.method} ${f.case.url.slice(0, 120)} [${f.case.mutation}] -> ${f.body.slice(0, 200)}`,
  );
}
console.log(
  JSON.stringify({
    date: new Date().toISOString(),
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    store: `${onPostgres ? 'postgresql' : 'pglite'}${TEST_REDIS_URL ? '+redis' : ''}`,
    seed,
    cases: summary.cases,
    unsendable: summary.unsendable,
    server_errors: summary.serverErrors,
    findings: summary.findings.length,
    seconds: Number(seconds),
    by_status: summary.byStatus,
    by_code: summary.byCode,
  }),
);
for (const fn of teardowns.reverse()) await fn();
process.exit(summary.findings.length === 0 ? 0 : 1);

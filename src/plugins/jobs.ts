// Background jobs on pg-boss (one PostgreSQL job queue, on PGlite too through db/job-queue.ts).
// `app.jobs.register(name, run, opts?)` from any area; a job with a schedule (`every`, default
// JOBS_INTERVAL_MS) runs once per slot of that length across all instances: every instance offers
// the slot's run to the queue, pg-boss keeps one (its throttle: one job per name and slot), and one
// instance's worker takes it. A run that throws is retried with backoff, then dead-lettered.
// `app.jobs.enqueue(name, payload, { tx })` adds a one-off run inside the caller's transaction.
// Tests and operators run a job at an injected time with `app.jobs.run(name, now)`, which bypasses
// the queue. A job must still be safe with several runs at once (a retry and the next slot's run):
// it claims rows with claimDueRows (db/claim-due-rows.ts).
import fp from 'fastify-plugin';
import PgBoss from 'pg-boss';
import type { Tx } from '../db/client.js';
import {
  DEAD_LETTER_QUEUE,
  driverExecutor,
  JOB_QUEUE,
  JOB_SCHEMA,
  transactionExecutor,
  type SqlExecutor,
} from '../db/job-queue.js';

/** Runs the job at `now` (with the payload it was enqueued with); returns how many items it handled. */
export type Job = (now: Date, payload?: unknown) => Promise<number>;

export interface JobOptions {
  /** Milliseconds between scheduled runs (default JOBS_INTERVAL_MS); false: the job runs only when enqueued. */
  every?: number | false;
  /** Runs after the first failure before the job is dead-lettered (default 2). */
  retries?: number;
  /** Wait before the first retry (default 5 s; pg-boss counts whole seconds). */
  retryDelayMs?: number;
  /** Double the wait on each retry, with jitter (default true). */
  backoff?: boolean;
}

export interface EnqueueOptions {
  /** The transaction the job commits (or rolls back) with; default: the request transaction when one is ambient. */
  tx?: Tx;
  /** Not before this time. */
  startAfter?: Date;
  /** At most one queued run per key (pg-boss singletonKey). */
  singletonKey?: string;
}

export interface DeadLetter {
  id: string;
  job: string;
  payload: unknown;
  error: string | null;
  failedAt: Date;
}

declare module 'fastify' {
  interface FastifyInstance {
    jobs: {
      register(name: string, run: Job, opts?: JobOptions): void;
      /** Runs one job now (or at `now`, for tests), outside the queue; returns how many items it handled. */
      run(name: string, now?: Date, payload?: unknown): Promise<number>;
      /** Queues one run of a registered job, in the caller's transaction; resolves to its id (null: a singleton already queued). */
      enqueue(name: string, payload?: unknown, opts?: EnqueueOptions): Promise<string | null>;
      /** Queues one run per payload in one statement (per 1,000), in the caller's transaction (a fan-out queueing many). */
      enqueueMany(name: string, payloads: readonly unknown[], opts?: { tx?: Tx }): Promise<void>;
      /** Jobs whose retries are spent, newest first. */
      deadLetters(opts?: { limit?: number }): Promise<DeadLetter[]>;
      names(): string[];
    };
  }
}

export interface JobsPluginOptions {
  enabled: boolean;
  intervalMs: number;
  pollIntervalMs: number;
  concurrency: number;
}

/** What a queued job carries: the job's name (a dead letter keeps it) and its payload. */
interface JobData {
  job: string;
  payload: unknown;
}

const DEFAULTS = { retries: 2, retryDelayMs: 5_000, backoff: true };

export default fp<JobsPluginOptions>(
  async function jobsPlugin(app, opts) {
    const jobs = new Map<string, { run: Job; opts: Required<JobOptions> }>();
    const running = new Set<Promise<unknown>>();
    const tickers: NodeJS.Timeout[] = [];
    // Captured now, outside any request: pg-boss's own statements never join a request transaction.
    const engineSql: SqlExecutor = driverExecutor(app.db);
    const boss = new PgBoss({
      db: engineSql,
      schema: JOB_SCHEMA,
      // runMigrations installs the schema; this only upgrades one a newer pg-boss finds older.
      migrate: true,
      // Maintenance (expiring runs whose instance died, archiving) on instances that run jobs.
      supervise: opts.enabled,
      schedule: false,
    });
    boss.on('error', (err) => app.log.error({ err }, 'job queue error'));

    const jobOf = (name: string) => {
      const job = jobs.get(name);
      if (!job) throw new Error(`no job ${name}`);
      return job;
    };

    const run = (name: string, now = new Date(), payload?: unknown): Promise<number> => jobOf(name).run(now, payload);

    const sendOptions = (o: Required<JobOptions>) => ({
      retryLimit: o.retries,
      retryDelay: Math.max(o.backoff ? 1 : 0, Math.round(o.retryDelayMs / 1000)),
      retryBackoff: o.backoff,
      deadLetter: DEAD_LETTER_QUEUE,
    });

    /** One run taken from the queue by this instance's worker. */
    const work = async (data: JobData): Promise<number> => {
      const started = Date.now();
      const p = run(data.job, new Date(), data.payload);
      running.add(p);
      try {
        const n = await p;
        if (n > 0) app.log.info({ job: data.job, handled: n, ms: Date.now() - started }, 'job ran');
        return n;
      } catch (err) {
        app.log.error({ err, job: data.job }, 'job failed');
        throw err;
      } finally {
        running.delete(p);
      }
    };

    /** Offers this slot's run of a scheduled job; pg-boss keeps one per slot whichever instance offers it. */
    const offer = (name: string, every: number, o: Required<JobOptions>) =>
      boss
        .send(JOB_QUEUE, { job: name, payload: null } satisfies JobData, {
          ...sendOptions(o),
          singletonKey: `every:${name}`,
          singletonSeconds: Math.max(1, Math.round(every / 1000)),
        })
        .catch((err: unknown) => app.log.warn({ err, job: name }, 'could not queue a scheduled run'));

    app.decorate('jobs', {
      register(name: string, job: Job, o: JobOptions = {}) {
        if (jobs.has(name)) throw new Error(`job ${name} registered twice`);
        jobs.set(name, {
          run: job,
          opts: {
            every: o.every ?? opts.intervalMs,
            retries: o.retries ?? DEFAULTS.retries,
            retryDelayMs: o.retryDelayMs ?? DEFAULTS.retryDelayMs,
            backoff: o.backoff ?? DEFAULTS.backoff,
          },
        });
      },
      run,
      async enqueue(name: string, payload: unknown = null, o: EnqueueOptions = {}) {
        const job = jobOf(name);
        return boss.send(JOB_QUEUE, { job: name, payload } satisfies JobData, {
          ...sendOptions(job.opts),
          db: transactionExecutor(o.tx ?? app.db),
          ...(o.startAfter ? { startAfter: o.startAfter } : {}),
          ...(o.singletonKey ? { singletonKey: o.singletonKey } : {}),
        });
      },
      async enqueueMany(name: string, payloads: readonly unknown[], o: { tx?: Tx } = {}) {
        const send = sendOptions(jobOf(name).opts);
        const db = transactionExecutor(o.tx ?? app.db);
        for (let i = 0; i < payloads.length; i += 1_000) {
          await boss.insert(
            payloads.slice(i, i + 1_000).map((payload) => ({
              name: JOB_QUEUE,
              data: { job: name, payload } satisfies JobData,
              retryLimit: send.retryLimit,
              retryDelay: send.retryDelay,
              retryBackoff: send.retryBackoff,
              deadLetter: send.deadLetter,
            })),
            { db },
          );
        }
      },
      async deadLetters({ limit = 100 }: { limit?: number } = {}) {
        const { rows } = await engineSql.executeSql(
          `select id, data, output, created_on from ${JOB_SCHEMA}.job where name = $1 order by created_on desc limit $2`,
          [DEAD_LETTER_QUEUE, limit],
        );
        return rows.map((r) => {
          const data = (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as Partial<JobData> | null;
          const output = (typeof r.output === 'string' ? JSON.parse(r.output) : r.output) as {
            message?: string;
          } | null;
          return {
            id: String(r.id),
            job: data?.job ?? '',
            payload: data?.payload ?? null,
            error: output?.message ?? null,
            failedAt: new Date(r.created_on as string | Date),
          };
        });
      },
      names: () => [...jobs.keys()],
    });

    if (opts.enabled) {
      app.addHook('onReady', async () => {
        await boss.start();
        for (let i = 0; i < opts.concurrency; i++) {
          await boss.work<JobData>(
            JOB_QUEUE,
            { pollingIntervalSeconds: opts.pollIntervalMs / 1000, batchSize: 1 },
            async ([job]) => work(job!.data),
          );
        }
        for (const [name, job] of jobs) {
          const every = job.opts.every;
          if (every === false) continue;
          // Twice per slot: a timer that drifts past a slot boundary cannot skip a slot.
          const timer = setInterval(() => void offer(name, every, job.opts), Math.max(500, every / 2));
          timer.unref();
          tickers.push(timer);
        }
      });
    }
    app.addHook('onClose', async () => {
      for (const t of tickers) clearInterval(t);
      // Stops fetching, lets a run halfway through its batch finish (pg-boss waits for it), before
      // the store closes.
      await boss.stop({ graceful: true, wait: true, close: false, timeout: 30_000 });
      await Promise.allSettled([...running]);
    });
  },
  { name: 'jobs', fastify: '5.x', dependencies: ['db'] },
);

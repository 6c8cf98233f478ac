// Background jobs: `app.jobs.register(name, run)` from any module; every JOBS_INTERVAL_MS each job
// runs once on this instance (never overlapping itself). A job must be safe with several instances
// running it at the same moment: it claims rows with FOR UPDATE SKIP LOCKED and handles each in its
// own transaction. Tests and operators run a job at an injected time with `app.jobs.run(name, now)`.
import fp from 'fastify-plugin';

export type Job = (now: Date) => Promise<number>;

declare module 'fastify' {
  interface FastifyInstance {
    jobs: {
      register(name: string, run: Job): void;
      /** Runs one job now (or at `now`, for tests); returns how many items it handled. */
      run(name: string, now?: Date): Promise<number>;
      names(): string[];
    };
  }
}

export default fp<{ enabled: boolean; intervalMs: number }>(
  async function jobsPlugin(app, opts) {
    const jobs = new Map<string, Job>();
    const running = new Set<string>();
    let timer: NodeJS.Timeout | undefined;

    const run = async (name: string, now = new Date()): Promise<number> => {
      const job = jobs.get(name);
      if (!job) throw new Error(`no job ${name}`);
      return job(now);
    };

    const tick = () => {
      for (const name of jobs.keys()) {
        if (running.has(name)) continue;
        running.add(name);
        const started = Date.now();
        run(name)
          .then((n) => {
            if (n > 0) app.log.info({ job: name, handled: n, ms: Date.now() - started }, 'job ran');
          })
          .catch((err: unknown) => app.log.error({ err, job: name }, 'job failed'))
          .finally(() => running.delete(name));
      }
    };

    app.decorate('jobs', {
      register(name: string, job: Job) {
        if (jobs.has(name)) throw new Error(`job ${name} registered twice`);
        jobs.set(name, job);
      },
      run,
      names: () => [...jobs.keys()],
    });

    if (opts.enabled) {
      app.addHook('onReady', async () => {
        timer = setInterval(tick, opts.intervalMs);
        timer.unref();
      });
    }
    app.addHook('onClose', async () => {
      if (timer) clearInterval(timer);
      // Let a job that is halfway through its batch finish before the pool closes.
      while (running.size) await new Promise((r) => setTimeout(r, 20));
    });
  },
  { name: 'jobs', fastify: '5.x', dependencies: ['db'] },
);

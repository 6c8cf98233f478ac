// One app instance for bench/webhooks.ts, in a process of its own as instances run: jobs on, so its
// event fan-out and webhook delivery loops run. The production build (dist/, as servers.ts explains)
// unless BENCH_FROM_SOURCE=1. Prints "ready"; the IPC message 'wake' wakes its fan-out (what the
// instance that wrote an event does after commit); 'close' closes it.
import { loadConfig } from '../src/config.js';

const { buildApp } = (await import(
  process.env.BENCH_FROM_SOURCE ? '../src/app.js' : '../dist/app.js'
)) as typeof import('../src/app.js');
const app = await buildApp(loadConfig(JSON.parse(process.env.BENCH_INSTANCE_ENV ?? '{}') as Record<string, string>));
await app.ready();
process.on('message', (m) => {
  if (m === 'wake') app.eventFanout.wake();
  if (m === 'close') void app.close().then(() => process.exit(0));
});
process.stdout.write('ready\n');

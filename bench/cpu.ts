// CPU per request, by process: the server, PostgreSQL (all its processes) and the load generator,
// read from /proc around a load of each case (50 connections), beside the rate. What the app's
// hooks cost is the difference between /bench/public/noop (or /bench/authed/noop) and the bare
// server's /bare/noop; what a route costs beyond them is the difference to the noop of its kind.
//   DATABASE_URL=postgres://... npx tsx bench/cpu.ts            (every case)
//   CASES=barenoop,authednoop,tickets D=8 DATABASE_URL=... npx tsx bench/cpu.ts
// Ratios between runs mean little on a shared machine (the bare noop alone varied 20-30k req/s
// between two runs); compare cases within one run.
import autocannon from 'autocannon';
import { benchDatabase, buildUnlessFromSource, machine, processTicks, start, ticketLoad } from './harness.js';

const database = await benchDatabase('bench_cpu');
buildUnlessFromSource();
const app = await start(database.url, ['app'], { BENCH_TICKETS: '1', BENCH_NAMES_PER_ACCOUNT: '0' });
const bare = await start(database.url, ['bare', app.info.accountId!], {});
const appPid = app.child.pid!;
const cases: [string, Partial<autocannon.Options>, number][] = [
  ['barenoop', { url: `${bare.info.url}/bare/noop` }, bare.child.pid!],
  ['publicnoop', { url: `${app.info.url}/bench/public/noop` }, appPid],
  [
    'authednoop',
    { url: `${app.info.url}/bench/authed/noop`, headers: { authorization: `Bearer ${app.info.key}` } },
    appPid,
  ],
  ['bare', { url: `${bare.info.url}/bare/account` }, bare.child.pid!],
  ['tickets', ticketLoad(`${app.info.url}/v1/tickets`, app.info.ticketKey!), appPid],
];
const only = (process.env.CASES ?? '').split(',').filter(Boolean);
const seconds = Number(process.env.D ?? 8);
console.log(`${machine()}, ${new Date().toISOString()}`);
try {
  for (const [name, opts, pid] of cases) {
    if (only.length && !only.includes(name)) continue;
    await autocannon({ connections: 50, duration: 2, ...opts } as autocannon.Options);
    const before = processTicks();
    const r = await autocannon({ connections: 50, duration: seconds, ...opts } as autocannon.Options);
    const after = processTicks();
    const per = (of: (pid: string, comm: string) => boolean) => {
      let ticks = 0;
      let sys = 0;
      for (const [p, v] of after)
        if (of(p, v.comm)) {
          ticks += v.ticks - (before.get(p)?.ticks ?? 0);
          sys += v.sys - (before.get(p)?.sys ?? 0);
        }
      const us = (t: number) => Math.round((t * 10_000) / r.requests.total);
      return `${us(ticks)} µs (kernel ${us(sys)})`;
    };
    console.log(
      `${name}: ${Math.round(r.requests.average)} req/s, non-2xx ${r.non2xx}; a request: server ${per((p) => Number(p) === pid)}, PostgreSQL ${per((_, c) => c === 'postgres')}, load generator ${per((p) => Number(p) === process.pid)}`,
    );
  }
} finally {
  app.child.kill();
  bare.child.kill();
  await new Promise((r) => setTimeout(r, 500));
  await database.drop();
}

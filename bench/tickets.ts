// Ticket creation (issue 16, R-TKT-1..3): POST /v1/tickets (a Low ticket about a product, with its
// first response period computed on the default calendar, its priority history, its description and
// its ticket.created event, in one transaction), against the bare Fastify + pg route (GET one
// account by id) measured in the same run, in alternating rounds. The app is the production build
// in a process of its own, the bare server in another.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/tickets.ts
// A fresh database is created next to the one named, and dropped. BENCH_ROUNDS (3) rounds of
// BENCH_DURATION s (10) each way, 50 connections.
import autocannon from 'autocannon';
import pg from 'pg';
import { benchDatabase, buildUnlessFromSource, machine, start, ticketLoad } from './harness.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const database = await benchDatabase('bench_tickets');
const url = database.url;

buildUnlessFromSource();

const app = await start(url, ['app'], { BENCH_TICKETS: '1', BENCH_NAMES_PER_ACCOUNT: '0' });
const bare = await start(url, ['bare', app.info.accountId!], {});

const run = (u: string, opts: Partial<autocannon.Options> = {}) =>
  autocannon({ url: u, connections: CONNECTIONS, duration: DURATION, ...opts });
const ticketOpts = () => ticketLoad(app.info.url!, app.info.ticketKey!);

const rounds: { bare: number; tickets: number; p99: number; non2xx: number }[] = [];
try {
  await autocannon({ url: `${bare.info.url}/bare/account`, connections: CONNECTIONS, duration: 2 });
  await autocannon({ url: app.info.url!, connections: CONNECTIONS, duration: 2, ...ticketOpts() });
  for (let r = 0; r < ROUNDS; r++) {
    const b = await run(`${bare.info.url}/bare/account`);
    const a = await run(app.info.url!, ticketOpts());
    rounds.push({ bare: b.requests.average, tickets: a.requests.average, p99: a.latency.p99, non2xx: a.non2xx });
  }
} finally {
  const exited = new Promise((resolve) => app.child.once('exit', resolve));
  app.child.kill();
  bare.child.kill();
  await exited;
}
const db = new pg.Client({ connectionString: url.toString() });
await db.connect();
const created = Number((await db.query('select count(*) from tickets')).rows[0].count);
const periods = Number((await db.query("select count(*) from ticket_periods where outcome = 'running'")).rows[0].count);
await db.end();
await database.drop();

const ratios = rounds.map((r) => r.tickets / r.bare).sort((x, y) => x - y);
const median = ratios[Math.floor(ratios.length / 2)]!;
console.log(
  JSON.stringify(
    {
      machine: machine(),
      date: new Date().toISOString(),
      rounds: rounds.map((r) => ({
        bare_per_s: Math.round(r.bare),
        tickets_per_s: Math.round(r.tickets),
        ratio: `${((r.tickets / r.bare) * 100).toFixed(1)}%`,
        tickets_p99_ms: r.p99,
        non2xx: r.non2xx,
      })),
      median_ratio: `${(median * 100).toFixed(1)}%`,
      tickets_created: created,
      running_periods: periods,
    },
    null,
    2,
  ),
);
if (rounds.some((r) => r.non2xx > 0)) {
  console.error('Invalid run: non-2xx answers. A refused request is not a measurement.');
  process.exitCode = 1;
}

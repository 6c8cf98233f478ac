// Micro-benchmark of the ticket deadline (R-TKT-3): addBusinessTime(cal, start, 32 business hours), Low,
// on a Europe/Berlin calendar (09:00-18:00, Monday to Friday, with the Berlin holidays of 2026-2028,
// two of them part-day), from 1,000,000 random starts over 2026-2028. The days those starts reach are
// compiled in a first, cold pass (reported apart); then ROUNDS timed passes over the million, warm.
// A sample of the starts is checked against the slow minute-by-minute reference of the tests
// (test/helpers/business-time-reference.ts): every deadline must agree.
//   npx tsx bench/deadline.ts
// BENCH_CALLS (1,000,000) starts, BENCH_ROUNDS (5) timed passes, BENCH_REFERENCE_SAMPLE (2,000).
import { cpus } from 'node:os';
import { addBusinessTime, compileCalendar, type CalendarSpec } from '../src/modules/tickets/calendar.js';
import { ReferenceCalendar } from '../test/helpers/business-time-reference.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SAMPLE = Math.min(CALLS, Number(process.env.BENCH_REFERENCE_SAMPLE ?? 2_000));
const HOUR = 3_600_000;
const DURATION = 32 * HOUR;
const FROM = Date.UTC(2026, 0, 1);
const TO = Date.UTC(2029, 0, 1);

const whole = (date: string, name: string) => ({ date, name });
const spec: CalendarSpec = {
  timeZone: 'Europe/Berlin',
  week: Object.fromEntries(['1', '2', '3', '4', '5'].map((d) => [d, [{ start: '09:00', end: '18:00' }]])),
  holidays: [
    ...[2026, 2027, 2028].flatMap((y) => [
      whole(`${y}-01-01`, 'Neujahr'),
      whole(`${y}-03-08`, 'Frauentag'),
      whole(`${y}-05-01`, 'Tag der Arbeit'),
      whole(`${y}-10-03`, 'Tag der Deutschen Einheit'),
      { date: `${y}-12-24`, start: '12:00', end: '24:00', name: 'Heiligabend' },
      whole(`${y}-12-25`, '1. Weihnachtstag'),
      whole(`${y}-12-26`, '2. Weihnachtstag'),
      { date: `${y}-12-31`, start: '14:00', end: '18:00', name: 'Silvester' },
    ]),
    // Easter 2026-04-05, 2027-03-28, 2028-04-16: Good Friday, Easter Monday, Ascension, Whit Monday.
    ...['2026-04-03', '2026-04-06', '2026-05-14', '2026-05-25'].map((d) => whole(d, 'Ostern/Pfingsten')),
    ...['2027-03-26', '2027-03-29', '2027-05-06', '2027-05-17'].map((d) => whole(d, 'Ostern/Pfingsten')),
    ...['2028-04-14', '2028-04-17', '2028-05-25', '2028-06-05'].map((d) => whole(d, 'Ostern/Pfingsten')),
  ],
};

/** mulberry32: the same starts on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
const next = random(20260101);
const starts = new Float64Array(CALLS);
for (let i = 0; i < CALLS; i++) starts[i] = FROM + Math.floor(next() * (TO - FROM));

const cal = compileCalendar(spec);
/** One pass over every start; the sum keeps the calls from being optimised away. */
function pass(): { us: number; sum: number } {
  let sum = 0;
  const began = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const start = starts[i]!;
    sum += addBusinessTime(cal, start, DURATION) - start;
  }
  return { us: ((performance.now() - began) * 1000) / CALLS, sum };
}

const cold = pass();
pass(); // warm-up: the optimising compiler, on a full cache
const rounds: number[] = [];
let checksum = 0;
for (let r = 0; r < ROUNDS; r++) {
  const { us, sum } = pass();
  rounds.push(us);
  checksum = sum;
}
const sorted = [...rounds].sort((a, b) => a - b);

// The reference on the first SAMPLE starts.
const reference = new ReferenceCalendar(spec);
let agree = 0;
const disagreements: string[] = [];
const began = performance.now();
for (let i = 0; i < SAMPLE; i++) {
  const start = starts[i]!;
  const want = reference.addBusinessTime(start, DURATION);
  const got = addBusinessTime(cal, start, DURATION);
  if (got === want) agree++;
  else if (disagreements.length < 5) {
    disagreements.push(
      `${new Date(start).toISOString()}: ${new Date(got).toISOString()} vs ${new Date(want).toISOString()}`,
    );
  }
}
const referenceUs = ((performance.now() - began) * 1000) / SAMPLE;

console.log(
  JSON.stringify(
    {
      benchmark: 'addBusinessTime(cal, start, 32 h), Europe/Berlin 09:00-18:00 Mon-Fri with holidays',
      machine: `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`,
      calls: CALLS,
      holidays: spec.holidays.length,
      cold_first_pass_us_per_call: Number(cold.us.toFixed(3)),
      us_per_call: Number(sorted[sorted.length >> 1]!.toFixed(3)),
      us_per_call_best: Number(sorted[0]!.toFixed(3)),
      rounds_us_per_call: rounds.map((us) => Number(us.toFixed(3))),
      mean_real_hours_to_deadline: Number((checksum / CALLS / HOUR).toFixed(2)),
      reference: {
        sample: SAMPLE,
        agree,
        us_per_call: Number(referenceUs.toFixed(0)),
        ...(disagreements.length > 0 ? { disagreements } : {}),
      },
    },
    null,
    2,
  ),
);
if (agree !== SAMPLE) process.exitCode = 1;

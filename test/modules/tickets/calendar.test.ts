// R-TKT-3/R-TKT-4: business time for ticket response deadlines. First examples whose expected instants
// are worked out by hand in their comments, then properties (fast-check) against a slow minute-by-minute
// reference (test/helpers/business-time-reference.ts) over random calendars, zones and starts.
import fc from 'fast-check';
import t from 'tap';
import {
  addBusinessTime,
  ALWAYS,
  businessTimeBetween,
  CalendarError,
  compileCalendar,
  DEFAULT_CALENDAR,
  isBusinessTime,
  type CalendarSpec,
  validateCalendar,
} from '../../../src/modules/tickets/calendar.js';
import { ReferenceCalendar } from '../../helpers/business-time-reference.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const ms = (iso: string) => Date.parse(iso);
const iso = (at: number) => new Date(at).toISOString();
/** The deadline `hours` business hours after `start`, as an ISO string. */
const deadline = (spec: CalendarSpec, start: string, duration: number) =>
  iso(addBusinessTime(compileCalendar(spec), ms(start), duration));
const weekdays = (start: string, end: string, days = ['1', '2', '3', '4', '5']) =>
  Object.fromEntries(days.map((d) => [d, [{ start, end }]]));
const ALL_DAYS = ['1', '2', '3', '4', '5', '6', '7'];
const berlin = (start: string, end: string, days?: string[]): CalendarSpec => ({
  timeZone: 'Europe/Berlin',
  week: weekdays(start, end, days),
  holidays: [],
});

// ---- examples -------------------------------------------------------------------------------------

t.test('R-TKT-3: the default calendar is 09:00-18:00 UTC, Monday to Friday, and cannot be changed', async (t) => {
  t.same(DEFAULT_CALENDAR.week['1'], [{ start: '09:00', end: '18:00' }]);
  t.equal(DEFAULT_CALENDAR.week['6'], undefined);
  t.ok(Object.isFrozen(DEFAULT_CALENDAR) && Object.isFrozen(DEFAULT_CALENDAR.week['1']![0]));
  t.ok(Object.isFrozen(ALWAYS.week['7']));
  const cal = compileCalendar(DEFAULT_CALENDAR);
  // 2027-01-04 is a Monday (2027-01-01 is a Friday).
  t.equal(isBusinessTime(cal, ms('2027-01-04T08:59:59.999Z')), false);
  t.equal(isBusinessTime(cal, ms('2027-01-04T09:00:00Z')), true);
  t.equal(isBusinessTime(cal, ms('2027-01-04T17:59:59.999Z')), true);
  t.equal(isBusinessTime(cal, ms('2027-01-04T18:00:00Z')), false);
  t.equal(isBusinessTime(cal, ms('2027-01-09T12:00:00Z')), false, 'Saturday');
  // Monday to Monday: five days of 9 hours.
  t.equal(businessTimeBetween(cal, ms('2027-01-04T00:00:00Z'), ms('2027-01-11T00:00:00Z')), 45 * HOUR);
  t.equal(businessTimeBetween(cal, ms('2027-01-11T00:00:00Z'), ms('2027-01-04T00:00:00Z')), 0, 'b before a');
});

t.test('R-TKT-4: a ticket opened at 07:00 on a Monday starts its clock at the 09:00 opening', async (t) => {
  // 8 h from 09:00 → 17:00 the same Monday.
  t.equal(deadline(DEFAULT_CALENDAR, '2027-01-04T07:00:00Z', 8 * HOUR), '2027-01-04T17:00:00.000Z');
  // Low, 32 h: Mon 9 + Tue 9 + Wed 9 = 27 h, 5 more on Thursday from 09:00 → Thursday 14:00.
  t.equal(deadline(DEFAULT_CALENDAR, '2027-01-04T07:00:00Z', 32 * HOUR), '2027-01-07T14:00:00.000Z');
});

t.test('R-TKT-3: Low (32 business hours) from Friday 17:00 ends on Thursday 13:00', async (t) => {
  // Fri 2027-01-08 17:00-18:00 = 1 h; Mon 11, Tue 12, Wed 13 = 27 h (28 in all); 4 h more on
  // Thursday 14th from 09:00 → 13:00. Not "next Friday": a week is only 45 business hours.
  t.equal(deadline(DEFAULT_CALENDAR, '2027-01-08T17:00:00Z', 32 * HOUR), '2027-01-14T13:00:00.000Z');
});

t.test('R-TKT-3: over a weekend', async (t) => {
  const cal = compileCalendar(DEFAULT_CALENDAR);
  // Fri 16:30-18:00 = 1.5 h, then 0.5 h on Monday from 09:00 → Monday 09:30.
  t.equal(deadline(DEFAULT_CALENDAR, '2027-01-08T16:30:00Z', 2 * HOUR), '2027-01-11T09:30:00.000Z');
  t.equal(businessTimeBetween(cal, ms('2027-01-08T16:30:00Z'), ms('2027-01-11T09:30:00Z')), 2 * HOUR);
  // Opened on Saturday noon: the clock starts on Monday 09:00 → 10:00.
  t.equal(deadline(DEFAULT_CALENDAR, '2027-01-09T12:00:00Z', HOUR), '2027-01-11T10:00:00.000Z');
});

t.test('R-TKT-3: a deadline that ends exactly at closing time is the closing, not the next opening', async (t) => {
  // Monday 17:59:30.250 leaves 29.750 s of the day: 29,750 ms ends at 18:00:00.000 sharp; one
  // millisecond more is 09:00:00.001 on Tuesday. Results keep the milliseconds, nothing is rounded.
  t.equal(deadline(DEFAULT_CALENDAR, '2027-01-04T17:59:30.250Z', 29_750), '2027-01-04T18:00:00.000Z');
  t.equal(deadline(DEFAULT_CALENDAR, '2027-01-04T17:59:30.250Z', 29_751), '2027-01-05T09:00:00.001Z');
  const cal = compileCalendar(DEFAULT_CALENDAR);
  t.equal(businessTimeBetween(cal, ms('2027-01-04T17:59:30.250Z'), ms('2027-01-05T09:00:00.001Z')), 29_751);
  // Zero: the start itself, even outside business hours (the earliest t >= start with 0 elapsed).
  t.equal(deadline(DEFAULT_CALENDAR, '2027-01-09T12:34:56.789Z', 0), '2027-01-09T12:34:56.789Z');
});

t.test('R-TKT-3: a whole-day holiday is skipped', async (t) => {
  const spec = { ...DEFAULT_CALENDAR, holidays: [{ date: '2026-12-25', name: 'Christmas' }] };
  // Thu 2026-12-24 15:00-18:00 = 3 h; Fri 25th holiday; weekend; Mon 28th 09:00 + 5 h → 14:00.
  t.equal(deadline(spec, '2026-12-24T15:00:00Z', 8 * HOUR), '2026-12-28T14:00:00.000Z');
  const cal = compileCalendar(spec);
  t.equal(isBusinessTime(cal, ms('2026-12-25T12:00:00Z')), false);
  t.equal(businessTimeBetween(cal, ms('2026-12-21T00:00:00Z'), ms('2026-12-28T00:00:00Z')), 36 * HOUR);
});

t.test('R-TKT-3: a part-day holiday closes only its hours', async (t) => {
  const spec: CalendarSpec = {
    ...DEFAULT_CALENDAR,
    holidays: [
      { date: '2026-12-31', start: '14:00', end: '18:00', name: "New Year's Eve afternoon" },
      { date: '2027-01-01', name: "New Year's Day" },
    ],
  };
  const cal = compileCalendar(spec);
  // Thu 2026-12-31 opens 09:00-14:00 only: 5 h.
  t.equal(businessTimeBetween(cal, ms('2026-12-31T00:00:00Z'), ms('2027-01-01T00:00:00Z')), 5 * HOUR);
  t.equal(isBusinessTime(cal, ms('2026-12-31T13:59:59.999Z')), true);
  t.equal(isBusinessTime(cal, ms('2026-12-31T14:00:00Z')), false);
  // From 10:00: 4 h to 14:00; Fri 1st holiday; weekend; Mon 2027-01-04 09:00 + 4 h → 13:00.
  t.equal(deadline(spec, '2026-12-31T10:00:00Z', 8 * HOUR), '2027-01-04T13:00:00.000Z');
  // Opened in the closed afternoon: the clock starts on Monday 09:00 → 10:00.
  t.equal(deadline(spec, '2026-12-31T15:00:00Z', HOUR), '2027-01-04T10:00:00.000Z');
  // Two part-day holidays on one date add up: 09:00-10:00 and 12:00-13:00 closed → 7 h open.
  const twice = compileCalendar({
    ...DEFAULT_CALENDAR,
    holidays: [
      { date: '2027-01-05', start: '12:00', end: '13:00' },
      { date: '2027-01-05', start: '08:00', end: '10:00' },
    ],
  });
  t.equal(businessTimeBetween(twice, ms('2027-01-05T00:00:00Z'), ms('2027-01-06T00:00:00Z')), 7 * HOUR);
});

t.test('R-TKT-3: Europe/Berlin 09:00-18:00 across the daylight-saving changes of 2027', async (t) => {
  const spec = berlin('09:00', '18:00');
  const cal = compileCalendar(spec);
  // Spring: Sunday 2027-03-28, 02:00 CET (UTC+1) → 03:00 CEST (UTC+2), at 01:00Z.
  // Fri 26th 17:00 CET = 16:00Z; 1 h to 18:00 CET (17:00Z); Mon 29th 09:00 CEST = 07:00Z + 1 h → 08:00Z.
  t.equal(deadline(spec, '2027-03-26T16:00:00Z', 2 * HOUR), '2027-03-29T08:00:00.000Z');
  // Low from Thu 25th 09:00 CET (08:00Z): Thu 9, Fri 9, Mon 9 = 27 h; Tue 30th 09:00 CEST + 5 h
  // = 14:00 CEST = 12:00Z.
  t.equal(deadline(spec, '2027-03-25T08:00:00Z', 32 * HOUR), '2027-03-30T12:00:00.000Z');
  // Autumn: Sunday 2027-10-31, 03:00 CEST → 02:00 CET, at 01:00Z.
  // Fri 29th 17:00 CEST = 15:00Z; 1 h to 16:00Z; Mon Nov 1st 09:00 CET = 08:00Z + 1 h → 09:00Z.
  t.equal(deadline(spec, '2027-10-29T15:00:00Z', 2 * HOUR), '2027-11-01T09:00:00.000Z');
  // The switches are at night: each business day stays 9 hours, 45 a week either side.
  t.equal(businessTimeBetween(cal, ms('2027-03-22T00:00:00Z'), ms('2027-04-05T00:00:00Z')), 90 * HOUR);
  t.equal(businessTimeBetween(cal, ms('2027-10-25T00:00:00Z'), ms('2027-11-08T00:00:00Z')), 90 * HOUR);
});

t.test('R-TKT-3: business hours that span the 02:00-03:00 switch are an hour shorter or longer', async (t) => {
  // Every day 00:00-24:00 in Berlin: 2027-03-28 runs from 00:00 CET (2027-03-27T23:00Z) to 00:00
  // CEST on the 29th (2027-03-28T22:00Z): 23 h. 2027-10-31 from 00:00 CEST (2027-10-30T22:00Z) to
  // 00:00 CET on Nov 1st (2027-10-31T23:00Z): 25 h.
  const allDay = compileCalendar(berlin('00:00', '24:00', ALL_DAYS));
  t.equal(businessTimeBetween(allDay, ms('2027-03-27T23:00:00Z'), ms('2027-03-28T22:00:00Z')), 23 * HOUR);
  t.equal(businessTimeBetween(allDay, ms('2027-10-30T22:00:00Z'), ms('2027-10-31T23:00:00Z')), 25 * HOUR);
  // Business time is real elapsed time here: 24 h from local midnight on the 28th end at 23:00Z,
  // 01:00 CEST on the 29th, not at midnight.
  t.equal(iso(addBusinessTime(allDay, ms('2027-03-27T23:00:00Z'), 24 * HOUR)), '2027-03-28T23:00:00.000Z');
  // 01:30 CET (00:30Z) + 1 h → 01:30Z, which reads 03:30 CEST.
  t.equal(iso(addBusinessTime(allDay, ms('2027-03-28T00:30:00Z'), HOUR)), '2027-03-28T01:30:00.000Z');

  // Every day 01:00-04:00: on 2027-03-28, 01:00 CET (00:00Z) to 04:00 CEST (02:00Z) = 2 h;
  // on 2027-10-31, 01:00 CEST (2027-10-30T23:00Z) to 04:00 CET (03:00Z) = 4 h.
  const night = berlin('01:00', '04:00', ALL_DAYS);
  const nightCal = compileCalendar(night);
  t.equal(businessTimeBetween(nightCal, ms('2027-03-27T23:00:00Z'), ms('2027-03-28T22:00:00Z')), 2 * HOUR);
  t.equal(businessTimeBetween(nightCal, ms('2027-10-30T22:00:00Z'), ms('2027-10-31T23:00:00Z')), 4 * HOUR);
  // Sat 27th 03:00 CET (02:00Z): 1 h to 04:00 CET; Sunday opens 00:00Z, + 1 h → 01:00Z (03:00 CEST).
  t.equal(deadline(night, '2027-03-27T02:00:00Z', 2 * HOUR), '2027-03-28T01:00:00.000Z');
  // + 3 h: Saturday 1 h, then all of Sunday's 2 h, which end at 02:00Z (the closing).
  t.equal(deadline(night, '2027-03-27T02:00:00Z', 3 * HOUR), '2027-03-28T02:00:00.000Z');
  // Sat 30th 03:00 CEST (01:00Z): 1 h; Sunday opens 2027-10-30T23:00Z, + 3 h → 02:00Z.
  t.equal(deadline(night, '2027-10-30T01:00:00Z', 4 * HOUR), '2027-10-31T02:00:00.000Z');

  // Ends inside the switch. 02:30-05:00 on Sundays: on 2027-03-28 02:30 does not exist and opens at
  // the first instant after the gap, 03:00 CEST (01:00Z), to 05:00 CEST (03:00Z): 2 h. On 2027-10-31
  // 02:30 happens twice and opens at the first, 02:30 CEST (00:30Z), to 05:00 CET (04:00Z): 3.5 h,
  // the second pass through 02:00-02:30 (01:00Z-01:30Z) included, as the interval does not split.
  const sunday = compileCalendar(berlin('02:30', '05:00', ['7']));
  t.equal(businessTimeBetween(sunday, ms('2027-03-27T00:00:00Z'), ms('2027-03-29T00:00:00Z')), 2 * HOUR);
  t.equal(businessTimeBetween(sunday, ms('2027-10-30T00:00:00Z'), ms('2027-11-01T00:00:00Z')), 3.5 * HOUR);
  t.equal(isBusinessTime(sunday, ms('2027-10-31T00:29:59Z')), false, '02:29:59 CEST');
  t.equal(isBusinessTime(sunday, ms('2027-10-31T01:15:00Z')), true, '02:15 CET, the second pass');
  t.equal(deadline(berlin('02:30', '05:00', ['7']), '2027-03-27T12:00:00Z', HOUR), '2027-03-28T02:00:00.000Z');
});

t.test('R-TKT-3: other zones (New York in spring, Kolkata at +05:30)', async (t) => {
  // New York 09:00-18:00; 2027-03-14 (Sunday) switches EST (UTC-5) → EDT (UTC-4). Fri 12th 17:00
  // EST = 22:00Z: 1 h; Mon 15th 09:00 EDT = 13:00Z + 1 h → 14:00Z.
  const ny = { timeZone: 'America/New_York', week: weekdays('09:00', '18:00'), holidays: [] };
  t.equal(deadline(ny, '2027-03-12T22:00:00Z', 2 * HOUR), '2027-03-15T14:00:00.000Z');
  // Kolkata 09:00 IST on Monday 2027-01-04 = 03:30Z; from midnight UTC, 1 h → 04:30Z.
  const kolkata = { timeZone: 'Asia/Kolkata', week: weekdays('09:00', '18:00'), holidays: [] };
  t.equal(deadline(kolkata, '2027-01-04T00:00:00Z', HOUR), '2027-01-04T04:30:00.000Z');
});

t.test('R-TKT-3: Emergency, 8 calendar hours on ALWAYS, at night', async (t) => {
  // Saturday 2027-01-09 23:30Z + 8 h, every hour counting → Sunday 07:30Z.
  t.equal(deadline(ALWAYS, '2027-01-09T23:30:00Z', 8 * HOUR), '2027-01-10T07:30:00.000Z');
  t.equal(isBusinessTime(compileCalendar(ALWAYS), ms('2027-01-10T03:00:00Z')), true);
});

t.test('R-TKT-3: invalid calendars are refused with a CalendarError that names the fault', async (t) => {
  const bad = (spec: unknown, message: RegExp) =>
    t.throws(() => compileCalendar(spec as CalendarSpec), { name: 'CalendarError', message });
  bad({ ...DEFAULT_CALENDAR, timeZone: 'Mars/Olympus_Mons' }, /unknown time zone "Mars\/Olympus_Mons"/);
  bad({ ...DEFAULT_CALENDAR, timeZone: '' }, /unknown time zone/);
  bad(
    { ...DEFAULT_CALENDAR, week: weekdays('9:00', '18:00') },
    /week\["1"\]\[0\]\.start: "9:00" is not a time 'HH:MM'/,
  );
  bad({ ...DEFAULT_CALENDAR, week: weekdays('09:00', '24:30') }, /end: "24:30" is not a time/);
  bad({ ...DEFAULT_CALENDAR, week: weekdays('24:00', '24:00') }, /start: "24:00" is not a time/);
  bad({ ...DEFAULT_CALENDAR, week: weekdays('09:60', '18:00') }, /is not a time/);
  bad({ ...DEFAULT_CALENDAR, week: weekdays('18:00', '09:00') }, /start 18:00 is not before end 09:00/);
  bad({ ...DEFAULT_CALENDAR, week: weekdays('09:00', '09:00') }, /is not before end/);
  bad(
    {
      ...DEFAULT_CALENDAR,
      week: {
        '1': [
          { start: '09:00', end: '12:00' },
          { start: '11:00', end: '18:00' },
        ],
      },
    },
    /week\["1"\]\[1\]: intervals must be sorted and must not overlap/,
  );
  bad(
    {
      ...DEFAULT_CALENDAR,
      week: {
        '2': [
          { start: '13:00', end: '18:00' },
          { start: '09:00', end: '12:00' },
        ],
      },
    },
    /sorted/,
  );
  bad({ ...DEFAULT_CALENDAR, week: { '0': [] } }, /unknown weekday "0"/);
  bad({ ...DEFAULT_CALENDAR, holidays: [{ date: '2026-02-29' }] }, /holidays\[0\]\.date: "2026-02-29" is not a date/);
  bad({ ...DEFAULT_CALENDAR, holidays: [{ date: '26-12-25' }] }, /is not a date YYYY-MM-DD/);
  bad({ ...DEFAULT_CALENDAR, holidays: [{ date: '2026-12-31', start: '14:00' }] }, /give both start and end/);
  bad({ ...DEFAULT_CALENDAR, holidays: [{ date: '2026-12-31', start: '14:00', end: '13:00' }] }, /not before end/);
  bad(null, /must be an object/);
  t.ok(new CalendarError('x') instanceof Error);
  // '24:00' ends a day; 2028-02-29 is a date; abutting intervals are fine.
  t.doesNotThrow(() =>
    compileCalendar({
      timeZone: 'utc',
      week: {
        '1': [
          { start: '00:00', end: '12:00' },
          { start: '12:00', end: '24:00' },
        ],
      },
      holidays: [{ date: '2028-02-29', start: '00:00', end: '24:00' }],
    }),
  );
  t.throws(() => addBusinessTime(compileCalendar(DEFAULT_CALENDAR), 1.5, HOUR), RangeError);
  t.throws(() => addBusinessTime(compileCalendar(DEFAULT_CALENDAR), 0, -1), RangeError);
});

t.test('R-TKT-3: calendars without business hours terminate', async (t) => {
  const empty = compileCalendar({ timeZone: 'Europe/Berlin', week: {}, holidays: [] });
  t.throws(
    () => addBusinessTime(empty, ms('2027-01-04T00:00:00Z'), HOUR),
    new CalendarError('calendar has no business hours'),
  );
  t.equal(addBusinessTime(empty, ms('2027-01-04T00:00:00Z'), 0), ms('2027-01-04T00:00:00Z'));
  t.equal(businessTimeBetween(empty, ms('2027-01-01T00:00:00Z'), ms('2028-01-01T00:00:00Z')), 0);
  t.equal(isBusinessTime(empty, ms('2027-01-04T12:00:00Z')), false);
  // Every day a holiday for three years: gives up after two years of closed days.
  const holidays = Array.from({ length: 3 * 366 }, (_, i) => ({
    date: iso(ms('2027-01-01T00:00:00Z') + i * DAY).slice(0, 10),
  }));
  const closed = compileCalendar({ ...DEFAULT_CALENDAR, holidays });
  t.throws(() => addBusinessTime(closed, ms('2027-01-01T00:00:00Z'), HOUR), {
    name: 'CalendarError',
    message: /no business hours in the 732 days/,
  });
  // ... but the first business hour after the list is found when it is under two years away.
  const shorter = compileCalendar({ ...DEFAULT_CALENDAR, holidays: holidays.slice(0, 700) });
  // 700 days from 2027-01-01 is 2028-12-01, a Friday: its 09:00 opening + 1 h.
  t.equal(iso(addBusinessTime(shorter, ms('2027-01-01T00:00:00Z'), HOUR)), '2028-12-01T10:00:00.000Z');
});

// ---- properties against the minute-by-minute reference --------------------------------------------

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Sydney'];
const FROM = ms('2026-01-01T00:00:00Z');
const TO = ms('2029-01-01T00:00:00Z');
// Daylight-saving switches of 2026-2028: the EU at 01:00Z on the last Sundays of March and October,
// the US at 07:00Z on the second Sunday of March and 06:00Z on the first of November, Sydney at
// 16:00Z on the Saturday before the first Sundays of April and October. Kolkata and UTC have none.
const EU = [
  '2026-03-29T01:00Z',
  '2026-10-25T01:00Z',
  '2027-03-28T01:00Z',
  '2027-10-31T01:00Z',
  '2028-03-26T01:00Z',
  '2028-10-29T01:00Z',
];
const US = [
  '2026-03-08T07:00Z',
  '2026-11-01T06:00Z',
  '2027-03-14T07:00Z',
  '2027-11-07T06:00Z',
  '2028-03-12T07:00Z',
  '2028-11-05T06:00Z',
];
const SYDNEY = [
  '2026-04-04T16:00Z',
  '2026-10-03T16:00Z',
  '2027-04-03T16:00Z',
  '2027-10-02T16:00Z',
  '2028-04-01T16:00Z',
  '2028-09-30T16:00Z',
];
const SWITCHES: Record<string, number[]> = {
  'Europe/Berlin': EU.map(ms),
  'America/New_York': US.map(ms),
  'Australia/Sydney': SYDNEY.map(ms),
  UTC: EU.map(ms),
  'Asia/Kolkata': US.map(ms),
};

const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
/** Minutes of the day, with the hours around the switches and the usual openings more likely. */
const boundary = fc.oneof(
  fc.integer({ min: 0, max: 1440 }),
  fc.constantFrom(0, 60, 90, 120, 150, 180, 210, 240, 540, 1080, 1440),
);
/** A day's business hours: sorted, non-overlapping [start, end) pairs in minutes. */
const dayHours = fc.uniqueArray(boundary, { maxLength: 6 }).map((points) => {
  const sorted = [...points].sort((a, b) => a - b);
  const pairs: [number, number][] = [];
  for (let i = 0; i + 1 < sorted.length; i += 2) pairs.push([sorted[i]!, sorted[i + 1]!]);
  return pairs;
});
const week = fc.array(dayHours, { minLength: 7, maxLength: 7 }).filter((days) => days.flat().length > 0);
/** A start over 2026-2028, to the millisecond or on a minute, often in the days around a switch of the zone. */
const startIn = (zone: string) =>
  fc.oneof(
    fc.integer({ min: FROM, max: TO }),
    fc.integer({ min: FROM / MINUTE, max: TO / MINUTE }).map((m) => m * MINUTE),
    fc.tuple(fc.constantFrom(...SWITCHES[zone]!), fc.integer({ min: -3 * DAY, max: DAY })).map(([s, d]) => s + d),
    fc
      .tuple(fc.constantFrom(...SWITCHES[zone]!), fc.integer({ min: -3 * 24 * 60, max: 24 * 60 }))
      .map(([s, m]) => s + m * MINUTE),
  );
/** Holidays a few days either side of the start, whole days or parts. */
const holidays = fc.array(
  fc.record({ offset: fc.integer({ min: -2, max: 16 }), part: fc.option(dayHours.filter((p) => p.length > 0)) }),
  { maxLength: 4 },
);

interface Case {
  spec: CalendarSpec;
  start: number;
}
const calendarCase = fc
  .constantFrom(...ZONES)
  .chain((zone) => fc.record({ zone: fc.constant(zone), week, holidays, start: startIn(zone) }))
  .map(({ zone, week, holidays, start }): Case => {
    const date = (offset: number) => iso(start + offset * DAY).slice(0, 10);
    return {
      start,
      spec: {
        timeZone: zone,
        week: Object.fromEntries(
          week.map((pairs, i) => [String(i + 1), pairs.map(([s, e]) => ({ start: hhmm(s), end: hhmm(e) }))]),
        ),
        holidays: holidays.flatMap(({ offset, part }) =>
          part
            ? part.map(([s, e]) => ({ date: date(offset), start: hhmm(s), end: hhmm(e) }))
            : [{ date: date(offset) }],
        ),
      },
    };
  });
/** Weekly business minutes of a case (to keep the reference's walk short). */
const weeklyMs = (spec: CalendarSpec) =>
  Object.values(spec.week)
    .flat()
    .reduce((sum, i) => sum + (hhmmToMinutes(i.end) - hhmmToMinutes(i.start)) * MINUTE, 0);
const hhmmToMinutes = (text: string) => Number(text.slice(0, 2)) * 60 + Number(text.slice(3));
const duration = fc.oneof(
  fc.integer({ min: 0, max: 40 * HOUR }),
  fc.integer({ min: 0, max: 40 * 60 }).map((m) => m * MINUTE),
  fc.constant(0),
);
/** Up to 40 business hours, and at most two weeks' worth of the calendar's hours. */
const capped = (spec: CalendarSpec, d: number) => Math.min(d, 2 * weeklyMs(spec));
const show = ({ spec, start }: Case) => `${JSON.stringify(spec)} from ${iso(start)}`;

const RUNS = 400;

t.test('R-TKT-3: addBusinessTime agrees with the minute-by-minute reference', async (t) => {
  const began = performance.now();
  fc.assert(
    fc.property(calendarCase, duration, (c, raw) => {
      const d = capped(c.spec, raw);
      const got = addBusinessTime(compileCalendar(c.spec), c.start, d);
      const want = new ReferenceCalendar(c.spec).addBusinessTime(c.start, d);
      if (got !== want) throw new Error(`${show(c)} + ${d} ms: ${iso(got)}, reference ${iso(want)}`);
    }),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} cases in ${Math.round(performance.now() - began)} ms`);
});

t.test('R-TKT-3: businessTimeBetween agrees with the reference', async (t) => {
  const began = performance.now();
  fc.assert(
    fc.property(calendarCase, fc.integer({ min: -HOUR, max: 7 * DAY }), (c, span) => {
      const b = c.start + span;
      const got = businessTimeBetween(compileCalendar(c.spec), c.start, b);
      const want = new ReferenceCalendar(c.spec).businessTimeBetween(c.start, b);
      if (got !== want) throw new Error(`${show(c)} to ${iso(b)}: ${got}, reference ${want}`);
    }),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} cases in ${Math.round(performance.now() - began)} ms`);
});

t.test('R-TKT-3: isBusinessTime agrees with the reference', async (t) => {
  const began = performance.now();
  fc.assert(
    fc.property(calendarCase, fc.array(fc.integer({ min: 0, max: 4 * DAY }), { maxLength: 8 }), (c, offsets) => {
      const cal = compileCalendar(c.spec);
      const ref = new ReferenceCalendar(c.spec);
      for (const at of [c.start, ...offsets.map((o) => c.start + o)]) {
        if (isBusinessTime(cal, at) !== ref.isBusinessTime(at)) throw new Error(`${show(c)} at ${iso(at)}`);
      }
    }),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} cases in ${Math.round(performance.now() - began)} ms`);
});

t.test('R-TKT-4: the deadline is the earliest instant with exactly the duration elapsed, and monotone', async (t) => {
  const FAST_RUNS = 1000;
  fc.assert(
    fc.property(
      calendarCase,
      duration,
      duration,
      fc.integer({ min: 0, max: 10 * DAY }),
      fc.integer({ min: 0, max: 10 * DAY }),
      (c, d1, d2, later, span) => {
        const cal = compileCalendar(c.spec);
        const a = c.start;
        const end = addBusinessTime(cal, a, d1);
        if (end < a) throw new Error('before the start');
        if (businessTimeBetween(cal, a, end) !== d1) throw new Error(`${show(c)}: elapsed is not ${d1}`);
        // Earliest: one millisecond less and the duration has not elapsed.
        if (d1 > 0 && businessTimeBetween(cal, a, end - 1) !== d1 - 1) throw new Error(`${show(c)}: not the earliest`);
        // Monotone in the duration and in the start.
        const [lo, hi] = d1 <= d2 ? [d1, d2] : [d2, d1];
        if (addBusinessTime(cal, a, lo) > addBusinessTime(cal, a, hi)) throw new Error('not monotone in the duration');
        if (addBusinessTime(cal, a + later, d1) < end) throw new Error('not monotone in the start');
        // Round trip the other way: the deadline for the time elapsed up to b is not after b.
        const b = a + span;
        if (addBusinessTime(cal, a, businessTimeBetween(cal, a, b)) > b) throw new Error('round trip past b');
        // Additive: between(a, p) + between(p, q) = between(a, q) for a <= p <= q.
        const [p, q] = b <= end ? [b, end] : [end, b];
        if (businessTimeBetween(cal, a, p) + businessTimeBetween(cal, p, q) !== businessTimeBetween(cal, a, q)) {
          throw new Error(`${show(c)}: not additive at ${iso(p)}, ${iso(q)}`);
        }
      },
    ),
    { numRuns: FAST_RUNS },
  );
  t.pass(`${FAST_RUNS} cases`);
});

t.test('R-TKT-3: validateCalendar refuses what addBusinessTime cannot count on, naming the field', async (t) => {
  t.throws(() => validateCalendar({ timeZone: 'UTC', week: {}, holidays: [] }), {
    name: 'CalendarError',
    message: /no business hours/,
    path: ['week'],
  });
  t.throws(() => validateCalendar({ timeZone: 'UTC', week: { '6': [] }, holidays: [] }), {
    name: 'CalendarError',
    path: ['week'],
  });
  t.throws(() => validateCalendar({ timeZone: 'Nowhere/Atlantis', week: {}, holidays: [] }), {
    name: 'CalendarError',
    path: ['timeZone'],
  });
  t.throws(
    () => validateCalendar({ timeZone: 'UTC', week: { '1': [{ start: '09:00', end: '09:00' }] }, holidays: [] }),
    { name: 'CalendarError', path: ['week', '1', 0] },
  );
  // Only Mondays open; 60 Mondays in a row closed (2027-01-04 on) is 420 days without business hours.
  const mondays = Array.from({ length: 60 }, (_, i) => ({
    date: iso(ms('2027-01-04T00:00:00Z') + i * 7 * DAY).slice(0, 10),
  }));
  const mondaysOnly = { timeZone: 'UTC', week: { '1': [{ start: '09:00', end: '18:00' }] }, holidays: mondays };
  t.throws(() => validateCalendar(mondaysOnly), {
    message: /holidays: 426 days in a row without business hours from 2026-12-29/,
    path: ['holidays'],
  });
  // A part-day holiday that leaves an hour open breaks the run; 363 days (51 Mondays) are allowed.
  const partDay = mondays.map((h, i) => (i === 30 ? { ...h, start: '10:00', end: '18:00' } : h));
  t.ok(validateCalendar({ ...mondaysOnly, holidays: partDay }).hasHours);
  t.ok(validateCalendar({ ...mondaysOnly, holidays: mondays.slice(0, 51) }).hasHours);
  t.ok(validateCalendar(DEFAULT_CALENDAR).hasHours);

  // Hours only on Sundays 02:00-03:00 in Berlin, and every Sunday a holiday but the two on which
  // clocks spring forward at 02:00: those hours exist on no clock, so 2.3 years have none.
  const sundays = Array.from({ length: 120 }, (_, i) => iso(ms('2026-12-06T00:00:00Z') + i * 7 * DAY).slice(0, 10))
    .filter((d) => d !== '2027-03-28' && d !== '2028-03-26')
    .map((date) => ({ date }));
  const gapOnly = {
    timeZone: 'Europe/Berlin',
    week: { '7': [{ start: '02:00', end: '03:00' }] },
    holidays: sundays,
  };
  t.throws(() => validateCalendar(gapOnly), { message: /days in a row without business hours/, path: ['holidays'] });
  t.ok(
    validateCalendar({ ...gapOnly, week: { '7': [{ start: '02:00', end: '04:00' }] } }).hasHours,
    'an hour past the gap is business time on those Sundays',
  );
});

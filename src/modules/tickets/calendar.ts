// R-TKT-3/R-TKT-4: business time, for the response deadlines of support tickets. Pure functions over
// a calendar (no database, no Fastify): "N business hours after instant T", the business time
// between two instants, and whether an instant is in business hours.
//
// - A calendar is weekly business hours in local wall-clock time of an IANA zone, per ISO weekday,
//   minus holidays on local dates (a whole day, or [start, end) of it). It is the JSON shape an
//   operator will edit (CalendarSpec); compileCalendar validates it once and returns a Calendar.
//   validateCalendar, for what an operator saves, also refuses a calendar deadlines cannot be
//   counted on (no business hours, more than MAX_CLOSED_RUN days in a row closed by holidays).
// - Instants are epoch milliseconds (integers) and every result is exact to the millisecond: nothing
//   is rounded. Business-hour boundaries fall on whole minutes of local time.
// - Local to UTC: each local interval [start, end) of a day becomes [utc(start), utc(end)), where utc()
//   is the earliest instant whose wall-clock time is at or after the local time. So a local time in
//   a spring-forward gap maps to the first instant after the gap, an ambiguous one (fall-back) to
//   its earlier occurrence, and an interval that covers a switch is an hour shorter or longer in real
//   time (09:00-18:00 is 9 hours on a switch at 02:00, 00:00-24:00 is 23 or 25). Put differently, an
//   instant is business time when the local clock, taken as never running backwards (during a
//   repeated hour it stands at the latest time it had shown), is in business hours; an interval
//   never splits in two.
// - Speed: the zone's offsets are read with Intl only while a day is compiled (offsets on a 6-hour
//   grid, a switch between two grid points found by bisection to the second). Each local day is
//   compiled once, lazily, to its UTC bounds and business intervals and kept in a Map keyed by the
//   local day number; a call then walks days, so its cost is proportional to the days it spans.
// - addBusinessTime(start, d) is the earliest t >= start with businessTimeBetween(start, t) = d: a
//   start outside business hours waits for the next opening, a deadline that falls exactly on a
//   closing is that closing (not the next opening), and d = 0 gives start itself.

export type IsoWeekday = '1' | '2' | '3' | '4' | '5' | '6' | '7';

/** Local wall-clock 'HH:MM'; an end may be '24:00'. */
export interface TimeInterval {
  start: string;
  end: string;
}

export interface Holiday {
  /** Local date, YYYY-MM-DD. */
  date: string;
  /** With `end`: closed over [start, end) local time only; without both: closed all day. */
  start?: string;
  end?: string;
  name?: string;
}

export interface CalendarSpec {
  /** IANA zone: 'UTC', 'Europe/Berlin', 'America/New_York'... */
  timeZone: string;
  /** Business hours per ISO weekday ('1' Monday to '7' Sunday): sorted, non-overlapping [start, end). */
  week: Partial<Record<IsoWeekday, TimeInterval[]>>;
  /** Closed local dates, whole or in part; several on one date add up. */
  holidays: Holiday[];
}

export class CalendarError extends Error {
  override name = 'CalendarError';
  /** Where in the CalendarSpec the fault is: ['week', '1', 0, 'start'], ['holidays', 2, 'date'], ['timeZone']... */
  readonly path: readonly (string | number)[];

  constructor(message: string, path: readonly (string | number)[] = []) {
    super(message);
    this.path = path;
  }
}

const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
};

const WEEKDAYS: readonly IsoWeekday[] = ['1', '2', '3', '4', '5', '6', '7'];
const everyDay = (intervals: TimeInterval[], days: readonly IsoWeekday[]) =>
  Object.fromEntries(days.map((day) => [day, intervals.map((i) => ({ ...i }))])) as CalendarSpec['week'];

/** R-TKT-3: 09:00-18:00 UTC, Monday to Friday, no holidays. */
export const DEFAULT_CALENDAR: CalendarSpec = deepFreeze({
  timeZone: 'UTC',
  week: everyDay([{ start: '09:00', end: '18:00' }], WEEKDAYS.slice(0, 5)),
  holidays: [],
});

/** Calendar hours (R-TKT-3 Emergency): every day 00:00-24:00 UTC. */
export const ALWAYS: CalendarSpec = deepFreeze({
  timeZone: 'UTC',
  week: everyDay([{ start: '00:00', end: '24:00' }], WEEKDAYS),
  holidays: [],
});

const MINUTE = 60_000;
const DAY = 86_400_000;
const MINUTES_PER_DAY = 1440;
/** The offset grid: the zone's offset is read at multiples of this, a switch between two is bisected. */
const CELL = 6 * 3_600_000;
/** addBusinessTime gives up after this many consecutive days without business time. */
const MAX_CLOSED_DAYS = 2 * 366;

/** One local day, compiled: its UTC bounds [start, end) and business intervals (flat [s0, e0, s1, e1...]). */
interface Day {
  /** Local day number: days since 1970-01-01 of the local date. */
  readonly n: number;
  readonly start: number;
  readonly end: number;
  readonly intervals: readonly number[];
  /** Business milliseconds in the day. */
  readonly total: number;
}

interface OffsetCell {
  before: number;
  after: number;
  /** The switch from `before` to `after`; Infinity when the cell has none. */
  at: number;
}

/** The zone's UTC offsets (wall clock minus UTC, ms), read with Intl and cached on a 6-hour grid. */
class ZoneOffsets {
  private readonly format: Intl.DateTimeFormat;
  private readonly cells = new Map<number, OffsetCell>();

  constructor(timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** Intl's offset at a whole second. */
  private read(ms: number): number {
    const part = { year: NaN, month: NaN, day: NaN, hour: NaN, minute: NaN, second: NaN };
    for (const { type, value } of this.format.formatToParts(ms)) {
      if (type in part) part[type as keyof typeof part] = Number(value);
    }
    const wall = Date.UTC(part.year, part.month - 1, part.day, part.hour % 24, part.minute, part.second);
    if (Number.isNaN(wall))
      throw new CalendarError(`cannot read the offset of ${this.format.resolvedOptions().timeZone}`);
    return wall - ms;
  }

  private cell(k: number): OffsetCell {
    let cell = this.cells.get(k);
    if (cell) return cell;
    let lo = k * CELL;
    let hi = lo + CELL;
    const before = this.read(lo);
    const after = this.read(hi);
    if (before !== after) {
      // One switch in (lo, hi], on a whole second: the first second with the new offset.
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (this.read(mid) === before) lo = mid;
        else hi = mid;
      }
    }
    cell = { before, after, at: before === after ? Infinity : hi };
    this.cells.set(k, cell);
    return cell;
  }

  offsetAt(ms: number): number {
    const cell = this.cell(Math.floor(ms / CELL));
    return ms < cell.at ? cell.before : cell.after;
  }

  /** The earliest instant whose wall clock reads `local` or later (`local`: wall time as if it were UTC). */
  toUtc(local: number): number {
    const before = this.offsetAt(local - DAY);
    const after = this.offsetAt(local + DAY);
    let lo = local - Math.max(before, after);
    let hi = local - Math.min(before, after);
    if (this.offsetAt(lo) === local - lo) return lo; // unique, or the earlier of two
    if (this.offsetAt(hi) === local - hi) return hi;
    // In a gap: the wall clock jumps over `local` at the switch, somewhere in (lo, hi].
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (mid + this.offsetAt(mid) >= local) hi = mid;
      else lo = mid;
    }
    return hi;
  }
}

/** A compiled calendar: build it with compileCalendar, then pass it to the functions below. */
export class Calendar {
  /** The calendar as given (a frozen copy). */
  readonly spec: CalendarSpec;
  /** The zone's canonical name. */
  readonly timeZone: string;
  /** Whether any weekday has business hours. */
  readonly hasHours: boolean;
  private readonly zone: ZoneOffsets;
  /** Index 1..7: that weekday's business intervals, minutes of the day, flat [s0, e0, ...]. */
  private readonly week: number[][];
  /** Local day number → its closed intervals, minutes of the day, merged, flat. */
  private readonly closed: Map<number, number[]>;
  private readonly days = new Map<number, Day>();

  /** @internal Use compileCalendar. */
  constructor(spec: CalendarSpec, timeZone: string, week: number[][], closed: Map<number, number[]>) {
    this.spec = spec;
    this.timeZone = timeZone;
    this.week = week;
    this.closed = closed;
    this.hasHours = week.some((intervals) => intervals.length > 0);
    this.zone = new ZoneOffsets(timeZone);
  }

  /** @internal The local day `n`, compiled on first use. */
  day(n: number): Day {
    return this.days.get(n) ?? this.compile(n);
  }

  /** @internal The local day that holds the instant. */
  dayAt(ms: number): Day {
    // The UTC day is the local day or a neighbour (offsets are under a day).
    let day = this.day(Math.floor(ms / DAY));
    while (ms < day.start) day = this.day(day.n - 1);
    while (ms >= day.end) day = this.day(day.n + 1);
    return day;
  }

  /**
   * @internal The longest run of local days without business hours that holidays make (weekdays
   * without hours included, and days whose only hours fall in a daylight-saving gap, which exist on
   * no clock): null when no holiday closes a whole business day.
   */
  longestClosedRun(): { from: number; days: number } | null {
    const open = (n: number) => this.day(n).total > 0;
    const starts = [...this.closed.keys()].filter((n) => !open(n)).sort((a, b) => a - b);
    if (!this.hasHours) return null;
    let longest: { from: number; days: number } | null = null;
    let walked = -Infinity;
    for (const n of starts) {
      if (n <= walked) continue;
      let before = n - 1;
      while (!open(before)) before--;
      let after = n + 1;
      while (!open(after)) after++;
      walked = after;
      const days = after - before - 1;
      if (!longest || days > longest.days) longest = { from: before + 1, days };
    }
    return longest;
  }

  private compile(n: number): Day {
    const midnight = n * DAY;
    const start = this.zone.toUtc(midnight);
    const end = this.zone.toUtc(midnight + DAY);
    // 1970-01-01 (day 0) was a Thursday, ISO weekday 4.
    let open = this.week[((((n + 3) % 7) + 7) % 7) + 1]!;
    const closed = this.closed.get(n);
    if (closed) open = subtract(open, closed);
    const intervals: number[] = [];
    let total = 0;
    for (let i = 0; i < open.length; i += 2) {
      const from = open[i]!;
      const to = open[i + 1]!;
      const s = from === 0 ? start : this.zone.toUtc(midnight + from * MINUTE);
      const e = to === MINUTES_PER_DAY ? end : this.zone.toUtc(midnight + to * MINUTE);
      if (e <= s) continue; // wholly inside a spring-forward gap
      if (intervals.length > 0 && intervals[intervals.length - 1] === s) intervals[intervals.length - 1] = e;
      else intervals.push(s, e);
      total += e - s;
    }
    const day: Day = { n, start, end, intervals, total };
    this.days.set(n, day);
    return day;
  }
}

/** `open` minus `closed`, both sorted, non-overlapping flat [s, e, ...] lists. */
function subtract(open: number[], closed: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < open.length; i += 2) {
    let s = open[i]!;
    const e = open[i + 1]!;
    for (let j = 0; j < closed.length && s < e; j += 2) {
      const cs = closed[j]!;
      const ce = closed[j + 1]!;
      if (ce <= s || cs >= e) continue;
      if (cs > s) out.push(s, cs);
      s = ce;
    }
    if (s < e) out.push(s, e);
  }
  return out;
}

// ---- validation ---------------------------------------------------------------------------------

const TIME = /^(\d{2}):(\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** 'HH:MM' → minutes of the day; '24:00' only where `endOfDay` is allowed. */
function minutes(value: unknown, where: string, endOfDay: boolean, path: (string | number)[]): number {
  const match = typeof value === 'string' ? TIME.exec(value) : null;
  const hours = match ? Number(match[1]) : NaN;
  const mins = match ? Number(match[2]) : NaN;
  if (hours < 24 && mins < 60) return hours * 60 + mins;
  if (endOfDay && hours === 24 && mins === 0) return MINUTES_PER_DAY;
  throw new CalendarError(
    `${where}: ${JSON.stringify(value)} is not a time 'HH:MM' (00:00 to 23:59${endOfDay ? ', or 24:00 for an end' : ''})`,
    path,
  );
}

const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/** 'YYYY-MM-DD' → local day number. */
function dayNumber(value: unknown, where: string, path: (string | number)[]): number {
  const match = typeof value === 'string' ? DATE.exec(value) : null;
  if (match) {
    const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
    const ms = Date.UTC(y, m - 1, d);
    const date = new Date(ms);
    if (date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d) return ms / DAY;
  }
  throw new CalendarError(`${where}: ${JSON.stringify(value)} is not a date YYYY-MM-DD`, path);
}

function canonicalZone(timeZone: unknown): string {
  if (typeof timeZone === 'string' && timeZone !== '') {
    try {
      return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
    } catch {
      // not a zone Intl knows
    }
  }
  throw new CalendarError(`unknown time zone ${JSON.stringify(timeZone)}`, ['timeZone']);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Validates a calendar and compiles it. Throws a CalendarError naming the faulty field: an unknown
 * zone, a time that is not 'HH:MM', an empty, unsorted or overlapping interval, a bad date or weekday.
 */
export function compileCalendar(spec: CalendarSpec): Calendar {
  if (!isObject(spec)) throw new CalendarError('a calendar must be an object');
  const timeZone = canonicalZone(spec.timeZone);

  if (!isObject(spec.week)) throw new CalendarError('week must be an object of weekdays "1" to "7"', ['week']);
  const week: number[][] = [[], [], [], [], [], [], [], []];
  for (const [key, list] of Object.entries(spec.week)) {
    if (!(WEEKDAYS as readonly string[]).includes(key)) {
      throw new CalendarError(`week: unknown weekday ${JSON.stringify(key)} (ISO weekdays: "1" Monday to "7" Sunday)`, [
        'week',
        key,
      ]);
    }
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new CalendarError(`week["${key}"] must be a list of {start, end}`, ['week', key]);
    const flat = week[Number(key)]!;
    list.forEach((interval: unknown, i) => {
      const where = `week["${key}"][${i}]`;
      const path = ['week', key, i];
      if (!isObject(interval)) throw new CalendarError(`${where} must be {start, end}`, path);
      const start = minutes(interval.start, `${where}.start`, false, [...path, 'start']);
      const end = minutes(interval.end, `${where}.end`, true, [...path, 'end']);
      if (start >= end) throw new CalendarError(`${where}: start ${hhmm(start)} is not before end ${hhmm(end)}`, path);
      const previousEnd = flat[flat.length - 1];
      if (previousEnd !== undefined && start < previousEnd) {
        throw new CalendarError(
          `${where}: intervals must be sorted and must not overlap (starts before the previous one ends)`,
          path,
        );
      }
      flat.push(start, end);
    });
  }

  if (!Array.isArray(spec.holidays)) throw new CalendarError('holidays must be a list', ['holidays']);
  const ranges = new Map<number, [number, number][]>();
  spec.holidays.forEach((holiday: unknown, i) => {
    const where = `holidays[${i}]`;
    const path = ['holidays', i];
    if (!isObject(holiday)) throw new CalendarError(`${where} must be {date, start?, end?, name?}`, path);
    const n = dayNumber(holiday.date, `${where}.date`, [...path, 'date']);
    if (holiday.name !== undefined && typeof holiday.name !== 'string') {
      throw new CalendarError(`${where}.name must be a string`, [...path, 'name']);
    }
    let range: [number, number] = [0, MINUTES_PER_DAY];
    if (holiday.start !== undefined || holiday.end !== undefined) {
      if (holiday.start === undefined || holiday.end === undefined) {
        throw new CalendarError(`${where}: give both start and end, or neither for a whole day`, path);
      }
      range = [
        minutes(holiday.start, `${where}.start`, false, [...path, 'start']),
        minutes(holiday.end, `${where}.end`, true, [...path, 'end']),
      ];
      if (range[0] >= range[1]) {
        throw new CalendarError(`${where}: start ${hhmm(range[0])} is not before end ${hhmm(range[1])}`, path);
      }
    }
    ranges.set(n, [...(ranges.get(n) ?? []), range]);
  });
  const closed = new Map<number, number[]>();
  for (const [n, list] of ranges) {
    const merged: number[] = [];
    for (const [s, e] of list.sort((a, b) => a[0] - b[0])) {
      const last = merged.length - 1;
      if (last > 0 && s <= merged[last]!) merged[last] = Math.max(merged[last]!, e);
      else merged.push(s, e);
    }
    closed.set(n, merged);
  }

  return new Calendar(deepFreeze(structuredClone(spec)), timeZone, week, closed);
}

/** The longest run of days without business hours a calendar may have (validateCalendar). */
export const MAX_CLOSED_RUN = 366;

/**
 * compileCalendar, and the calendar must be usable for deadlines: some weekday has business hours
 * (else addBusinessTime has nothing to count on), and holidays never close more than
 * MAX_CLOSED_RUN days in a row (well under the MAX_CLOSED_DAYS after which addBusinessTime gives
 * up). What an operator saves goes through this, so a stored calendar always gives a deadline.
 */
export function validateCalendar(spec: CalendarSpec): Calendar {
  const cal = compileCalendar(spec);
  if (!cal.hasHours) {
    throw new CalendarError('week: the calendar has no business hours (give at least one weekday an interval)', [
      'week',
    ]);
  }
  const run = cal.longestClosedRun();
  if (run && run.days > MAX_CLOSED_RUN) {
    const from = new Date(run.from * DAY).toISOString().slice(0, 10);
    throw new CalendarError(
      `holidays: ${run.days} days in a row without business hours from ${from} (at most ${MAX_CLOSED_RUN})`,
      ['holidays'],
    );
  }
  return cal;
}

// ---- the functions --------------------------------------------------------------------------------

function instant(ms: number, name: string): void {
  if (!Number.isSafeInteger(ms)) throw new RangeError(`${name} must be an integer number of milliseconds`);
}

/**
 * The instant at which `durationMs` of business time has elapsed after `startMs`: the earliest
 * t >= startMs with businessTimeBetween(cal, startMs, t) === durationMs. Outside business hours the
 * clock starts at the next opening; a deadline on a closing is that closing; 0 gives startMs.
 * Throws CalendarError when the week has no business hours, or no business time comes for two years.
 */
export function addBusinessTime(cal: Calendar, startMs: number, durationMs: number): number {
  instant(startMs, 'startMs');
  instant(durationMs, 'durationMs');
  if (durationMs < 0) throw new RangeError('durationMs must not be negative');
  if (durationMs === 0) return startMs;
  if (!cal.hasHours) throw new CalendarError('calendar has no business hours');
  let remaining = durationMs;
  let day = cal.dayAt(startMs);
  let intervals = day.intervals;
  for (let i = 0; i < intervals.length; i += 2) {
    const end = intervals[i + 1]!;
    if (end <= startMs) continue;
    const start = Math.max(intervals[i]!, startMs);
    if (remaining <= end - start) return start + remaining;
    remaining -= end - start;
  }
  let closedDays = 0;
  for (;;) {
    day = cal.day(day.n + 1);
    if (day.total === 0) {
      if (++closedDays > MAX_CLOSED_DAYS) {
        throw new CalendarError(
          `no business hours in the ${MAX_CLOSED_DAYS} days after ${new Date(startMs).toISOString()}`,
        );
      }
      continue;
    }
    closedDays = 0;
    if (remaining > day.total) {
      remaining -= day.total;
      continue;
    }
    intervals = day.intervals;
    for (let i = 0; i < intervals.length; i += 2) {
      const start = intervals[i]!;
      const length = intervals[i + 1]! - start;
      if (remaining <= length) return start + remaining;
      remaining -= length;
    }
  }
}

/** Business milliseconds in [aMs, bMs); 0 when bMs <= aMs. */
export function businessTimeBetween(cal: Calendar, aMs: number, bMs: number): number {
  instant(aMs, 'aMs');
  instant(bMs, 'bMs');
  if (bMs <= aMs) return 0;
  let total = 0;
  for (let day = cal.dayAt(aMs); ; day = cal.day(day.n + 1)) {
    if (day.start >= aMs && day.end <= bMs) total += day.total;
    else {
      const intervals = day.intervals;
      for (let i = 0; i < intervals.length; i += 2) {
        const from = Math.max(intervals[i]!, aMs);
        const to = Math.min(intervals[i + 1]!, bMs);
        if (to > from) total += to - from;
      }
    }
    if (day.end >= bMs) return total;
  }
}

/** Whether the instant is in business hours. */
export function isBusinessTime(cal: Calendar, ms: number): boolean {
  instant(ms, 'ms');
  const intervals = cal.dayAt(ms).intervals;
  for (let i = 0; i < intervals.length; i += 2) {
    if (ms < intervals[i]!) return false;
    if (ms < intervals[i + 1]!) return true;
  }
  return false;
}

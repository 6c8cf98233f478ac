// A slow reference for business time (R-TKT-3/R-TKT-4), written apart from src/modules/tickets/calendar.ts
// to check it: it walks minute by minute, reads each minute's local wall clock with Intl, and decides
// from the calendar's text whether that minute is business time. Only the CalendarSpec type is shared.
//
// The semantics it encodes: an instant is business time when the local clock, taken as never running
// backwards, is in business hours of its local date and not in a holiday. "Never running backwards":
// during a repeated hour (fall-back) the clock is held at the latest time it had shown, so the second
// pass over 02:00-03:00 counts as 02:59, and an interval never splits in two; a local time skipped by
// a spring-forward gap is simply never shown. (This is the same as mapping each interval's ends to the
// earliest instant whose wall clock reads that time or later, as the implementation does.)
//
// Assumes the zone's offsets are whole minutes and its clock never goes back more than 3 hours (true
// of every zone the tests use), so UTC minutes are local minutes and are wholly in or out.
import type { CalendarSpec } from '../../src/modules/tickets/calendar.js';

const MINUTE = 60_000;
const LOOKBACK_MINUTES = 180;
const WEEKDAY: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
// en-US with these options formats as "Fri, 1/15/2027, 09:00:00".
const FORMATTED = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{1,2})\/(\d{1,2})\/(\d{4}), (\d{2}):(\d{2}):(\d{2})$/;

interface Wall {
  /** The wall clock as if it were UTC, to compare two readings. */
  local: number;
  date: string;
  weekday: number;
  minuteOfDay: number;
}

const hhmm = (text: string) => Number(text.slice(0, 2)) * 60 + Number(text.slice(3, 5));
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export class ReferenceCalendar {
  private readonly format: Intl.DateTimeFormat;
  private readonly week = new Map<number, [number, number][]>();
  private readonly holidays = new Map<string, [number, number][]>();

  constructor(readonly spec: CalendarSpec) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: spec.timeZone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    for (const [day, intervals] of Object.entries(spec.week)) {
      this.week.set(
        Number(day),
        (intervals ?? []).map((i) => [hhmm(i.start), hhmm(i.end)]),
      );
    }
    for (const h of spec.holidays) {
      const range: [number, number] = h.start && h.end ? [hhmm(h.start), hhmm(h.end)] : [0, 1440];
      this.holidays.set(h.date, [...(this.holidays.get(h.date) ?? []), range]);
    }
  }

  /** The wall clock at an instant, read with Intl. */
  wall(ms: number): Wall {
    const text = this.format.format(ms);
    const m = FORMATTED.exec(text);
    if (!m) throw new Error(`unexpected Intl output ${JSON.stringify(text)}`);
    const [month, day, year, hour, minute, second] = m.slice(2).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    return {
      local: Date.UTC(year, month - 1, day, hour, minute, second),
      date: `${pad(year, 4)}-${pad(month)}-${pad(day)}`,
      weekday: WEEKDAY[m[1]!]!,
      minuteOfDay: hour * 60 + minute,
    };
  }

  /** Whether the local clock reading is in business hours of its date. */
  private open(wall: Wall): boolean {
    const inside = ([s, e]: [number, number]) => s <= wall.minuteOfDay && wall.minuteOfDay < e;
    return (this.week.get(wall.weekday) ?? []).some(inside) && !(this.holidays.get(wall.date) ?? []).some(inside);
  }

  /** Walks the UTC minutes from the one holding `fromMs`, calling `visit(minuteStart, isBusiness)` until it returns true. */
  private walk(fromMs: number, maxMinutes: number, visit: (minute: number, business: boolean) => boolean): void {
    const first = Math.floor(fromMs / MINUTE) * MINUTE;
    // The clock never runs backwards: the latest reading so far, starting with the hours before.
    let latest: Wall | undefined;
    for (let k = LOOKBACK_MINUTES; k >= 1; k--) {
      const w = this.wall(first - k * MINUTE);
      if (!latest || w.local > latest.local) latest = w;
    }
    for (let i = 0; i < maxMinutes; i++) {
      const minute = first + i * MINUTE;
      const w = this.wall(minute);
      if (!latest || w.local > latest.local) latest = w;
      if (visit(minute, this.open(latest))) return;
    }
    throw new Error(`reference: gave up after ${maxMinutes} minutes`);
  }

  isBusinessTime(ms: number): boolean {
    let result = false;
    this.walk(ms, 1, (_, business) => ((result = business), true));
    return result;
  }

  /** Business milliseconds in [a, b). */
  businessTimeBetween(a: number, b: number): number {
    if (b <= a) return 0;
    let total = 0;
    this.walk(a, Math.ceil((b - a) / MINUTE) + 2, (minute, business) => {
      if (minute >= b) return true;
      if (business) total += Math.min(minute + MINUTE, b) - Math.max(minute, a);
      return false;
    });
    return total;
  }

  /** The earliest t >= start with businessTimeBetween(start, t) === duration. */
  addBusinessTime(start: number, duration: number, maxMinutes = 200 * 24 * 60): number {
    if (duration === 0) return start;
    let elapsed = 0;
    let result = NaN;
    this.walk(start, maxMinutes, (minute, business) => {
      if (!business) return false;
      const from = Math.max(minute, start);
      const available = minute + MINUTE - from;
      if (elapsed + available >= duration) {
        result = from + (duration - elapsed);
        return true;
      }
      elapsed += available;
      return false;
    });
    return result;
  }
}

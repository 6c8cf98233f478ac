// R-TKT-3, R-TKT-4, R-TKT-9 and the regulations' 6.8: a response period's clock, as pure functions.
// A period has a goal (8 calendar hours for Emergency; 16, 24 or 32 business hours for High, Medium
// and Low; business hours whatever the priority once the product team is involved), a start, and the
// pauses an operator made (waiting for a vendor's answer, or until a time agreed with the user).
// The clock counts goal time (business or calendar) from the start, never inside a pause; the
// deadline is the instant it reaches the goal. A pause until an agreed time counts as ending then,
// so the deadline is known while it lasts; a pause for a vendor has no end until the answer comes,
// and meanwhile there is no deadline (unless the goal was reached before the pause began).
import { addBusinessTime, ALWAYS, businessTimeBetween, compileCalendar, type Calendar } from './calendar.js';

export const PRIORITIES = ['low', 'medium', 'high', 'emergency'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** R-TKT-3: hours a ticket may stay on the provider's side. */
export const GOAL_HOURS: Readonly<Record<Priority, number>> = { emergency: 8, high: 16, medium: 24, low: 32 };

/** The goal of a period of this priority, and whether it runs on business hours (R-TKT-3, R-TKT-9). */
export function periodGoal(priority: Priority, productTeam: boolean): { goalSeconds: number; business: boolean } {
  return { goalSeconds: GOAL_HOURS[priority] * 3600, business: priority !== 'emergency' || productTeam };
}

/** Calendar hours: every instant counts. */
export const CALENDAR_HOURS: Calendar = compileCalendar(ALWAYS);

export interface Pause {
  startedAt: number;
  /** When it ended; for a pause until an agreed time not yet ended, that time. Null: open-ended. */
  endsAt: number | null;
}

export interface Clock {
  startedAt: number;
  goalMs: number;
  /** The business calendar, or CALENDAR_HOURS. */
  calendar: Calendar;
  /** In order of start, not overlapping. */
  pauses: readonly Pause[];
}

/** The stretches the clock runs in: from the start to the first pause, between pauses, after the last. */
function runs(c: Clock): { from: number; to: number | null }[] {
  const out: { from: number; to: number | null }[] = [];
  let from: number | null = c.startedAt;
  for (const p of c.pauses) {
    if (from === null) break;
    const pauseStart = Math.max(p.startedAt, from);
    out.push({ from, to: pauseStart });
    from = p.endsAt === null ? null : Math.max(p.endsAt, pauseStart);
  }
  if (from !== null) out.push({ from, to: null });
  return out;
}

/** Goal time (ms) on the clock at `at`: time counted from the start, pauses left out. */
export function elapsed(c: Clock, at: number): number {
  let total = 0;
  for (const r of runs(c)) {
    if (r.from >= at) break;
    total += businessTimeBetween(c.calendar, r.from, r.to === null ? at : Math.min(r.to, at));
  }
  return total;
}

/**
 * The instant the clock shows `target` ms (the deadline for the goal, the warning for goal − lead);
 * null when it stops short of it in an open-ended pause.
 */
export function instantAt(c: Clock, target: number): number | null {
  let left = target;
  for (const r of runs(c)) {
    if (r.to === null) return addBusinessTime(c.calendar, r.from, left);
    const inRun = businessTimeBetween(c.calendar, r.from, r.to);
    if (inRun >= left) return addBusinessTime(c.calendar, r.from, left);
    left -= inRun;
  }
  return null;
}

export const deadlineOf = (c: Clock): number | null => instantAt(c, c.goalMs);

// Operator-edited support data: the business-hour calendars (one is the default periods run on) and
// the criteria of each priority per product (R-TKT-2), with each priority's response time (R-TKT-3).
import { and, asc, eq, isNull, ne, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { ticketCalendars, ticketPeriods, ticketPriorityCriteria } from '../../db/schema/index.js';
import { defineError, invalidField, NotFound } from '../../errors.js';
import { CalendarError, validateCalendar, type CalendarSpec } from './calendar.js';
import { GOAL_HOURS, PRIORITIES, periodGoal, type Priority } from './sla.js';
import type { CalendarRow } from './store.js';

export const DefaultCalendarRequired = defineError(
  'default_calendar_required',
  409,
  'One calendar is always the default: make another one the default first',
);

export const CalendarInUse = defineError(
  'calendar_in_use',
  409,
  'Response periods still run on this calendar: it is removed once they have ended',
);

export interface CalendarInput {
  name: string;
  time_zone: string;
  week: CalendarSpec['week'];
  holidays: CalendarSpec['holidays'];
  default?: boolean | undefined;
}

const calendarView = (r: CalendarRow) => ({
  id: r.id,
  name: r.name,
  time_zone: r.spec.timeZone,
  week: r.spec.week,
  holidays: r.spec.holidays,
  default: r.isDefault,
  version: r.version,
  updated_at: r.updatedAt.toISOString(),
});

/** A CalendarError's path in the spec → a JSON pointer into the request body. */
const calendarPointer = (path: readonly (string | number)[]): string =>
  ['/body', ...path.map((p) => (p === 'timeZone' ? 'time_zone' : String(p)))].join('/');

export type TicketCatalogue = ReturnType<typeof createTicketCatalogue>;

export function createTicketCatalogue(
  db: Db,
  now: () => Date,
  /** Recomputes running periods on a calendar whose hours changed (the service's), in the saving transaction. */
  recompute: (tx: Tx, calendarId: string) => Promise<number>,
) {
  return {
    async priorities() {
      const rows = await db.select().from(ticketPriorityCriteria).orderBy(asc(ticketPriorityCriteria.product));
      return [...PRIORITIES].reverse().map((priority: Priority) => ({
        priority,
        response_hours: GOAL_HOURS[priority],
        business_hours: periodGoal(priority, false).business,
        criteria: rows
          .filter((r) => r.priority === priority)
          .map((r) => ({ product: r.product, criteria: r.criteria })),
      }));
    },

    async setCriteria(product: string, priority: Priority, criteria: string[]) {
      await db
        .insert(ticketPriorityCriteria)
        .values({ product, priority, criteria, updatedAt: now() })
        .onConflictDoUpdate({
          target: [ticketPriorityCriteria.product, ticketPriorityCriteria.priority],
          set: { criteria, updatedAt: now() },
        });
      return this.priorities();
    },

    async calendars() {
      return (await db.select().from(ticketCalendars).orderBy(asc(ticketCalendars.id))).map(calendarView);
    },

    async calendar(id: string) {
      const [row] = await db.select().from(ticketCalendars).where(eq(ticketCalendars.id, id));
      if (!row) throw new NotFound('No such calendar');
      return calendarView(row);
    },

    /**
     * Adds or replaces a calendar (a new version). Periods running on it are recomputed: their
     * deadlines follow the new hours and holidays. A calendar that cannot give deadlines (no
     * business hours, a bad zone, empty or overlapping intervals, a year of holidays) is refused
     * before anything is written, and the recomputation is in the same transaction as the save.
     */
    async setCalendar(id: string, input: CalendarInput) {
      let spec: CalendarSpec = { timeZone: input.time_zone, week: input.week, holidays: input.holidays };
      try {
        // Stored under the zone's canonical name (europe/berlin is Europe/Berlin).
        spec = { ...spec, timeZone: validateCalendar(spec).timeZone };
      } catch (err) {
        if (err instanceof CalendarError) invalidField(calendarPointer(err.path), 'invalid_calendar', err.message);
        throw err;
      }
      const at = now();
      const row = await db.transaction(async (tx) => {
        const [current] = await tx.select().from(ticketCalendars).where(eq(ticketCalendars.id, id)).for('update');
        // Tickets being opened now either commit before this change recomputes the running
        // periods (it then sees them), or wait for it: their statements take their snapshots once
        // the lock is theirs, so they find the new version and are computed on it (R-TKT-3). Ticket
        // writes wait for the change; calendar changes are rare, ticket creation is not (a lock on
        // the calendar row in every creation cost 15% of its throughput: bench/RESULTS.md).
        await tx.execute(sql`LOCK TABLE tickets IN SHARE MODE`);
        if (current?.isDefault && input.default === false)
          throw new DefaultCalendarRequired('Make another calendar the default; this one then stops being it');
        if (input.default) await tx.update(ticketCalendars).set({ isDefault: false }).where(ne(ticketCalendars.id, id));
        const [saved] = await tx
          .insert(ticketCalendars)
          .values({ id, name: input.name, spec, isDefault: input.default ?? false, createdAt: at, updatedAt: at })
          .onConflictDoUpdate({
            target: ticketCalendars.id,
            set: {
              name: input.name,
              spec,
              isDefault: input.default ?? current?.isDefault ?? false,
              version: sql`${ticketCalendars.version} + 1`,
              updatedAt: at,
            },
          })
          .returning();
        await recompute(tx, id);
        return saved!;
      });
      return calendarView(row);
    },

    async removeCalendar(id: string) {
      // Locked, so that a PUT making it the default cannot slip between the check and the delete
      // (which would leave no default calendar, and no deadline for any new ticket).
      await db.transaction(async (tx) => {
        const [row] = await tx.select().from(ticketCalendars).where(eq(ticketCalendars.id, id)).for('update');
        if (!row) throw new NotFound('No such calendar');
        if (row.isDefault) throw new DefaultCalendarRequired('The default calendar cannot be removed');
        const [running] = await tx
          .select({ id: ticketPeriods.id })
          .from(ticketPeriods)
          .where(and(eq(ticketPeriods.calendarId, id), isNull(ticketPeriods.endedAt)))
          .limit(1);
        if (running) throw new CalendarInUse('Periods still run on this calendar');
        await tx.delete(ticketCalendars).where(eq(ticketCalendars.id, id));
      });
    },
  };
}

// R-TKT-3: a ticket opened while an operator's calendar change is being saved runs on the calendar
// as saved. The change takes the tickets table in SHARE mode: a ticket's statement waits for it and
// takes its snapshot after, so it finds the version it computed on gone and is computed again on
// the new one; the change's recomputation of running periods never misses a ticket.
import t from 'tap';
import pg from 'pg';
import { createPostgresStore } from '../../../src/db/client.js';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres, postgresTestDatabase, untilLockWaits } from '../../helpers/db.js';
import { bearer, operator, reseller } from '../../helpers/fixtures.js';

t.test(
  'R-TKT-3: a ticket opened during a calendar change gets its deadline on the new calendar (PostgreSQL)',
  { skip: !onPostgres && 'PostgreSQL only (set DATABASE_URL): PGlite is one connection' },
  async (t) => {
    const url = await postgresTestDatabase(t);
    const store = createPostgresStore(url, { max: 6 });
    t.teardown(() => store.close());
    const clock = new Date('2027-01-11T09:00:00Z'); // a Monday, 09:00 UTC
    const { app } = await buildTestApp(t, { store, now: () => clock });
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    t.teardown(() => locker.end());

    // The default calendar (09:00-18:00 UTC, Monday to Friday) becomes round the clock, every day,
    // in a transaction that has not committed yet, locked as PUT /v1/admin/calendars/{id} locks
    // (the second test shows that it does).
    const allDay = [{ start: '00:00', end: '24:00' }];
    const spec = {
      timeZone: 'UTC',
      week: Object.fromEntries(['1', '2', '3', '4', '5', '6', '7'].map((d) => [d, allDay])),
      holidays: [],
    };
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM ticket_calendars WHERE is_default FOR UPDATE');
    await locker.query('LOCK TABLE tickets IN SHARE MODE');
    await locker.query('UPDATE ticket_calendars SET spec = $1::jsonb, version = version + 1 WHERE is_default', [
      JSON.stringify(spec),
    ]);
    const opened = app.inject({
      method: 'POST',
      url: '/v1/tickets',
      headers: bearer(r.token),
      payload: {
        subject: 'Cannot renew',
        description: 'Renewing example.com fails with an error since this morning; steps: ...',
        concerns: { type: 'product', ref: 'domains' },
      },
    });
    // Until it waits for the change (or, if it does not wait, has been answered).
    await untilLockWaits(locker, 1, opened);
    await locker.query('COMMIT');

    const res = await opened;
    t.equal(res.statusCode, 201, res.body);
    // Low: 32 business hours. Round the clock that is Tuesday 17:00; on 09:00-18:00 weekdays it
    // would be Thursday 14:00.
    t.equal(res.json().sla.deadline_at, '2027-01-12T17:00:00.000Z', 'the deadline follows the saved calendar');
  },
);

t.test(
  'R-TKT-3: a calendar change waits for tickets being written, so its recomputation sees them (PostgreSQL)',
  { skip: !onPostgres && 'PostgreSQL only (set DATABASE_URL): PGlite is one connection' },
  async (t) => {
    const url = await postgresTestDatabase(t);
    const store = createPostgresStore(url, { max: 6 });
    t.teardown(() => store.close());
    const clock = new Date('2027-01-11T09:00:00Z');
    const { app } = await buildTestApp(t, { store, now: () => clock });
    const op = await operator(app);
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    t.teardown(() => locker.end());
    // A ticket write in flight (as an open ticket's statement holds the table).
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE tickets IN ROW EXCLUSIVE MODE');
    const allDay = [{ start: '00:00', end: '24:00' }];
    const saving = app.inject({
      method: 'PUT',
      url: '/v1/admin/calendars/business',
      headers: bearer(op.token),
      payload: {
        name: 'Round the clock',
        time_zone: 'UTC',
        week: Object.fromEntries(['1', '2', '3', '4', '5', '6', '7'].map((d) => [d, allDay])),
        holidays: [],
        default: true,
      },
    });
    t.ok(await untilLockWaits(locker, 1, saving), 'the change waits for the ticket write');
    await locker.query('COMMIT');
    t.equal((await saving).statusCode, 200, 'and is saved once it is done');
  },
);

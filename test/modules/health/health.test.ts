import t from 'tap';
import { sql } from 'drizzle-orm';
import { buildTestApp } from '../../helpers/app.js';

t.test('GET /healthz answers while the process is up', async (t) => {
  const { app } = await buildTestApp(t);
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ok' });
});

t.test('GET /readyz is ready when the database answers and migrations are applied', async (t) => {
  const { app } = await buildTestApp(t);
  const res = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ready', checks: { database: 'ok', migrations: 'ok' } });
});

t.test('GET /readyz is 503 when the newest migration is missing from the database', async (t) => {
  const { app, store } = await buildTestApp(t);
  await store.db.execute(
    sql`delete from drizzle.__drizzle_migrations where created_at = (select max(created_at) from drizzle.__drizzle_migrations)`,
  );
  const res = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(res.statusCode, 503);
  t.same(res.json(), { status: 'not_ready', checks: { database: 'ok', migrations: 'pending' } });
});

t.test('GET /readyz is 503 when the database does not answer', async (t) => {
  const { app, store } = await buildTestApp(t);
  await store.close();
  const res = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(res.statusCode, 503);
  t.same(res.json(), { status: 'not_ready', checks: { database: 'failing', migrations: 'pending' } });
});

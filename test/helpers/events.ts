// The feed shows an event once every transaction older than its own has ended (the commit-safe
// order of src/modules/events/store.ts). On a PostgreSQL server shared with other test files, each
// creating and dropping databases, that can be a moment after the commit. `feedSettled` waits,
// without a clock, until every transaction begun before the call has ended: then whatever the test
// committed is in the feed.
import { sql } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { queryRows } from '../../src/db/client.js';

export async function feedSettled(app: App): Promise<void> {
  const [mark] = await queryRows<{ xid: string }>(app.db, sql`select pg_current_xact_id()::text as xid`);
  for (let i = 0; i < 100_000; i++) {
    const [row] = await queryRows<{ settled: boolean }>(
      app.db,
      sql`select pg_snapshot_xmin(pg_current_snapshot())::text::bigint > ${mark!.xid}::bigint as settled`,
    );
    if (row!.settled) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('the feed did not settle');
}

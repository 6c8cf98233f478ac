// R-LIC-2: a check-in that waits for a license another transaction holds (an operator or the
// reseller resolving a potential multi-use) must judge the license as that transaction left it. The
// report's one statement reads the license with FOR SHARE, so after the wait it reads the newest
// row, not the snapshot from before the resolution: an address seen again after the resolution is
// then detected as multi-use again.
import t from 'tap';
import pg from 'pg';
import { createPostgresStore } from '../../../src/db/client.js';
import { reportRecorder } from '../../../src/modules/licenses/store.js';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres, postgresTestDatabase, untilLockWaits } from '../../helpers/db.js';

t.test(
  'R-LIC-2: a check-in that waited for a resolution of potential multi-use sees the resolution (PostgreSQL)',
  { skip: !onPostgres && 'PostgreSQL only (set DATABASE_URL): PGlite is one connection' },
  async (t) => {
    const url = await postgresTestDatabase(t);
    const store = createPostgresStore(url, { max: 4 });
    t.teardown(() => store.close());
    await buildTestApp(t, { store }); // the schema
    const admin = new pg.Client({ connectionString: url });
    const holder = new pg.Client({ connectionString: url });
    await admin.connect();
    await holder.connect();
    t.teardown(() => Promise.all([admin.end(), holder.end()]));
    const q = async (text: string, params: unknown[] = []) => (await admin.query(text, params)).rows;

    const [account] = await q(`insert into accounts (name) values ('check-in race') returning id`);
    const [server] = await q(
      `insert into servers (account_id, name, addresses, provider) values ($1, 's', '{10.0.0.1}', 'x') returning id`,
      [account.id],
    );
    const [license] = await q(
      `insert into plesk_licenses (account_id, server_id, product, period_months, key_number, activation_code_sealed,
         bound_address, binding_mode, multi_use, period_anchor, expires_at)
       values ($1, $2, 'web-admin', 1, 'K-race', 'x', '10.0.0.1', 'fixed', 'potential', now(), now() + interval '30 days')
       returning id`,
      [account.id, server.id],
    );
    await q(
      `insert into license_addresses (license_id, address, first_seen, last_seen, reports)
       values ($1, '10.0.0.2', now() - interval '2 days', now() - interval '1 day', 3)`,
      [license.id],
    );

    // The resolution, as license-service's resolvePotential does it: the license locked, its extra
    // addresses resolved, multi_use back to none; not committed yet.
    await holder.query('begin');
    await holder.query('select 1 from plesk_licenses where id = $1 for update', [license.id]);
    await holder.query(
      `update license_addresses set resolved_at = now() - interval '1 second', resolution = 'stopped'
       where license_id = $1 and resolved_at is null`,
      [license.id],
    );
    await holder.query(`update plesk_licenses set multi_use = 'none', multi_use_since = null where id = $1`, [
      license.id,
    ]);
    // A check-in from both addresses meanwhile: its statement waits for the license.
    const report = reportRecorder(store.db)({
      id: license.id,
      accountId: account.id,
      addresses: ['10.0.0.1', '10.0.0.2'],
      source: 'check_in',
      at: new Date(),
    });
    await untilLockWaits(admin, 1, report);
    await holder.query('commit');

    const { outcome } = await report;
    t.equal(outcome?.multi_use, 'none', 'the report judged the license as the resolution left it');
    t.same(outcome?.open, ['10.0.0.2'], 'with the extra address open again (seen after the resolution)');
    // So the caller (license-service) detects multi-use again: none, with an open extra address.
  },
);

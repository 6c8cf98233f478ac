// R-LIC-4 / R-SEC-6: every name and alias of a spam-filter domain is held by one domain of one
// account (the database decides, concurrent requests included); destination hosts are public host
// names or public IP addresses.
import { sql } from 'drizzle-orm';
import t, { type Test } from 'tap';
import type { App } from '../../../src/app.js';
import { createPostgresStore, queryRows } from '../../../src/db/client.js';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres, postgresTestDatabase } from '../../helpers/db.js';
import { bearer, operator, reseller, type Reseller } from '../../helpers/fixtures.js';

const DEST = [{ host: 'mx.pekarna.test', port: 25 }];

const add = (app: App, r: Reseller, name: string, extra: Record<string, unknown> = {}) =>
  app.inject({
    method: 'POST',
    url: '/v1/spam-filter/domains',
    headers: bearer(r.token),
    payload: { name, destinations: DEST, products: ['incoming'], ...extra },
  });

const patch = (app: App, r: Reseller, name: string, payload: Record<string, unknown>) =>
  app.inject({ method: 'PATCH', url: `/v1/spam-filter/domains/${name}`, headers: bearer(r.token), payload });

async function setup(t: { teardown(fn: () => unknown): void }) {
  const { app } = await buildTestApp(t, { now: () => new Date('2027-02-01T00:00:00Z') });
  const op = await operator(app);
  const a = await reseller(app, op.token);
  const b = await reseller(app, op.token);
  return { app, op, a, b };
}

const taken = (t: Test, res: { statusCode: number; json(): any; body: string }, what: string) => {
  t.equal(res.statusCode, 409, `${what}: ${res.body}`);
  t.equal(res.json().code, 'spam_filter_domain_taken', what);
};

t.test(
  'R-LIC-4 / R-SEC-6: a name or alias another account holds is refused (409 spam_filter_domain_taken), as alias or as name, on create and on PATCH',
  async (t) => {
    const { app, a, b } = await setup(t);
    t.equal((await add(app, a, 'a-example.com', { aliases: ['a-alias.com'] })).statusCode, 201);

    // B takes A's name as an alias, A's alias as a name or an alias: refused.
    taken(t, await add(app, b, 'b-example.com', { aliases: ['a-example.com'] }), "A's name as B's alias");
    taken(t, await add(app, b, 'a-alias.com'), "A's alias as B's name");
    taken(t, await add(app, b, 'b-example.com', { aliases: ['A-Alias.com.'] }), "A's alias as B's alias");
    taken(t, await add(app, b, 'a-example.com'), "A's name as B's name (as before)");
    const refused = await add(app, b, 'b-example.com', { aliases: ['a-alias.com'] });
    t.notMatch(refused.body, a.accountId, 'the detail does not reveal the account holding it');
    t.notMatch(refused.body, 'a-example.com', 'nor the domain whose alias it is');

    // Nothing of B's was created by the refused requests.
    t.equal((await add(app, b, 'b-example.com')).statusCode, 201);
    taken(t, await patch(app, b, 'b-example.com', { aliases: ['a-example.com'] }), "A's name as an alias by PATCH");
    taken(t, await patch(app, b, 'b-example.com', { aliases: ['ok-b.com', 'a-alias.com'] }), "A's alias by PATCH");
    t.same(
      (
        await app.inject({ method: 'GET', url: '/v1/spam-filter/domains/b-example.com', headers: bearer(b.token) })
      ).json().aliases,
      [],
      'a refused PATCH changes nothing',
    );

    // B claims future-a.com as an alias first: A cannot add it as a domain, nor as an alias.
    t.equal((await patch(app, b, 'b-example.com', { aliases: ['future-a.com'] })).statusCode, 200);
    taken(t, await add(app, a, 'future-a.com'), "B's alias as A's name");
    taken(t, await patch(app, a, 'a-example.com', { aliases: ['a-alias.com', 'future-a.com'] }), "B's alias by PATCH");
    taken(t, await patch(app, a, 'a-example.com', { aliases: ['b-example.com'] }), "B's name by PATCH");

    // A domain's alias may not be its own name; re-sending its own aliases is fine.
    taken(t, await add(app, a, 'c-example.com', { aliases: ['c-example.com'] }), 'own name as alias (create)');
    taken(t, await patch(app, a, 'a-example.com', { aliases: ['a-example.com'] }), 'own name as alias (PATCH)');
    t.equal((await patch(app, a, 'a-example.com', { aliases: ['a-alias.com', 'a-more.com'] })).statusCode, 200);

    // Aliases dropped by PATCH, and a removed domain's name and aliases, are free again (each retry
    // altered: R-API-2 refuses an unaltered repeat of a failed command for a while).
    t.equal((await patch(app, b, 'b-example.com', { aliases: [] })).statusCode, 200);
    t.equal(
      (await add(app, a, 'future-a.com', { products: ['outgoing'] })).statusCode,
      201,
      'an alias dropped by PATCH is free',
    );
    t.equal(
      (await app.inject({ method: 'DELETE', url: '/v1/spam-filter/domains/a-example.com', headers: bearer(a.token) }))
        .statusCode,
      204,
    );
    t.equal(
      (await add(app, b, 'a-alias.com', { products: ['outgoing'] })).statusCode,
      201,
      "a removed domain's alias is free",
    );
    t.equal(
      (await add(app, b, 'a-example.com', { aliases: ['a-more.com'] })).statusCode,
      201,
      "a removed domain's name is free",
    );
  },
);

t.test(
  'R-LIC-4 / R-SEC-6: two accounts claiming the same name or alias at once: one wins (PostgreSQL)',
  { skip: !onPostgres && 'PostgreSQL only (set DATABASE_URL): PGlite is one connection' },
  async (t) => {
    const url = await postgresTestDatabase(t);
    const stores = [createPostgresStore(url, { max: 4 }), createPostgresStore(url, { max: 4 })];
    for (const s of stores) t.teardown(() => s.close());
    const now = () => new Date('2027-02-01T00:00:00Z');
    const [x, y] = [
      (await buildTestApp(t, { store: stores[0], now })).app,
      (await buildTestApp(t, { store: stores[1], now })).app,
    ];
    const op = await operator(x);
    const a = await reseller(x, op.token);
    const b = await reseller(x, op.token);
    t.equal((await add(x, a, 'a-example.com')).statusCode, 201);
    t.equal((await add(x, b, 'b-example.com')).statusCode, 201);
    for (let round = 0; round < 5; round++) {
      const contested = `race-${round}.com`;
      const results = await Promise.all([
        add(x, a, `a-${round}.com`, { aliases: [contested] }),
        add(y, b, contested),
        patch(x, a, 'a-example.com', { aliases: [contested] }),
        patch(y, b, 'b-example.com', { aliases: [contested] }),
      ]);
      const won = results.filter((r) => r.statusCode === 201 || r.statusCode === 200);
      t.equal(won.length, 1, `round ${round}: one wins (${results.map((r) => r.statusCode).join(', ')})`);
      t.ok(
        results.every((r) => r.statusCode < 300 || r.json().code === 'spam_filter_domain_taken'),
        'the others are refused as taken',
      );
      const holders = await queryRows<{ n: number }>(
        x.db,
        sql`SELECT count(*)::int AS n FROM spam_filter_domains WHERE name = ${contested} OR ${contested} = ANY(aliases)`,
      );
      t.equal(holders[0]!.n, 1, `round ${round}: one domain holds ${contested}`);
    }
  },
);

t.test('R-LIC-4: destination hosts are public host names or public IP addresses (422 otherwise)', async (t) => {
  const { app, a } = await setup(t);
  const bad = [
    'mx e.com;rm -rf /',
    '127.0.0.1',
    '10.0.0.1',
    '192.168.1.10',
    '169.254.169.254',
    '0.0.0.0',
    '::1',
    'fe80::1',
    '::ffff:10.0.0.1',
    'localhost',
    'mx..com',
    '-bad.com',
    'bad-.com',
    'mx.example.123',
    '10.1',
    'mx_1.example.com',
    'mx.example.com/x',
  ];
  for (const host of bad) {
    const res = await add(app, a, 'pekarna.test', {
      destinations: [
        { host: 'mx.pekarna.test', port: 25 },
        { host, port: 25 },
      ],
    });
    t.equal(res.statusCode, 422, `${host}: ${res.body}`);
    t.equal(res.json().code, 'validation_failed');
    t.match(res.json().errors, [{ pointer: '/body/destinations/1/host' }], `${host}: the field is named`);
  }
  const ok = await add(app, a, 'pekarna.test', {
    destinations: [
      { host: 'MX.Pekarna.com.', port: 25 },
      { host: '185.10.30.1', port: 2525 },
      { host: '2a00:1450:4001:800::1a', port: 25 },
      { host: 'mx.bücher.example', port: 25 },
    ],
  });
  t.equal(ok.statusCode, 201, ok.body);
  t.same(
    ok.json().destinations.map((d: any) => d.host),
    ['mx.pekarna.com', '185.10.30.1', '2a00:1450:4001:800::1a', 'mx.xn--bcher-kva.example'],
    'kept in canonical form',
  );

  for (const host of ['mx e.com;rm -rf /', '169.254.169.254', 'localhost']) {
    const res = await patch(app, a, 'pekarna.test', { destinations: [{ host, port: 25 }] });
    t.equal(res.statusCode, 422, `PATCH ${host}`);
    t.match(res.json().errors, [{ pointer: '/body/destinations/0/host' }]);
  }
  const changed = await patch(app, a, 'pekarna.test', { destinations: [{ host: 'mx2.pekarna.com', port: 25 }] });
  t.equal(changed.statusCode, 200);
  t.same(changed.json().destinations, [{ host: 'mx2.pekarna.com', port: 25 }]);
});

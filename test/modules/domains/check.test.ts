import t from 'tap';
import { eq } from 'drizzle-orm';
import { auditEvents, domainChecks, registryNames } from '../../../src/db/schema/index.js';
import { builtInRegistry, type RegistryBackend } from '../../../src/modules/domains/registry.js';
import { buildTestApp } from '../../helpers/app.js';
import { bearer, operator, reseller } from '../../helpers/fixtures.js';

// The built-in registry looks names up and stores the check rows in one statement; a registry
// outside our database (no takenInStatement) is asked first and the rows stored after. Same answers.
const remoteRegistry: RegistryBackend = {
  ...builtInRegistry,
  createInStatement: undefined,
  takenInStatement: undefined,
};
for (const [label, registry] of [
  ['the built-in registry', builtInRegistry],
  ['a registry outside our database', remoteRegistry],
] as const) {
  t.test(
    `R-DOM-2: each name is answered free, taken, reserved, premium or invalid, with quotes (${label})`,
    async (t) => {
      const { app, store } = await buildTestApp(t, { registry });
      const op = await operator(app);
      const r = await reseller(app, op.token);
      // A TLD with no price in the account's currency is not for sale to it, free or not; a name the
      // registry holds under it is still answered taken.
      const rules = {
        enabled: true,
        min_label_length: 1,
        max_label_length: 63,
        idn_scripts: [],
        min_period_years: 1,
        max_period_years: 5,
        auth_code_required: true,
        required_contacts: ['owner'],
        owner_countries: [],
        add_grace_days: 5,
        auto_renew_grace_days: 30,
        redemption_days: 30,
        pending_delete_days: 5,
        transfer_approval_days: 5,
      };
      t.equal(
        (await app.inject({ method: 'PUT', url: '/v1/admin/tlds/dev', headers: bearer(op.token), payload: rules }))
          .statusCode,
        200,
      );
      await app.inject({
        method: 'PUT',
        url: '/v1/admin/tlds/dev/lists',
        headers: bearer(op.token),
        payload: { prices: [{ operation: 'register', currency: 'USD', amount: 1599 }] },
      });
      await store.db.insert(registryNames).values({
        name: 'held-elsewhere.dev',
        sponsorAccountId: null,
        createdAt: new Date(),
        expiresAt: new Date(Date.now() + 86_400_000),
      });
      const res = await app.inject({
        method: 'POST',
        url: '/v1/domains/check',
        headers: bearer(r.token),
        payload: {
          names: [
            'my-bakery-2026.com',
            'example-taken.com',
            'nic.de',
            'cloud.com',
            '-bad-.com',
            'Bücher-Shop.de',
            'shop.zz',
            'пример.de',
            'unsold.dev',
            'held-elsewhere.dev',
          ],
        },
      });
      t.equal(res.statusCode, 200);
      const byInput = Object.fromEntries(res.json().results.map((x: { input: string }) => [x.input, x]));
      t.match(byInput['my-bakery-2026.com'], {
        status: 'free',
        name: 'my-bakery-2026.com',
        quote: { price: { amount: 1099, currency: 'EUR' }, per: 'year' },
      });
      t.match(byInput['example-taken.com'], { status: 'taken', quote: null });
      t.match(byInput['nic.de'], { status: 'reserved', reason: 'registry use', quote: null });
      t.match(byInput['cloud.com'], { status: 'premium', quote: { price: { amount: 250000, currency: 'EUR' } } });
      t.match(byInput['-bad-.com'], { status: 'invalid', reason: /hyphen/ });
      t.match(
        byInput['Bücher-Shop.de'],
        { status: 'free', name: 'xn--bcher-shop-9db.de', unicode: 'bücher-shop.de' },
        'IDN in an allowed script',
      );
      t.match(byInput['shop.zz'], { status: 'invalid', reason: '.zz is not offered' });
      t.match(byInput['пример.de'], { status: 'invalid', reason: /Latin/ });
      t.match(byInput['unsold.dev'], { status: 'invalid', reason: '.dev is not sold in EUR', quote: null });
      t.match(byInput['held-elsewhere.dev'], { status: 'taken', reason: 'registered', quote: null });
      const quoteExpires = Date.parse(byInput['my-bakery-2026.com'].quote.expires_at);
      t.ok(
        quoteExpires > Date.now() + 14 * 60_000 && quoteExpires <= Date.now() + 15 * 60_000,
        'quotes hold for 15 minutes',
      );

      const remembered = await store.db.select().from(domainChecks).where(eq(domainChecks.accountId, r.accountId));
      t.same(
        remembered.map((c) => `${c.name}:${c.result}`).sort(),
        [
          'cloud.com:premium',
          'example-taken.com:taken',
          'held-elsewhere.dev:taken',
          'my-bakery-2026.com:free',
          'nic.de:reserved',
          'xn--bcher-shop-9db.de:free',
        ],
        'every answer but invalid is remembered',
      );
    },
  );

  t.test(`R-DOM-2: concurrent checks share statements and each gets its own answers (${label})`, async (t) => {
    const { app, store } = await buildTestApp(t, { registry });
    const op = await operator(app);
    const [a, b] = [await reseller(app, op.token), await reseller(app, op.token)];
    const names = Array.from({ length: 12 }, (_, i) => `batch-${i}.com`);
    // Even names are held at the registry; each account checks every name, one call per name.
    await store.db.insert(registryNames).values(
      names
        .filter((_, i) => i % 2 === 0)
        .map((name) => ({
          name,
          sponsorAccountId: null,
          createdAt: new Date(),
          expiresAt: new Date(Date.now() + 86_400_000),
        })),
    );
    const calls = [a, b].flatMap((r) =>
      names.map((name) =>
        app.inject({ method: 'POST', url: '/v1/domains/check', headers: bearer(r.token), payload: { names: [name] } }),
      ),
    );
    const answers = (await Promise.all(calls)).map((res) => res.json().results[0]);
    t.same(
      answers.map((x) => `${x.name}:${x.status}`),
      [...names, ...names].map((n) => `${n}:${Number(n.match(/\d+/)![0]) % 2 === 0 ? 'taken' : 'free'}`),
    );
    for (const r of [a, b]) {
      const rows = await store.db.select().from(domainChecks).where(eq(domainChecks.accountId, r.accountId));
      t.equal(rows.length, names.length, 'one row per name for each account');
      t.ok(rows.every((c) => c.result === (Number(c.name.match(/\d+/)![0]) % 2 === 0 ? 'taken' : 'free')));
    }
  });
}

t.test('R-DOM-4: the same account may check the same name once per 5 s', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  const b = await reseller(app, op.token);
  const check = (token: string, names: string[]) =>
    app.inject({ method: 'POST', url: '/v1/domains/check', headers: bearer(token), payload: { names } });
  t.equal((await check(a.token, ['drop-me.com'])).statusCode, 200);
  const again = await check(a.token, ['other-name.com', 'DROP-ME.com']);
  t.equal(again.statusCode, 429);
  t.equal(again.json().code, 'rate_limited');
  t.equal(again.json().name, 'drop-me.com');
  t.ok(Number(again.headers['retry-after']) >= 4 && Number(again.headers['retry-after']) <= 5);
  t.equal((await check(b.token, ['drop-me.com'])).statusCode, 200, 'another account is not throttled by the first');
  const repeat = await check(a.token, ['other-name.com', 'DROP-ME.com']);
  t.equal(repeat.json().code, 'rate_limited', 'not refused as a repeated failure: checks are exempt from R-API-2');
});

t.test('R-DOM-4: many names at a high rate is a drop-catch incident', async (t) => {
  const { app } = await buildTestApp(t, { env: { DROP_CATCH_NAMES_PER_MINUTE: '60' } });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  for (let batch = 0; batch < 3; batch++) {
    const names = Array.from({ length: 25 }, (_, i) => `sweep-${batch}-${i}.com`);
    t.equal(
      (await app.inject({ method: 'POST', url: '/v1/domains/check', headers: bearer(r.token), payload: { names } }))
        .statusCode,
      200,
    );
  }
  const incidents = (
    await app.inject({ method: 'GET', url: '/v1/fair-use/incidents', headers: bearer(r.token) })
  ).json().data;
  t.match(incidents, [{ type: 'drop_catch_pattern', evidence: { names_in_minute: 75 } }]);
});

t.test('checks cost less than orders', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const costs = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json().costs;
  const cost = (id: string) => costs.find((c: { operation_id: string }) => c.operation_id === id)?.cost;
  t.ok(
    cost('checkDomains') < cost('registerDomain'),
    `check ${cost('checkDomains')} < register ${cost('registerDomain')}`,
  );
});

t.test('R-SEC-7: a check changes nothing of the account’s and leaves no audit row; a registration does', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  await app.inject({
    method: 'POST',
    url: '/v1/domains/check',
    headers: bearer(r.token),
    payload: { names: ['quiet-check.com'] },
  });
  const domainRows = async () =>
    (await store.db.select().from(auditEvents).where(eq(auditEvents.accountId, r.accountId))).filter((x) =>
      ['checkDomains', 'registerDomain'].includes(x.operation),
    );
  t.same(await domainRows(), [], 'no audit row for the check');
  t.equal(
    (await store.db.select().from(domainChecks).where(eq(domainChecks.accountId, r.accountId))).length,
    1,
    'the check itself is recorded for R-DOM-2',
  );
  await app.inject({
    method: 'POST',
    url: '/v1/domains',
    headers: bearer(r.token),
    payload: { name: 'quiet-check.com', contacts: { owner: 'RA-AAAAAAAAAA' }, nameservers: [] },
  });
  t.same(
    (await domainRows()).map((x) => [x.operation, x.result]),
    [['registerDomain', 'failure']],
    'the (failed) registration attempt is audited',
  );
});

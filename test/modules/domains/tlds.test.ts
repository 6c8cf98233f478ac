import t from 'tap';
import { parseDomainName } from '../../../src/lib/domain-name.js';
import { buildTestApp } from '../../helpers/app.js';
import { bearer, operator, reseller } from '../../helpers/fixtures.js';

t.test('R-DOM-5: the catalogue holds the seeded TLDs with their rules, prices in the account currency', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token, { currency: 'RUB' });
  const res = await app.inject({ method: 'GET', url: '/v1/tlds', headers: bearer(r.token) });
  t.equal(res.statusCode, 200);
  const byTld = Object.fromEntries(res.json().data.map((x: { tld: string }) => [x.tld, x]));
  t.same(Object.keys(byTld).sort(), ['com', 'de', 'eu', 'io', 'net', 'nl', 'org', 'ru', 'uk']);
  t.ok(
    byTld.eu.contacts.owner_countries.includes('FR') && !byTld.eu.contacts.owner_countries.includes('US'),
    '.eu owners in the EU/EEA',
  );
  t.same(byTld.de.label.idn_scripts, ['Latin']);
  t.same(byTld.io.label.idn_scripts, [], '.io takes no IDN');
  t.equal(byTld.uk.transfer.auth_code_required, false, '.uk transfers use tags, not auth codes');
  t.same(byTld.de.periods, { min_years: 1, max_years: 1 });
  t.ok(
    byTld.com.prices.every((p: { price: { currency: string } }) => p.price.currency === 'RUB'),
    'prices in the account currency only',
  );
  t.match(
    byTld.com.prices.find((p: { operation: string }) => p.operation === 'register'),
    { price: { amount: 109900, currency: 'RUB' }, per: 'year' },
  );
  t.ok(byTld.com.reserved_names.includes('nic'));
  t.match(byTld.io.premium_names, [{ label: 'ai', register: { currency: 'RUB' } }]);
});

t.test('R-DOM-5: a client can validate names against the published rules', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const de = (await app.inject({ method: 'GET', url: '/v1/tlds/de', headers: bearer(r.token) })).json();
  const rules = { minLength: de.label.min_length, maxLength: de.label.max_length, idnScripts: de.label.idn_scripts };
  t.ok(parseDomainName('müller.de', 'de', rules).ok);
  t.notOk(parseDomainName('мюллер.de', 'de', rules).ok);
  t.match('xn--mller-kva', new RegExp(de.label.pattern), 'the published pattern matches A-labels');
  t.equal((await app.inject({ method: 'GET', url: '/v1/tlds/zz', headers: bearer(r.token) })).statusCode, 404);
});

t.test('R-DOM-5: operators edit rules and lists; resellers see the change', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const rules = {
    enabled: true,
    min_label_length: 3,
    max_label_length: 63,
    idn_scripts: [],
    min_period_years: 1,
    max_period_years: 5,
    auth_code_required: true,
    required_contacts: ['owner', 'tech'],
    owner_countries: [],
    add_grace_days: 5,
    auto_renew_grace_days: 30,
    redemption_days: 30,
    pending_delete_days: 5,
    transfer_approval_days: 5,
  };
  const created = await app.inject({
    method: 'PUT',
    url: '/v1/admin/tlds/dev',
    headers: bearer(op.token),
    payload: rules,
  });
  t.equal(created.statusCode, 200);
  t.same(created.json().prices, []);
  const bad = await app.inject({
    method: 'PUT',
    url: '/v1/admin/tlds/dev',
    headers: bearer(op.token),
    payload: { ...rules, min_period_years: 6, required_contacts: ['tech'] },
  });
  t.equal(bad.statusCode, 422);
  t.same(
    bad.json().errors.map((e: { pointer: string }) => e.pointer),
    ['/body/min_period_years', '/body/required_contacts'],
  );
  const lists = await app.inject({
    method: 'PUT',
    url: '/v1/admin/tlds/dev/lists',
    headers: bearer(op.token),
    payload: {
      prices: [
        { operation: 'register', currency: 'EUR', amount: 1499 },
        { operation: 'register', currency: 'USD', amount: 1599 },
      ],
      reserved_names: [{ label: 'google', reason: 'brand' }],
    },
  });
  t.equal(lists.statusCode, 200);
  const seen = (await app.inject({ method: 'GET', url: '/v1/tlds/dev', headers: bearer(r.token) })).json();
  t.same(seen.prices, [{ operation: 'register', price: { amount: 1499, currency: 'EUR' }, per: 'year' }]);
  t.same(seen.reserved_names, ['google']);
  t.equal(
    (await app.inject({ method: 'PUT', url: '/v1/admin/tlds/dev', headers: bearer(r.token), payload: rules }))
      .statusCode,
    403,
    'resellers do not edit the catalogue',
  );
  await app.inject({
    method: 'PUT',
    url: '/v1/admin/tlds/dev',
    headers: bearer(op.token),
    payload: { ...rules, enabled: false },
  });
  const listed = (await app.inject({ method: 'GET', url: '/v1/tlds', headers: bearer(r.token) }))
    .json()
    .data.map((x: { tld: string }) => x.tld);
  t.notOk(listed.includes('dev'), 'a disabled TLD is not offered');
});

import t from 'tap';
import { eq } from 'drizzle-orm';
import { domainChecks, domains, ledgerTransactions, registryNames } from '../../../src/db/schema/index.js';
import { builtInRegistry, type RegistryBackend } from '../../../src/modules/domains/registry.js';
import type { App } from '../../../src/app.js';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres, testStore } from '../../helpers/db.js';
import { credit, CUSTOMER } from '../../helpers/domains.js';
import { bearer, operator, reseller, type Reseller } from '../../helpers/fixtures.js';

async function setup(app: App, funds = 100_000) {
  const op = await operator(app);
  const r = await reseller(app, op.token);
  if (funds)
    await app.inject({
      method: 'POST',
      url: `/v1/admin/accounts/${r.accountId}/credit`,
      headers: bearer(op.token),
      payload: { amount: { amount: funds, currency: 'EUR' }, reason: 'funds' },
    });
  const contact = (
    await app.inject({ method: 'POST', url: '/v1/contacts', headers: bearer(r.token), payload: CUSTOMER })
  ).json().handle as string;
  return { op, r, contact };
}

const check = (app: App, r: Reseller, ...names: string[]) =>
  app.inject({ method: 'POST', url: '/v1/domains/check', headers: bearer(r.token), payload: { names } });
const register = (app: App, r: Reseller, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/domains', headers: { ...bearer(r.token), ...headers }, payload: body });
const balance = async (app: App, r: Reseller) =>
  (await app.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(r.token) })).json().balance
    .amount as number;

t.test(
  'R-DOM-2: registration needs a prior check by the same account; then it is registered and charged',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const { op, r, contact } = await setup(app);
    const body = {
      name: 'pekarna-novakova.com',
      period_years: 2,
      contacts: { owner: contact, admin: contact, tech: contact },
      nameservers: ['ns1.hosting.test', 'ns2.hosting.test'],
    };

    const unchecked = await register(app, r, body);
    t.equal(unchecked.statusCode, 409);
    t.equal(unchecked.json().code, 'availability_check_required');

    const other = await reseller(app, op.token);
    await check(app, other, 'pekarna-novakova.com');
    t.equal(
      (await register(app, r, { ...body, name: 'pekarna-novakova.com' }, {})).json().code,
      'repeated_failed_command',
      'the identical command is refused by R-API-2',
    );
    const altered = await register(app, r, { ...body, autorenew: true });
    t.equal(altered.json().code, 'availability_check_required', "another account's check does not count");

    await check(app, r, 'pekarna-novakova.com');
    const ok = await register(app, r, { ...body, autorenew: false });
    t.equal(ok.statusCode, 201);
    const d = ok.json().domain;
    t.match(d, {
      name: 'pekarna-novakova.com',
      status: 'active',
      autorenew: false,
      locked: true,
      contacts: { owner: contact, admin: contact, tech: contact, billing: null },
    });
    const years = (Date.parse(d.expires_at) - Date.parse(d.registered_at)) / (365.25 * 86_400_000);
    t.ok(years > 1.99 && years < 2.01, 'two years');
    t.same(ok.json().charged, { amount: 2198, currency: 'EUR' }, 'two years at 10.99');
    t.equal(await balance(app, r), 100_000 - 2198);
    const [tx] = await store.db
      .select()
      .from(ledgerTransactions)
      .where(eq(ledgerTransactions.reference, 'domain:pekarna-novakova.com'));
    t.match(tx, { type: 'charge', amount: 2198 });
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/domains/pekarna-novakova.com', headers: bearer(r.token) }))
        .statusCode,
      200,
    );
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/domains/pekarna-novakova.com', headers: bearer(other.token) }))
        .statusCode,
      404,
      'R-SEC-6',
    );

    const third = await reseller(app, op.token);
    t.equal(
      (await check(app, third, 'pekarna-novakova.com')).json().results[0].status,
      'taken',
      'the name is taken now',
    );
  },
);

t.test('R-API-2: a repeated failed registration is refused with the ledger untouched', async (t) => {
  const { app, store } = await buildTestApp(t);
  const { r, contact } = await setup(app);
  await check(app, r, 'too-long-period.de');
  const body = {
    name: 'too-long-period.de',
    period_years: 5,
    contacts: { owner: contact, tech: contact },
    nameservers: [],
  };
  const first = await register(app, r, body);
  t.equal(first.statusCode, 422);
  t.match(first.json().errors, [{ pointer: '/body/period_years', code: 'period_not_allowed' }]);
  const repeat = await register(app, r, body);
  t.equal(repeat.json().code, 'repeated_failed_command');
  const rows = await store.db.select().from(ledgerTransactions).where(eq(ledgerTransactions.accountId, r.accountId));
  t.same(
    rows.map((x) => x.type),
    ['credit'],
    'no charge was made',
  );
  t.equal((await register(app, r, { ...body, period_years: 1 })).statusCode, 201, 'the altered command runs');
});

t.test('R-DOM-5: premium names need acceptance; max_price and quotes are honoured', async (t) => {
  const { app } = await buildTestApp(t, { env: {} });
  const { op, r, contact } = await setup(app, 1_000_000);
  const quote = (await check(app, r, 'cloud.com')).json().results[0].quote;
  const body = { name: 'cloud.com', contacts: { owner: contact, admin: contact, tech: contact }, nameservers: [] };
  const unaccepted = await register(app, r, body);
  t.equal(unaccepted.json().code, 'premium_not_accepted');
  t.same(unaccepted.json().price, { amount: 250_000, currency: 'EUR' });
  const tooDear = await register(app, r, {
    ...body,
    accept_premium: true,
    max_price: { amount: 200_000, currency: 'EUR' },
  });
  t.equal(tooDear.json().code, 'price_changed');

  // The operator raises the premium price; the quote from the check still holds.
  await app.inject({
    method: 'PUT',
    url: '/v1/admin/tlds/com/lists',
    headers: bearer(op.token),
    payload: { premium_names: [{ label: 'cloud', currency: 'EUR', register_amount: 400_000, renew_amount: 40_000 }] },
  });
  const ok = await register(app, r, { ...body, accept_premium: true, quote_id: quote.id });
  t.equal(ok.statusCode, 201);
  t.same(ok.json().charged, { amount: 250_000, currency: 'EUR' }, 'charged at the quoted price');
  t.equal(ok.json().domain.premium, true);
});

t.test(
  'R-DOM-1: contacts must exist, cover the TLD roles and meet its owner rule; own data is warned about',
  async (t) => {
    const { app } = await buildTestApp(t);
    const { r, contact } = await setup(app);
    await check(app, r, 'eu-shop.eu', 'plain-shop.com');
    const missing = await register(app, r, {
      name: 'plain-shop.com',
      contacts: { owner: contact },
      nameservers: ['ns1.a.test'],
    });
    t.same(
      missing
        .json()
        .errors.map((e: { pointer: string; code: string }) => `${e.pointer} ${e.code}`)
        .sort(),
      ['/body/contacts/admin required', '/body/contacts/tech required', '/body/nameservers invalid_count'],
    );
    const usOwner = (
      await app.inject({
        method: 'POST',
        url: '/v1/contacts',
        headers: bearer(r.token),
        payload: { ...CUSTOMER, country: 'US' },
      })
    ).json().handle;
    const eu = await register(app, r, {
      name: 'eu-shop.eu',
      contacts: { owner: usOwner, tech: contact },
      nameservers: [],
    });
    t.match(eu.json().errors, [{ pointer: '/body/contacts/owner', code: 'contact_not_eligible' }]);
    const own = (
      await app.inject({
        method: 'POST',
        url: '/v1/contacts',
        headers: bearer(r.token),
        payload: { ...CUSTOMER, email: r.contactEmail },
      })
    ).json().handle;
    const warned = await register(app, r, {
      name: 'eu-shop.eu',
      contacts: { owner: own, tech: contact },
      nameservers: [],
    });
    t.equal(warned.statusCode, 201);
    t.match(warned.json().warnings, [{ code: 'reseller_data_as_contact' }]);

    // The owner moving out of the EU afterwards would break the rule the registration met.
    const moved = await app.inject({
      method: 'PATCH',
      url: `/v1/contacts/${own}`,
      headers: bearer(r.token),
      payload: { country: 'US' },
    });
    t.equal(moved.statusCode, 422, 'R-DOM-1: a contact edit keeps its domains within their TLD rules');
    t.match(moved.json().errors, [{ pointer: '/body/country', code: 'contact_not_eligible', message: /eu-shop\.eu/ }]);
    const view = await app.inject({ method: 'GET', url: `/v1/contacts/${own}`, headers: bearer(r.token) });
    t.equal(view.json().country, 'CZ', 'nothing changed');
    const within = await app.inject({
      method: 'PATCH',
      url: `/v1/contacts/${own}`,
      headers: bearer(r.token),
      payload: { country: 'FR' },
    });
    t.equal(within.statusCode, 200, 'another EU country is fine');
  },
);

t.test('registration is idempotent with Idempotency-Key and fails cleanly without funds', async (t) => {
  const { app, store } = await buildTestApp(t);
  const { r, contact } = await setup(app, 1500);
  await check(app, r, 'once-only.com', 'too-dear.io');
  const body = { name: 'once-only.com', contacts: { owner: contact, admin: contact, tech: contact }, nameservers: [] };
  const first = await register(app, r, body, { 'idempotency-key': 'reg-1' });
  const again = await register(app, r, body, { 'idempotency-key': 'reg-1' });
  t.equal(first.statusCode, 201);
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.equal(again.json().domain.id, first.json().domain.id);
  t.equal((await store.db.select().from(domains).where(eq(domains.accountId, r.accountId))).length, 1);
  t.equal(await balance(app, r), 1500 - 1099, 'charged once');

  const poor = await register(app, r, {
    name: 'too-dear.io',
    contacts: { owner: contact, admin: contact, tech: contact },
    nameservers: [],
  });
  t.equal(poor.statusCode, 402);
  t.equal(poor.json().code, 'insufficient_funds');
  t.match(poor.json(), { available: { amount: 1500 - 1099, currency: 'EUR' }, required: { currency: 'EUR' } });
  t.ok(poor.json().required.amount > 1500 - 1099, 'required: the price of the registration');
  t.equal((await check(app, r, 'too-dear.io')).statusCode, 429, '(the drop-catch throttle applies to the re-check)');
  t.equal(
    (await store.db.select().from(domains).where(eq(domains.name, 'too-dear.io'))).length,
    0,
    'no domain without payment',
  );
  t.equal(
    (await store.db.select().from(registryNames).where(eq(registryNames.name, 'too-dear.io'))).length,
    0,
    'and no registry entry: the refused charge undid the create',
  );
  t.equal(await balance(app, r), 1500 - 1099, 'the balance is untouched');
});

// A registry outside our database (an EPP backend) has no createInStatement (nor takenInStatement: checks look names up, then store their rows): the registration calls
// create() and writes the domain and the charge in one transaction. The built-in registry without
// its same-database statement stands in for one here.
const remoteRegistry: RegistryBackend = {
  ...builtInRegistry,
  createInStatement: undefined,
  takenInStatement: undefined,
};

t.test(
  'R-DOM-2: a registry outside our database registers in a transaction, and a refused charge leaves nothing',
  async (t) => {
    const { app, store } = await buildTestApp(t, { registry: remoteRegistry });
    const { r, contact } = await setup(app, 1500);
    await check(app, r, 'via-epp.com', 'via-epp-dear.io');
    const ok = await register(app, r, {
      name: 'via-epp.com',
      contacts: { owner: contact, admin: contact, tech: contact },
      nameservers: [],
    });
    t.equal(ok.statusCode, 201);
    const [row] = await store.db.select().from(domains).where(eq(domains.name, 'via-epp.com'));
    t.match(row, { id: ok.json().domain.id, accountId: r.accountId, status: 'active', locked: true });
    t.equal((await store.db.select().from(registryNames).where(eq(registryNames.name, 'via-epp.com'))).length, 1);
    t.equal(await balance(app, r), 1500 - 1099);

    const poor = await register(app, r, {
      name: 'via-epp-dear.io',
      contacts: { owner: contact, admin: contact, tech: contact },
      nameservers: [],
    });
    t.equal(poor.statusCode, 402);
    t.equal(poor.json().code, 'insufficient_funds');
    t.match(poor.json(), { available: { amount: 1500 - 1099, currency: 'EUR' }, required: { currency: 'EUR' } });
    t.equal((await store.db.select().from(domains).where(eq(domains.name, 'via-epp-dear.io'))).length, 0, 'no domain');
    t.equal(
      (await store.db.select().from(registryNames).where(eq(registryNames.name, 'via-epp-dear.io'))).length,
      0,
      'the registry create was rolled back with it',
    );
    t.equal(await balance(app, r), 1500 - 1099, 'the balance is untouched');
  },
);

t.test('registration: what the API answers is the stored row', async (t) => {
  const { app } = await buildTestApp(t);
  const { r, contact } = await setup(app);
  await check(app, r, 'stored-as-shown.com');
  const res = await register(app, r, {
    name: 'stored-as-shown.com',
    contacts: { owner: contact, admin: contact, tech: contact },
    nameservers: ['ns1.hosting.test', 'ns2.hosting.test'],
    autorenew: false,
  });
  t.equal(res.statusCode, 201);
  const read = await app.inject({ method: 'GET', url: '/v1/domains/stored-as-shown.com', headers: bearer(r.token) });
  t.same(res.json().domain, read.json(), 'the registration answer and a later read agree field by field');
});

for (const [label, registry] of [
  ['one statement', builtInRegistry],
  ['a transaction', remoteRegistry],
] as const) {
  t.test(
    `R-DOM-2: of two concurrent registrations of one name exactly one succeeds (registry write in ${label})`,
    { skip: !onPostgres && 'needs PostgreSQL' },
    async (t) => {
      const store = await testStore(t, { poolMax: 20 });
      const { app } = await buildTestApp(t, { store, registry });
      const op = await operator(app);
      const accounts = [];
      for (let i = 0; i < 5; i++) {
        const r = await reseller(app, op.token);
        await credit(app, op.token, r.accountId, 10_000);
        const contact = (
          await app.inject({ method: 'POST', url: '/v1/contacts', headers: bearer(r.token), payload: CUSTOMER })
        ).json().handle;
        await check(app, r, 'contested.com');
        accounts.push({ r, contact });
      }
      const results = await Promise.all(
        accounts.map(({ r, contact }) =>
          register(app, r, {
            name: 'contested.com',
            contacts: { owner: contact, admin: contact, tech: contact },
            nameservers: [],
          }),
        ),
      );
      const codes = results.map((x) => x.statusCode).sort();
      t.same(codes, [201, 409, 409, 409, 409]);
      t.ok(results.filter((x) => x.statusCode === 409).every((x) => x.json().code === 'domain_not_available'));
      const charges = await store.db
        .select()
        .from(ledgerTransactions)
        .where(eq(ledgerTransactions.reference, 'domain:contested.com'));
      t.equal(charges.length, 1, 'only the winner was charged');
    },
  );
}

t.test('R-DOM-1: a contact handle in use by a domain cannot be deleted', async (t) => {
  const { app } = await buildTestApp(t);
  const { r, contact } = await setup(app);
  await check(app, r, 'keeps-its-owner.com');
  t.equal(
    (
      await register(app, r, {
        name: 'keeps-its-owner.com',
        contacts: { owner: contact, admin: contact, tech: contact },
        nameservers: [],
      })
    ).statusCode,
    201,
  );
  const refused = await app.inject({ method: 'DELETE', url: `/v1/contacts/${contact}`, headers: bearer(r.token) });
  t.equal(refused.statusCode, 409);
  t.equal(refused.json().code, 'contact_in_use');
  t.match(refused.json().detail, 'keeps-its-owner.com');
  t.equal(
    (await app.inject({ method: 'GET', url: `/v1/contacts/${contact}`, headers: bearer(r.token) })).statusCode,
    200,
    'still there',
  );
  const spare = (
    await app.inject({ method: 'POST', url: '/v1/contacts', headers: bearer(r.token), payload: CUSTOMER })
  ).json().handle;
  t.equal(
    (await app.inject({ method: 'DELETE', url: `/v1/contacts/${spare}`, headers: bearer(r.token) })).statusCode,
    204,
    'an unused handle goes',
  );
});

t.test(
  'R-DOM-2: checks past the window are swept; a registration then needs a new check, and an expired quote is refused',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const { r, contact } = await setup(app);
    const quote = (await check(app, r, 'swept-away.com')).json().results[0].quote;
    t.match(quote.id, /^rq_/);
    t.equal(await app.jobs.run('sweep-domain-checks', new Date()), 0, 'nothing past the window yet');
    t.equal(
      await app.jobs.run('sweep-domain-checks', new Date(Date.now() + 3_601_000)),
      1,
      'the check is gone after the hour',
    );
    t.equal((await store.db.select().from(domainChecks)).length, 0);
    const body = {
      name: 'swept-away.com',
      contacts: { owner: contact, admin: contact, tech: contact },
      nameservers: [],
      quote_id: quote.id,
    };
    t.equal((await register(app, r, body)).json().code, 'availability_check_required');

    await check(app, r, 'quoted-then-late.com');
    const forged = await register(app, r, {
      ...body,
      name: 'quoted-then-late.com',
      quote_id: quote.id.slice(0, -4) + 'AAAA',
    });
    t.equal(forged.json().code, 'quote_expired', 'an altered quote is not honoured');
    // The id is readable (base64url JSON) but signed: a lower price written into it is refused too.
    const [body64, tag] = quote.id.slice(3).split('.');
    const payload = JSON.parse(Buffer.from(body64, 'base64url').toString('utf8'));
    t.equal(payload[4], 1099, 'the id carries the quoted price');
    payload[1] = 'quoted-then-late.com';
    payload[4] = 1;
    const cheap = await register(app, r, {
      ...body,
      name: 'quoted-then-late.com',
      quote_id: `rq_${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${tag}`,
    });
    t.equal(cheap.json().code, 'quote_expired', 'a quote rewritten with a lower price is not honoured');
    const other = await register(app, r, { ...body, name: 'quoted-then-late.com', period_years: 2 });
    t.equal(other.json().code, 'quote_expired', 'a quote for another name is not honoured');
    t.match(other.json().detail, /for swept-away\.com/);
  },
);

t.test('R-DOM-5: a quote is a ceiling: when the price falls after the check, the lower price is charged', async (t) => {
  const { app } = await buildTestApp(t);
  const { op, r, contact } = await setup(app);
  const quote = (await check(app, r, 'cheaper-later.com')).json().results[0].quote;
  t.same(quote.price, { amount: 1099, currency: 'EUR' });
  const prices = ['register', 'renew', 'transfer'].map((operation) => ({ operation, currency: 'EUR', amount: 899 }));
  t.equal(
    (
      await app.inject({
        method: 'PUT',
        url: '/v1/admin/tlds/com/lists',
        headers: bearer(op.token),
        payload: { prices },
      })
    ).statusCode,
    200,
  );
  const ok = await register(app, r, {
    name: 'cheaper-later.com',
    contacts: { owner: contact, admin: contact, tech: contact },
    nameservers: [],
    quote_id: quote.id,
  });
  t.equal(ok.statusCode, 201);
  t.same(ok.json().charged, { amount: 899, currency: 'EUR' });
});

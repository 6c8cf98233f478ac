import t from 'tap';
import { eq } from 'drizzle-orm';
import { auditEvents, domainChecks } from '../../../src/db/schema/index.js';
import { buildTestApp } from '../../helpers/app.js';
import { bearer, operator, reseller } from '../../helpers/fixtures.js';

t.test('R-DOM-2: each name is answered free, taken, reserved, premium or invalid, with quotes', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/domains/check',
    headers: bearer(r.token),
    payload: { names: ['my-bakery-2026.com', 'example-taken.com', 'nic.de', 'cloud.com', '-bad-.com', 'Bücher-Shop.de', 'shop.zz', 'пример.de'] },
  });
  t.equal(res.statusCode, 200);
  const byInput = Object.fromEntries(res.json().results.map((x: { input: string }) => [x.input, x]));
  t.match(byInput['my-bakery-2026.com'], { status: 'free', name: 'my-bakery-2026.com', quote: { price: { amount: 1099, currency: 'EUR' }, per: 'year' } });
  t.match(byInput['example-taken.com'], { status: 'taken', quote: null });
  t.match(byInput['nic.de'], { status: 'reserved', reason: 'registry use', quote: null });
  t.match(byInput['cloud.com'], { status: 'premium', quote: { price: { amount: 250000, currency: 'EUR' } } });
  t.match(byInput['-bad-.com'], { status: 'invalid', reason: /hyphen/ });
  t.match(byInput['Bücher-Shop.de'], { status: 'free', name: 'xn--bcher-shop-9db.de', unicode: 'bücher-shop.de' }, 'IDN in an allowed script');
  t.match(byInput['shop.zz'], { status: 'invalid', reason: '.zz is not offered' });
  t.match(byInput['пример.de'], { status: 'invalid', reason: /Latin/ });
  const quoteExpires = Date.parse(byInput['my-bakery-2026.com'].quote.expires_at);
  t.ok(quoteExpires > Date.now() + 14 * 60_000 && quoteExpires <= Date.now() + 15 * 60_000, 'quotes hold for 15 minutes');

  const remembered = await store.db.select().from(domainChecks).where(eq(domainChecks.accountId, r.accountId));
  t.same(remembered.map((c) => `${c.name}:${c.result}`).sort(), ['cloud.com:premium', 'example-taken.com:taken', 'my-bakery-2026.com:free', 'nic.de:reserved', 'xn--bcher-shop-9db.de:free']);
});

t.test('R-DOM-4: the same account may check the same name once per 5 s', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  const b = await reseller(app, op.token);
  const check = (token: string, names: string[]) => app.inject({ method: 'POST', url: '/v1/domains/check', headers: bearer(token), payload: { names } });
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
    t.equal((await app.inject({ method: 'POST', url: '/v1/domains/check', headers: bearer(r.token), payload: { names } })).statusCode, 200);
  }
  const incidents = (await app.inject({ method: 'GET', url: '/v1/fair-use/incidents', headers: bearer(r.token) })).json().data;
  t.match(incidents, [{ type: 'drop_catch_pattern', evidence: { names_in_minute: 75 } }]);
});

t.test('checks cost less than orders', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const costs = (await app.inject({ method: 'GET', url: '/v1/fair-use', headers: bearer(r.token) })).json().costs;
  const cost = (id: string) => costs.find((c: { operation_id: string }) => c.operation_id === id)?.cost;
  t.ok(cost('checkDomains') < cost('registerDomain'), `check ${cost('checkDomains')} < register ${cost('registerDomain')}`);
});

t.test('R-SEC-7: a check changes nothing of the account’s and leaves no audit row; a registration does', async (t) => {
  const { app, store } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  await app.inject({ method: 'POST', url: '/v1/domains/check', headers: bearer(r.token), payload: { names: ['quiet-check.com'] } });
  const domainRows = async () =>
    (await store.db.select().from(auditEvents).where(eq(auditEvents.accountId, r.accountId))).filter((x) => ['checkDomains', 'registerDomain'].includes(x.operation));
  t.same(await domainRows(), [], 'no audit row for the check');
  t.equal((await store.db.select().from(domainChecks).where(eq(domainChecks.accountId, r.accountId))).length, 1, 'the check itself is recorded for R-DOM-2');
  await app.inject({ method: 'POST', url: '/v1/domains', headers: bearer(r.token), payload: { name: 'quiet-check.com', contacts: { owner: 'RA-AAAAAAAAAA' }, nameservers: [] } });
  t.same((await domainRows()).map((x) => [x.operation, x.result]), [['registerDomain', 'failure']], 'the (failed) registration attempt is audited');
});

import t from 'tap';
import { eq, sql } from 'drizzle-orm';
import { auditEvents, domains, ledgerTransactions, registryNames } from '../../../src/db/schema/index.js';
import { builtInRegistry } from '../../../src/modules/domains/registry.js';
import { buildTestApp } from '../../helpers/app.js';
import { balanceOf, checkNames, credit, domainSetup, fundedReseller, registered } from '../../helpers/domains.js';
import { addUser, bearer, loginAs } from '../../helpers/fixtures.js';

const YEAR_MS = 365 * 86_400_000;

t.test(
  'R-DOM-5: a renewal extends from the current expiry, is charged, and stays within the TLD maximum',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const { r } = await domainSetup(app);
    const d = await registered(app, r, 'renew-me.com');
    const before = await balanceOf(app, r);
    const post = (body: Record<string, unknown>) =>
      app.inject({ method: 'POST', url: '/v1/domains/renew-me.com/renew', headers: bearer(r.token), payload: body });

    const ok = await post({ period_years: 2, current_expires_at: d.expires_at });
    t.equal(ok.statusCode, 200);
    const expected = new Date(d.expires_at);
    expected.setUTCFullYear(expected.getUTCFullYear() + 2);
    t.equal(ok.json().domain.expires_at, expected.toISOString(), 'two years added to the old expiry, not to today');
    t.same(ok.json().charged, { amount: 2198, currency: 'EUR' });
    t.equal(await balanceOf(app, r), before - 2198);
    t.equal(
      Date.parse(ok.json().domain.grace_ends_at) - expected.getTime(),
      45 * 86_400_000,
      'the lifecycle dates follow the new expiry (.com: 45 days of grace)',
    );
    const [reg] = await store.db.select().from(registryNames).where(eq(registryNames.name, 'renew-me.com'));
    t.equal(reg!.expiresAt.toISOString(), expected.toISOString(), 'the registry agrees');

    const stale = await post({ period_years: 1, current_expires_at: d.expires_at });
    t.equal(stale.statusCode, 409);
    t.equal(stale.json().code, 'expiry_mismatch', 'a retry of the first renewal is not applied twice');

    const tooFar = await post({ period_years: 8 });
    t.equal(tooFar.statusCode, 422, '3 + 8 years is past the 10-year maximum');
    t.match(tooFar.json().errors, [{ pointer: '/body/period_years', code: 'period_not_allowed' }]);

    const dear = await post({ period_years: 1, max_price: { amount: 1000, currency: 'EUR' } });
    t.equal(dear.json().code, 'price_changed');
    t.equal(await balanceOf(app, r), before - 2198, 'refusals charge nothing');
  },
);

t.test('R-DOM-5: a renewal without funds is refused (402) with the ledger and the expiry untouched', async (t) => {
  const { app, store } = await buildTestApp(t);
  const { op, r } = await domainSetup(app, 1099);
  const d = await registered(app, r, 'poor.com');
  const res = await app.inject({
    method: 'POST',
    url: '/v1/domains/poor.com/renew',
    headers: bearer(r.token),
    payload: {},
  });
  t.equal(res.statusCode, 402);
  t.equal(res.json().code, 'insufficient_funds');
  const [row] = await store.db.select().from(domains).where(eq(domains.name, 'poor.com'));
  t.equal(row!.expiresAt.toISOString(), d.expires_at);
  const [reg] = await store.db.select().from(registryNames).where(eq(registryNames.name, 'poor.com'));
  t.equal(reg!.expiresAt.toISOString(), d.expires_at, 'the registry change rolled back with the charge');
  t.equal(
    (await store.db.select().from(ledgerTransactions).where(eq(ledgerTransactions.accountId, r.accountId))).length,
    2,
    'credit and registration only',
  );
  await credit(app, op.token, r.accountId, 5000);
  const again = await app.inject({
    method: 'POST',
    url: '/v1/domains/poor.com/renew',
    headers: bearer(r.token),
    payload: { period_years: 1 },
  });
  t.equal(again.statusCode, 200, 'after a top-up (an altered command) it renews');
});

t.test(
  'R-DOM-1: name servers, contacts and autorenew are updated under the TLD rules; other accounts see 404',
  async (t) => {
    const { app } = await buildTestApp(t);
    const { op, r } = await domainSetup(app);
    await registered(app, r, 'update-me.com');
    const patch = (body: Record<string, unknown>, token = r.token) =>
      app.inject({ method: 'PATCH', url: '/v1/domains/update-me.com', headers: bearer(token), payload: body });

    const ns = await patch({ nameservers: ['NS1.Example.NET.', 'ns2.example.net'], autorenew: false });
    t.equal(ns.statusCode, 200);
    t.same(ns.json().domain.nameservers, ['ns1.example.net', 'ns2.example.net']);
    t.equal(ns.json().domain.autorenew, false);

    const one = await patch({ nameservers: ['ns1.example.net'] });
    t.equal(one.statusCode, 422);
    t.match(one.json().errors, [{ pointer: '/body/nameservers', code: 'invalid_count' }]);

    const unknown = await patch({ contacts: { tech: 'RA-AAAAAAAAAA' } });
    t.equal(unknown.statusCode, 422);
    t.match(unknown.json().errors, [{ pointer: '/body/contacts/tech', code: 'contact_not_found' }]);
    const dropAdmin = await patch({ contacts: { admin: null } });
    t.equal(dropAdmin.statusCode, 422, '.com requires an admin contact');
    t.match(dropAdmin.json().errors, [{ pointer: '/body/contacts/admin', code: 'required' }]);

    const other = await fundedReseller(app, op.token, 0);
    t.equal((await patch({ autorenew: true }, other.token)).statusCode, 404, 'R-SEC-6: 404 across tenants');
    const theirs = await patch({ contacts: { owner: other.contact } });
    t.equal(theirs.statusCode, 422, "another account's handle is not usable");
    t.equal((await patch({})).statusCode, 422, 'an empty update is refused');
  },
);

t.test('lock, unlock and the auth code: read, reset; reading needs write permission', async (t) => {
  const { app, store } = await buildTestApp(t);
  const { r } = await domainSetup(app);
  const d = await registered(app, r, 'locked.com');
  t.equal(d.locked, true, 'registered locked');
  const unlock = await app.inject({ method: 'POST', url: '/v1/domains/locked.com/unlock', headers: bearer(r.token) });
  t.equal(unlock.json().locked, false);
  const [reg] = await store.db.select().from(registryNames).where(eq(registryNames.name, 'locked.com'));
  t.equal(reg!.transferProhibited, false, 'the registry lock follows');
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/domains/locked.com/lock', headers: bearer(r.token) })).json().locked,
    true,
  );

  const code = (
    await app.inject({ method: 'GET', url: '/v1/domains/locked.com/auth-code', headers: bearer(r.token) })
  ).json().auth_code as string;
  t.ok(code.length >= 12);
  const [read] = await store.db.select().from(auditEvents).where(eq(auditEvents.operation, 'getDomainAuthCode'));
  t.match(
    read,
    { accountId: r.accountId, targetType: 'domain', targetId: 'locked.com', result: 'success' },
    'R-SEC-7: reading the auth code is audited',
  );
  t.notMatch(JSON.stringify(read!.details), code, 'without the code');
  t.ok(await builtInRegistry.verifyAuthCode(store.db, 'locked.com', code), 'the registry holds the same code');
  const reset = (
    await app.inject({ method: 'POST', url: '/v1/domains/locked.com/auth-code/reset', headers: bearer(r.token) })
  ).json().auth_code as string;
  t.not(reset, code);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/domains/locked.com/auth-code', headers: bearer(r.token) })).json()
      .auth_code,
    reset,
  );
  t.notOk(await builtInRegistry.verifyAuthCode(store.db, 'locked.com', code), 'the old code stops working');

  const reader = await loginAs(app, (await addUser(app, r.token, 'read_only')).username);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/domains/locked.com/auth-code', headers: bearer(reader.token) }))
      .statusCode,
    403,
    'a read-only user cannot read the auth code',
  );
});

t.test(
  'deletion needs confirm; within add grace it is refunded and released, later it goes to redemption and can be restored',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const { op, r } = await domainSetup(app);
    await registered(app, r, 'oops.com');
    const del = (name: string, body: Record<string, unknown>) =>
      app.inject({ method: 'DELETE', url: `/v1/domains/${name}`, headers: bearer(r.token), payload: body });

    const unconfirmed = await del('oops.com', {});
    t.equal(unconfirmed.statusCode, 422);
    t.match(unconfirmed.json(), {
      code: 'confirmation_required',
      effect: 'released',
      refund: { amount: 1099, currency: 'EUR' },
    });
    await registered(app, r, 'kept.com');
    t.equal((await del('kept.com', { confirm: true })).json().code, 'domain_locked', 'a locked domain is not deleted');
    t.equal(
      (await del('kept.com', { confirm: true })).json().code,
      'repeated_failed_command',
      'R-API-2: nor is the identical command repeated at once',
    );
    await app.inject({ method: 'POST', url: '/v1/domains/oops.com/unlock', headers: bearer(r.token) });
    const before = await balanceOf(app, r);
    const gone = await del('oops.com', { confirm: true });
    t.equal(gone.statusCode, 200);
    t.equal(gone.json().domain.status, 'released');
    t.same(gone.json().refunded, { amount: 1099, currency: 'EUR' });
    t.equal(await balanceOf(app, r), before + 1099, 'refunded');
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/domains/oops.com', headers: bearer(r.token) })).statusCode,
      404,
    );

    // A renewal inside the add grace period is refunded with the registration: everything it was charged.
    const quote = (await checkNames(app, r, 'renewed-soon.com')).json().results[0].quote;
    const renewedSoon = await registered(app, r, 'renewed-soon.com', { quote_id: quote.id });
    const renewal = await app.inject({
      method: 'POST',
      url: '/v1/domains/renewed-soon.com/renew',
      headers: bearer(r.token),
      payload: { period_years: 1, current_expires_at: renewedSoon.expires_at },
    });
    t.equal(renewal.statusCode, 200, renewal.body);
    await app.inject({ method: 'POST', url: '/v1/domains/renewed-soon.com/unlock', headers: bearer(r.token) });
    const ask = await del('renewed-soon.com', {});
    t.same(ask.json().refund, { amount: 2 * 1099, currency: 'EUR' }, 'the answer says what comes back');
    const beforeBoth = await balanceOf(app, r);
    const both = await del('renewed-soon.com', { confirm: true });
    t.same(both.json().refunded, { amount: 2 * 1099, currency: 'EUR' });
    t.equal(await balanceOf(app, r), beforeBoth + 2 * 1099, 'registration and renewal refunded');

    const other = await fundedReseller(app, op.token, 0); // R-DOM-4: r checked these names seconds ago
    t.equal(
      (await checkNames(app, other, 'oops.com')).json().results[0].status,
      'free',
      'the name is free again at the registry',
    );

    // Past the add grace period (5 days for .com): the domain goes to redemption instead.
    await registered(app, r, 'later.com');
    await store.db.execute(
      sql`UPDATE domains SET registered_at = registered_at - interval '6 days', created_at = created_at - interval '6 days', locked = false WHERE name = 'later.com'`,
    );
    const preview = await del('later.com', {});
    t.match(preview.json(), { code: 'confirmation_required', effect: 'redemption', refund: null });
    const redeemed = await del('later.com', { confirm: true });
    t.equal(redeemed.json().domain.status, 'redemption');
    t.equal(redeemed.json().refunded, null);
    const dom = redeemed.json().domain;
    t.equal(
      Date.parse(dom.redemption_ends_at) - Date.parse(dom.grace_ends_at),
      30 * 86_400_000,
      '30 days of redemption from the deletion',
    );
    t.equal(
      (await checkNames(app, other, 'later.com')).json().results[0].status,
      'taken',
      'still held during redemption',
    );
    t.equal(
      (
        await app.inject({ method: 'POST', url: '/v1/domains/later.com/renew', headers: bearer(r.token), payload: {} })
      ).json().code,
      'domain_status_conflict',
      'no renewal in redemption',
    );

    const beforeRestore = await balanceOf(app, r);
    const restored = await app.inject({
      method: 'POST',
      url: '/v1/domains/later.com/restore',
      headers: bearer(r.token),
      payload: {},
    });
    t.equal(restored.statusCode, 200);
    t.equal(restored.json().domain.status, 'active');
    t.same(restored.json().charged, { amount: 8000, currency: 'EUR' }, 'the restore fee only: it has not expired');
    t.equal(await balanceOf(app, r), beforeRestore - 8000);
    t.ok(Date.parse(restored.json().domain.expires_at) > Date.now() + YEAR_MS - 86_400_000 * 7);
  },
);

t.test(
  'an irreversible DELETE takes its confirmation in the query (some clients drop DELETE bodies); the body still works',
  async (t) => {
    const { app } = await buildTestApp(t);
    const { r } = await domainSetup(app);
    for (const name of ['by-query.com', 'by-body.com']) {
      await registered(app, r, name);
      await app.inject({ method: 'POST', url: `/v1/domains/${name}/unlock`, headers: bearer(r.token) });
    }

    const bare = await app.inject({ method: 'DELETE', url: '/v1/domains/by-query.com', headers: bearer(r.token) });
    t.equal(bare.statusCode, 422, 'without a body or a query: what would happen');
    t.equal(bare.json().code, 'confirmation_required');
    const notConfirmed = await app.inject({
      method: 'DELETE',
      url: '/v1/domains/by-query.com?confirm=false',
      headers: bearer(r.token),
    });
    t.equal(notConfirmed.json().code, 'confirmation_required', 'confirm=false confirms nothing');
    const byQuery = await app.inject({
      method: 'DELETE',
      url: '/v1/domains/by-query.com?confirm=true',
      headers: bearer(r.token),
    });
    t.equal(byQuery.statusCode, 200, 'confirm=true in the query, no body');
    t.equal(byQuery.json().domain.status, 'released');

    const byBody = await app.inject({
      method: 'DELETE',
      url: '/v1/domains/by-body.com',
      headers: bearer(r.token),
      payload: { confirm: true },
    });
    t.equal(byBody.statusCode, 200, 'the JSON body {"confirm": true} of older clients');
    t.equal(byBody.json().domain.status, 'released');

    const bad = await app.inject({
      method: 'DELETE',
      url: '/v1/domains/by-body.com?confirm=yes',
      headers: bearer(r.token),
    });
    t.equal(bad.statusCode, 422);
    t.equal(bad.json().code, 'validation_failed', 'confirm is a boolean');
  },
);

// Issue 14 items 1-4 and 7: servers, Plesk license orders (R-LIC-1 EULA, R-LIC-3 bundling), the
// built-in vendor's binding rules, rebinding and its limit, suspend / resume / terminate, and the
// multi-use ladder of R-LIC-2 across more than 30 days on an injected clock.
import { sql } from 'drizzle-orm';
import t from 'tap';
import type { App } from '../../../src/app.js';
import { createPostgresStore, queryRows } from '../../../src/db/client.js';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres, postgresTestDatabase } from '../../helpers/db.js';
import { balanceOf, credit } from '../../helpers/domains.js';
import { feedSettled } from '../../helpers/events.js';
import { bearer, operator, reseller, type Reseller } from '../../helpers/fixtures.js';

const DAY = 86_400_000;
const A1 = '185.10.20.30';
const A2 = '185.10.20.31';
const OTHER = '91.200.1.2';
const EULA = { version: '2024-01' };

async function setup(t: { teardown(fn: () => unknown): void }, env: Record<string, string> = {}) {
  let clock = new Date('2027-01-10T12:00:00Z');
  const { app } = await buildTestApp(t, { env, now: () => clock });
  const op = await operator(app);
  const r = await reseller(app, op.token);
  await credit(app, op.token, r.accountId, 1_000_000);
  const server = await createServer(app, r, [A1, A2, '2a01:4f8::1']);
  return {
    app,
    op,
    r,
    server,
    at: (d: Date) => (clock = d),
    later: (ms: number) => (clock = new Date(clock.getTime() + ms)),
    now: () => clock,
  };
}

async function createServer(app: App, r: Reseller, addresses: string[], name = 'web-1') {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/servers',
    headers: bearer(r.token),
    payload: { name, addresses, location: 'Falkenstein', provider: 'own' },
  });
  if (res.statusCode !== 201) throw new Error(`server: ${res.statusCode} ${res.body}`);
  return res.json<{ id: string; addresses: string[] }>();
}

const order = (app: App, r: Reseller, body: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/v1/licenses/plesk', headers: bearer(r.token), payload: body });

async function ordered(app: App, r: Reseller, serverId: string, address = A1, extra: Record<string, unknown> = {}) {
  const res = await order(app, r, {
    product: 'PLESK-12-WEB-ADMIN',
    period_months: 1,
    server_id: serverId,
    address,
    accept_eula: EULA,
    ...extra,
  });
  if (res.statusCode !== 201) throw new Error(`order: ${res.statusCode} ${res.body}`);
  return res.json().license as { id: string; key_number: string; status: string; bound_address: string };
}

const getLicense = async (app: App, r: Reseller, id: string) =>
  (await app.inject({ method: 'GET', url: `/v1/licenses/plesk/${id}`, headers: bearer(r.token) })).json();

const report = (app: App, r: Reseller, id: string, addresses: string[]) =>
  app.inject({
    method: 'POST',
    url: `/v1/licenses/plesk/${id}/ip-reports`,
    headers: bearer(r.token),
    payload: { addresses },
  });

async function eventsOf(app: App, r: Reseller, type: string) {
  await feedSettled(app);
  const res = await app.inject({ method: 'GET', url: `/v1/events?type=${type}`, headers: bearer(r.token) });
  return res.json().data as { data: Record<string, any> }[];
}

t.test('R-LIC-3: a license is only ordered attached to a server of your own, on one of its addresses', async (t) => {
  const { app, op, r, server } = await setup(t);
  const other = await reseller(app, op.token);
  const theirs = await createServer(app, other, ['185.99.0.1']);
  for (const [label, body] of [
    ['no server', {}],
    ["another account's server", { server_id: theirs.id, address: '185.99.0.1' }],
    ['an address not on the server', { server_id: server.id, address: OTHER }],
    ['no address', { server_id: server.id }],
  ] as const) {
    const res = await order(app, r, { product: 'PLESK-12-WEB-ADMIN', period_months: 1, accept_eula: EULA, ...body });
    t.equal(res.statusCode, 422, label);
    t.equal(res.json().code, 'bundling_required', label);
  }
  t.equal(await balanceOf(app, r), 1_000_000, 'nothing charged');
  // A private address, and an IPv4-compatible IPv6 one (::/96) that embeds a loopback or a public address.
  for (const address of ['10.0.0.5', '::7f00:1', '::808:808']) {
    const refused = await app.inject({
      method: 'POST',
      url: '/v1/servers',
      headers: bearer(r.token),
      payload: { name: 'lan', addresses: [address], provider: 'own' },
    });
    t.equal(refused.statusCode, 422, `${address}: a server has public addresses only`);
    t.equal(refused.json().errors[0].code, 'address_not_public');
  }
});

t.test(
  'R-LIC-1 / R-LIC-5: an order needs the current EULA accepted by version; the acceptance is recorded; the policies travel with the license',
  async (t) => {
    const { app, r, server } = await setup(t);
    const base = { product: 'PLESK-12-WEB-ADMIN', period_months: 12, server_id: server.id, address: A1 };
    const none = await order(app, r, base);
    t.equal(none.statusCode, 422);
    t.match(none.json(), { code: 'eula_acceptance_required', eula: { version: '2024-01' } });
    const old = await order(app, r, { ...base, accept_eula: { version: '2019-01' } });
    t.equal(old.json().code, 'eula_acceptance_required', 'an old version is not the current one');
    const ok = await order(app, r, { ...base, accept_eula: EULA, extras: ['PLESK-EXT-WP-TOOLKIT'] });
    t.equal(ok.statusCode, 201, ok.body);
    const lic = ok.json().license;
    t.same(ok.json().charged, { amount: 11_990 + 5_390, currency: 'EUR' }, 'the edition and the extra, annual, in EUR');
    t.equal(await balanceOf(app, r), 1_000_000 - 17_380);
    t.match(lic, { item: 'PLESK-12-WEB-ADMIN-1Y', bound_address: A1, status: 'active', multi_use: { state: 'none' } });
    t.ok(
      lic.policies.some((p: any) => p.kind === 'eula' && p.version === '2024-01'),
      'R-LIC-5: the policies travel with it',
    );
    const rows = await queryRows<Record<string, unknown>>(
      app.db,
      sql`SELECT user_id, eula_version, terms_version, ip, license_id FROM eula_acceptances WHERE account_id = ${r.accountId}::uuid`,
    );
    t.match(rows, [
      { user_id: r.ownerId, eula_version: '2024-01', terms_version: '2024-01', ip: '127.0.0.1', license_id: lic.id },
    ]);
    t.equal((await eventsOf(app, r, 'license.ordered')).length, 1, 'license.ordered');
  },
);

t.test('quotes and max_price: the quoted price holds; above max_price is refused', async (t) => {
  const { app, r, server } = await setup(t);
  const q = await app.inject({
    method: 'POST',
    url: '/v1/licenses/plesk/quote',
    headers: bearer(r.token),
    payload: { product: 'PLESK-12-WEB-PRO', period_months: 1 },
  });
  t.equal(q.statusCode, 200);
  t.same(q.json().price, { amount: 1_690, currency: 'EUR' });
  const dear = await order(app, r, {
    product: 'PLESK-12-WEB-PRO',
    period_months: 1,
    server_id: server.id,
    address: A1,
    accept_eula: EULA,
    max_price: { amount: 1_000, currency: 'EUR' },
  });
  t.equal(dear.json().code, 'price_changed');
  const wrong = await order(app, r, {
    product: 'PLESK-12-WEB-ADMIN',
    period_months: 1,
    server_id: server.id,
    address: A1,
    accept_eula: EULA,
    quote_id: q.json().quote_id,
  });
  t.equal(wrong.json().code, 'quote_expired', 'a quote is for its product only');
  const quoted = await order(app, r, {
    product: 'PLESK-12-WEB-PRO',
    period_months: 1,
    server_id: server.id,
    address: A1,
    accept_eula: EULA,
    quote_id: q.json().quote_id,
  });
  t.equal(quoted.statusCode, 201);
  t.same(quoted.json().charged, { amount: 1_690, currency: 'EUR' });
});

t.test('the vendor refuses a second live key on one address (binding conflict)', async (t) => {
  const { app, op, r, server } = await setup(t);
  await ordered(app, r, server.id, A1);
  const other = await reseller(app, op.token);
  await credit(app, op.token, other.accountId, 100_000);
  const theirs = await createServer(app, other, [A1]);
  const res = await order(app, other, {
    product: 'PLESK-12-WEB-ADMIN',
    period_months: 1,
    server_id: theirs.id,
    address: A1,
    accept_eula: EULA,
  });
  t.equal(res.statusCode, 409);
  t.equal(res.json().code, 'binding_conflict');
  t.equal(await balanceOf(app, other), 100_000, 'nothing charged');
});

t.test('rebinding to another address of the server, limited per billing period', async (t) => {
  const { app, r, server, later } = await setup(t, { LICENSE_REBINDS_PER_PERIOD: '1' });
  const lic = await ordered(app, r, server.id, A1);
  const rebind = (address: string) =>
    app.inject({
      method: 'POST',
      url: `/v1/licenses/plesk/${lic.id}/rebind`,
      headers: bearer(r.token),
      payload: { address },
    });
  t.equal((await rebind(OTHER)).json().code, 'bundling_required', 'only an address of its own server');
  const first = await rebind(A2);
  t.equal(first.statusCode, 200);
  t.match(first.json(), { bound_address: A2, rebinds_left_this_period: 0 });
  const second = await rebind(A1);
  t.equal(second.statusCode, 409);
  t.equal(second.json().code, 'rebind_limit_reached');
  later(32 * DAY);
  t.equal((await rebind(A1)).statusCode, 200, 'the next billing period allows one again');
  const history = (await getLicense(app, r, lic.id)).history.map((h: any) => h.kind);
  t.same(history, ['ordered', 'rebound', 'rebound']);
});

t.test(
  'suspend, resume, terminate (irreversible, needs confirm); a terminated license refuses everything',
  async (t) => {
    const { app, r, server } = await setup(t);
    const lic = await ordered(app, r, server.id, A1);
    const act = (what: string, payload?: unknown) =>
      app.inject({
        method: 'POST',
        url: `/v1/licenses/plesk/${lic.id}/${what}`,
        headers: bearer(r.token),
        ...(payload ? { payload } : {}),
      });
    t.equal((await act('resume')).statusCode, 409, 'an active license is not resumed');
    t.equal((await act('suspend')).json().status, 'suspended');
    t.equal((await act('resume')).json().status, 'active');
    const unconfirmed = await act('terminate', {});
    t.equal(unconfirmed.statusCode, 422);
    t.equal(unconfirmed.json().code, 'termination_confirmation_required');
    const del = await app.inject({ method: 'DELETE', url: `/v1/servers/${server.id}`, headers: bearer(r.token) });
    t.equal(del.json().code, 'server_in_use', 'a server with a live license stays');
    t.equal((await act('terminate', { confirm: true })).json().status, 'terminated');
    t.equal((await act('resume')).statusCode, 409);
    t.equal((await act('suspend')).statusCode, 409);
    const key = await queryRows<{ status: string }>(
      app.db,
      sql`SELECT status FROM license_keys WHERE key_number = ${lic.key_number}`,
    );
    t.equal(key[0]!.status, 'terminated', "the vendor's key is terminated too");
    const del2 = await app.inject({ method: 'DELETE', url: `/v1/servers/${server.id}`, headers: bearer(r.token) });
    t.equal(del2.statusCode, 204, 'then the server can go');
    t.same(
      (await eventsOf(app, r, 'license.suspended')).length + (await eventsOf(app, r, 'license.terminated')).length,
      2,
    );
  },
);

t.test(
  'R-LIC-2: two addresses reported across more than 30 days: potential, notice, confirmed, charged once per extra address and period, terminated after 3 periods',
  async (t) => {
    const { app, r, server, later, now } = await setup(t);
    const lic = await ordered(app, r, server.id, A1);
    const fee = 1_090;
    const afterOrder = await balanceOf(app, r);
    const run = () => app.jobs.run('license-multi-use', now());

    const ok = await report(app, r, lic.id, [A1]);
    t.equal(ok.json().multi_use.state, 'none', 'the bound address alone changes nothing');
    const first = await report(app, r, lic.id, [A1, OTHER]);
    t.equal(first.statusCode, 200);
    const potential = first.json();
    t.match(potential, { detected: true, extra_addresses: [OTHER] });
    t.equal(potential.multi_use.state, 'potential', 'an extra address: potential multi-use at once');
    t.equal(potential.multi_use.notice_until, new Date(now().getTime() + 7 * DAY).toISOString());
    const detected = await eventsOf(app, r, 'license.multi_use_detected');
    t.equal(detected.length, 1, 'notified at once (R-LIC-2, R-NTF-1)');
    t.match(detected[0]!.data.history.at(-1), {
      kind: 'multi_use_detected',
      evidence: { report_ids: [first.json().report_id], extra_addresses: [OTHER] },
    });

    // Reported again and again: still one detection; the job does nothing before 30 days.
    for (let d = 4; d <= 28; d += 4) {
      later(4 * DAY);
      await report(app, r, lic.id, [A1, OTHER]);
      await run();
    }
    t.equal((await getLicense(app, r, lic.id)).multi_use.state, 'potential');
    t.equal(await balanceOf(app, r), afterOrder, 'nothing charged while potential');
    const late = await app.inject({
      method: 'POST',
      url: `/v1/licenses/plesk/${lic.id}/multi-use/resolve`,
      headers: bearer(r.token),
      payload: { other_servers_stopped: true },
    });
    t.equal(late.json().code, 'notice_period_over', 'the notice period is over');

    later(4 * DAY); // 32 days after detection
    await run();
    let l = await getLicense(app, r, lic.id);
    t.equal(l.multi_use.state, 'confirmed');
    t.equal(l.multi_use.charges.length, 1);
    t.match(l.multi_use.charges[0], { address: OTHER, amount: { amount: fee, currency: 'EUR' }, status: 'charged' });
    t.equal(await balanceOf(app, r), afterOrder - fee, 'one license fee for the extra address');
    await run();
    await report(app, r, lic.id, [A1, OTHER]);
    await run();
    t.equal(await balanceOf(app, r), afterOrder - fee, 'never twice in one period, whatever the reports and runs');

    // The next two billing periods: charged once each; then terminated.
    for (let p = 2; p <= 3; p++) {
      later(31 * DAY);
      await report(app, r, lic.id, [A1, OTHER]);
      await run();
      await run();
      t.equal(await balanceOf(app, r), afterOrder - p * fee, `period ${p}: charged once`);
    }
    later(31 * DAY);
    await report(app, r, lic.id, [A1, OTHER]);
    await run();
    l = await getLicense(app, r, lic.id);
    t.equal(l.status, 'terminated', 'terminated after 3 confirmed periods');
    t.equal(await balanceOf(app, r), afterOrder - 3 * fee, 'not charged for the fourth');
    t.match(
      l.history.map((h: any) => h.kind),
      [
        'ordered',
        'multi_use_detected',
        'multi_use_confirmed',
        'multi_use_charged',
        'multi_use_charged',
        'multi_use_charged',
        'terminated',
        'terminated_for_multi_use',
      ],
    );
    t.equal((await eventsOf(app, r, 'license.multi_use_confirmed')).length, 1);
    t.equal((await eventsOf(app, r, 'license.multi_use_charged')).length, 3);
    t.equal((await eventsOf(app, r, 'license.terminated')).length, 1);
  },
);

t.test(
  'R-LIC-2 / R-SEC-7: check-ins sent together share a statement, yet each is stored, counted and audited; a refused one is audited as a failure',
  async (t) => {
    const { app, r, server } = await setup(t);
    const lic = await ordered(app, r, server.id, A1);
    const sent = await Promise.all(Array.from({ length: 12 }, () => report(app, r, lic.id, [A1, OTHER])));
    t.same(
      sent.map((s) => s.statusCode),
      sent.map(() => 200),
    );
    const ids = new Set(sent.map((s) => s.json().report_id));
    t.equal(ids.size, 12, 'twelve reports stored, each with its own id');
    const view = await getLicense(app, r, lic.id);
    t.equal(view.multi_use.state, 'potential');
    t.match(view.multi_use.extra_addresses, [{ address: OTHER, reports: 12 }], 'every report of the address counted');
    const detected = await eventsOf(app, r, 'license.multi_use_detected');
    t.equal(detected.length, 1, 'one detection, however many reports arrived together');

    const unknown = await report(app, r, '00000000-0000-4000-8000-00000000abcd', [A1]);
    t.equal(unknown.statusCode, 404);
    const rows = (
      await app.inject({
        method: 'GET',
        url: '/v1/audit-events?operation=reportPleskLicenseAddresses&limit=100',
        headers: bearer(r.token),
      })
    ).json().data as { result: string; target_id: string; request_id: string; error_code: string | null }[];
    const ok = rows.filter((e) => e.result === 'success');
    t.equal(ok.length, 12, 'one audit row per stored report, no more');
    t.same(new Set(ok.map((e) => e.request_id)), new Set(sent.map((s) => s.headers['x-request-id'])));
    t.ok(ok.every((e) => e.target_id === lic.id));
    t.match(
      rows.filter((e) => e.result === 'failure'),
      [{ target_id: '00000000-0000-4000-8000-00000000abcd', error_code: 'not_found' }],
      'the refused report is audited with its failure',
    );
  },
);

t.test(
  'R-SEC-7: a check-in is its own audit record, shown in the audit trail beside the other changes, in order, paged and filtered',
  async (t) => {
    const { app, op, r, server } = await setup(t);
    const other = await reseller(app, op.token);
    const lic = await ordered(app, r, server.id, A1);
    const checkIns: { res: Awaited<ReturnType<typeof report>>; addresses: string[] }[] = [];
    for (const addresses of [[A1], [A1, OTHER], [OTHER]]) {
      const res = await report(app, r, lic.id, addresses);
      t.equal(res.statusCode, 200, res.body);
      checkIns.push({ res, addresses });
    }
    const later = await app.inject({
      method: 'PATCH',
      url: `/v1/licenses/plesk/${lic.id}`,
      headers: bearer(r.token),
      payload: { autorenew: false },
    });
    t.equal(later.statusCode, 200, later.body);
    // An operator's bulk import is audited once, as its own request: its reports are not check-ins.
    const imported = await app.inject({
      method: 'POST',
      url: '/v1/admin/licenses/ip-reports',
      headers: bearer(op.token),
      payload: { reports: [{ license_id: lic.id, addresses: [A1] }] },
    });
    t.equal(imported.statusCode, 200, imported.body);

    type Entry = Record<string, any>;
    const trail = async (token: string, query: string) => {
      const res = await app.inject({ method: 'GET', url: `/v1/audit-events?${query}`, headers: bearer(token) });
      t.equal(res.statusCode, 200, res.body);
      return res.json<{ data: Entry[]; next_cursor: string | null }>();
    };
    const all = (await trail(r.token, 'limit=100')).data;
    const ops = all.map((e) => e.operation);
    const first = ops.indexOf('updatePleskLicense');
    t.same(
      ops.slice(first, first + 5),
      [
        'updatePleskLicense',
        'reportPleskLicenseAddresses',
        'reportPleskLicenseAddresses',
        'reportPleskLicenseAddresses',
        'orderPleskLicense',
      ],
      'newest first: the change after the check-ins, the check-ins, the order before them',
    );
    t.ok(
      all.every((e, i) => i === 0 || e.id < all[i - 1]!.id),
      'one id orders the two tables',
    );
    const seen = all.filter((e) => e.operation === 'reportPleskLicenseAddresses').reverse();
    t.equal(seen.length, 3, 'one record per check-in; the import is not one');
    seen.forEach((e, i) => {
      const { res, addresses } = checkIns[i]!;
      t.match(
        e,
        {
          account_id: r.accountId,
          user_id: r.ownerId,
          credential_type: 'session',
          credential_id: String,
          address: '127.0.0.1',
          method: 'POST',
          path: `/v1/licenses/plesk/${lic.id}/ip-reports`,
          target_type: 'license',
          target_id: lic.id,
          status_code: 200,
          result: 'success',
          error_code: null,
          request_id: res.headers['x-request-id'],
        },
        `check-in ${i + 1}: who, which credential, from where, what, result`,
      );
      t.same(e.details.report, { id: res.json().report_id, addresses, seen_at: e.details.report.seen_at });
      t.equal(e.details.params.id, lic.id);
    });
    const order = all.find((e) => e.operation === 'orderPleskLicense')!;
    t.equal(seen[0]!.credential_id, order.credential_id, 'the same credential as the order');

    // Paged two at a time, the trail is the same sequence.
    const paged: Entry[] = [];
    let cursor: string | null = null;
    do {
      const page = await trail(r.token, `limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      paged.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    t.same(
      paged.map((e) => e.id),
      all.map((e) => e.id),
      'paging crosses the two tables without loss or repeat',
    );

    // Filters reach the check-ins as they reach every other row.
    t.equal((await trail(r.token, 'operation=reportPleskLicenseAddresses')).data.length, 3);
    t.notOk(
      (await trail(r.token, 'operation=orderPleskLicense')).data.some((e) => e.operation !== 'orderPleskLicense'),
    );
    t.notOk((await trail(r.token, 'result=failure')).data.some((e) => e.result !== 'failure'));
    t.equal((await trail(r.token, `user_id=${other.ownerId}&operation=reportPleskLicenseAddresses`)).data.length, 0);
    t.equal((await trail(r.token, `user_id=${r.ownerId}&operation=reportPleskLicenseAddresses`)).data.length, 3);
    const at = new Date(seen[1]!.at).getTime();
    const window = `since=${new Date(at).toISOString()}&until=${new Date(at).toISOString()}`;
    t.ok(
      (await trail(r.token, `${window}&operation=reportPleskLicenseAddresses`)).data.some((e) => e.id === seen[1]!.id),
      'since and until include a check-in at their instant',
    );
    t.equal(
      (await trail(r.token, `since=${new Date(Date.now() + 86_400_000).toISOString()}`)).data.length,
      0,
      'nothing after tomorrow',
    );
    // Another reseller sees none of them (R-SEC-6); an operator sees them under the account.
    t.equal((await trail(other.token, 'operation=reportPleskLicenseAddresses')).data.length, 0);
    const opView = await trail(op.token, `account_id=${r.accountId}&operation=reportPleskLicenseAddresses`);
    t.same(
      opView.data.map((e) => e.id),
      seen.map((e) => e.id).reverse(),
    );
    t.ok(
      (await trail(op.token, 'operation=adminImportLicenseReports')).data.some(
        (e) => e.request_id === imported.headers['x-request-id'],
      ),
      'the import has its own row',
    );
  },
);

t.test(
  "R-LIC-2: operators import reports in bulk: each license's in their order, licenses side by side; unknown and terminated ones are listed",
  async (t) => {
    const { app, op, r, server, now } = await setup(t);
    const a = await ordered(app, r, server.id, A1);
    const b = await ordered(app, r, server.id, A2);
    const gone = await ordered(app, r, server.id, '2a01:4f8::1');
    const term = await app.inject({
      method: 'POST',
      url: `/v1/licenses/plesk/${gone.id}/terminate`,
      headers: bearer(r.token),
      payload: { confirm: true },
    });
    t.equal(term.json().status, 'terminated');
    const unknown = '00000000-0000-4000-8000-00000000beef';
    const earlier = (ms: number) => new Date(now().getTime() - ms).toISOString();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/admin/licenses/ip-reports',
      headers: bearer(op.token),
      payload: {
        reports: [
          { license_id: a.id, addresses: [A1], seen_at: earlier(3 * 3_600_000) },
          { license_id: unknown, addresses: [A1] },
          { license_id: b.id, addresses: [A2] },
          { license_id: a.id, addresses: [A1, OTHER], seen_at: earlier(3_600_000) },
          { license_id: gone.id, addresses: ['2a01:4f8::1'] },
          { license_id: a.id, addresses: [OTHER] },
        ],
      },
    });
    t.equal(res.statusCode, 200, res.body);
    t.same(res.json(), { imported: 4, detected: [a.id], not_found: [unknown, gone.id] });
    const view = await getLicense(app, r, a.id);
    t.equal(view.multi_use.state, 'potential');
    t.match(view.multi_use.extra_addresses, [{ address: OTHER, reports: 2, first_seen: earlier(3_600_000) }]);
    const detection = view.history.find((h: any) => h.kind === 'multi_use_detected');
    t.equal(detection.evidence.report_ids.length, 1, 'detected by the first report that showed the extra address');
    t.equal((await getLicense(app, r, b.id)).multi_use.state, 'none', 'b reported its bound address only');
  },
);

t.test('R-API-3: check-ins are reports, not orders: they never count toward the bulk-work notice', async (t) => {
  // The server and the order are 2 commands; past 3 a command is warned, past 4 refused.
  const { app, r, server } = await setup(t, { BULK_DAILY_THRESHOLD: '3', BULK_DAILY_CEILING: '4' });
  const lic = await ordered(app, r, server.id, A1);
  for (let i = 0; i < 6; i++) {
    const res = await report(app, r, lic.id, [A1]);
    t.equal(res.statusCode, 200);
    t.notOk(res.headers['fair-use-warning'], `check-in ${i + 1}: no warning`);
  }
  const change = (autorenew: boolean) =>
    app.inject({
      method: 'PATCH',
      url: `/v1/licenses/plesk/${lic.id}`,
      headers: bearer(r.token),
      payload: { autorenew },
    });
  const third = await change(false);
  t.equal(third.statusCode, 200);
  t.notOk(third.headers['fair-use-warning'], 'the third command: at the threshold');
  const fourth = await change(true);
  t.equal(fourth.statusCode, 200);
  t.match(fourth.headers['fair-use-warning'], /bulk_notice_missing; count=4/, 'the fourth command counts on');
});

t.test(
  'R-LIC-2: resolved within the notice period (the other server stopped); a later report detects again',
  async (t) => {
    const { app, r, server, later } = await setup(t);
    const lic = await ordered(app, r, server.id, A1);
    await report(app, r, lic.id, [OTHER]);
    later(2 * DAY);
    const res = await app.inject({
      method: 'POST',
      url: `/v1/licenses/plesk/${lic.id}/multi-use/resolve`,
      headers: bearer(r.token),
      payload: { other_servers_stopped: true },
    });
    t.equal(res.statusCode, 200);
    t.match(res.json().multi_use, { state: 'none', extra_addresses: [{ address: OTHER, resolution: 'stopped' }] });
    later(DAY);
    const again = await report(app, r, lic.id, [OTHER]);
    t.equal(again.json().multi_use.state, 'potential', 'seen again: a new detection');
    t.equal((await eventsOf(app, r, 'license.multi_use_detected')).length, 2);
  },
);

t.test('R-LIC-2: an operator clears a false detection with a note, and waives a charge (refunded)', async (t) => {
  const { app, op, r, server, later, now } = await setup(t);
  const a = await ordered(app, r, server.id, A1);
  const b = await ordered(app, r, server.id, A2);
  await report(app, r, a.id, [OTHER]);
  await report(app, r, b.id, ['91.200.1.3']);
  const listed = await app.inject({
    method: 'GET',
    url: '/v1/admin/licenses?multi_use=potential',
    headers: bearer(op.token),
  });
  t.same(
    listed
      .json()
      .data.map((x: any) => x.license.id)
      .sort(),
    [a.id, b.id].sort(),
  );
  // A page is read in a fixed number of statements: each license still shows only its own details.
  const extraOf = (views: any[], id: string) =>
    views.find((v) => v.id === id).multi_use.extra_addresses.map((x: any) => x.address);
  const adminViews = listed.json().data.map((x: any) => x.license);
  t.same(extraOf(adminViews, a.id), [OTHER]);
  t.same(extraOf(adminViews, b.id), ['91.200.1.3']);
  const mine = (await app.inject({ method: 'GET', url: '/v1/licenses/plesk', headers: bearer(r.token) })).json().data;
  t.same(extraOf(mine, a.id), [OTHER], "the reseller's list: a's own extra address");
  t.same(extraOf(mine, b.id), ['91.200.1.3'], "the reseller's list: b's own extra address");
  t.same(
    mine.find((v: any) => v.id === b.id).history.map((h: any) => h.kind),
    (await getLicense(app, r, b.id)).history.map((h: any) => h.kind),
    'the list shows the same history as the license itself',
  );
  const cleared = await app.inject({
    method: 'POST',
    url: `/v1/admin/licenses/${a.id}/multi-use/clear`,
    headers: bearer(op.token),
    payload: { note: 'the address is our NAT gateway' },
  });
  t.equal(cleared.statusCode, 200);
  t.match(cleared.json().history.at(-1), { kind: 'multi_use_cleared', note: 'the address is our NAT gateway' });
  t.equal((await eventsOf(app, r, 'license.multi_use_cleared')).length, 1);

  later(31 * DAY);
  await report(app, r, b.id, ['91.200.1.3']);
  await app.jobs.run('license-multi-use', now());
  const before = await balanceOf(app, r);
  const charge = (await getLicense(app, r, b.id)).multi_use.charges[0];
  t.equal(charge.status, 'charged');
  const waived = await app.inject({
    method: 'POST',
    url: `/v1/admin/licenses/multi-use-charges/${charge.id}/waive`,
    headers: bearer(op.token),
    payload: { note: 'goodwill' },
  });
  t.equal(waived.statusCode, 200);
  t.match(waived.json(), { status: 'waived', waive_note: 'goodwill' });
  t.equal(await balanceOf(app, r), before + charge.amount.amount, 'refunded');
  const again = await app.inject({
    method: 'POST',
    url: `/v1/admin/licenses/multi-use-charges/${charge.id}/waive`,
    headers: bearer(op.token),
    payload: { note: 'twice' },
  });
  t.equal(again.statusCode, 409, 'once');
  const audit = await app.inject({
    method: 'GET',
    url: '/v1/audit-events?operation=adminWaiveLicenseCharge&limit=100',
    headers: bearer(op.token),
  });
  t.match(
    audit.json().data,
    [
      { result: 'failure', error_code: 'license_state_conflict', target_type: 'license_charge' },
      { result: 'success', target_type: 'license_charge', target_id: String(charge.id), user_id: op.userId },
    ],
    'the waiver and its refused repeat are audited (R-SEC-7)',
  );
});

t.test(
  'R-LIC-2: two instances running the multi-use job at once charge each extra address once per period (PostgreSQL)',
  { skip: !onPostgres && 'PostgreSQL only (set DATABASE_URL): PGlite is one connection' },
  async (t) => {
    let clock = new Date('2027-03-01T08:00:00Z');
    const url = await postgresTestDatabase(t);
    const stores = [createPostgresStore(url, { max: 4 }), createPostgresStore(url, { max: 4 })];
    for (const s of stores) t.teardown(() => s.close());
    const [a, b] = [
      (await buildTestApp(t, { store: stores[0], now: () => clock })).app,
      (await buildTestApp(t, { store: stores[1], now: () => clock })).app,
    ];
    const op = await operator(a);
    const r = await reseller(a, op.token);
    await credit(a, op.token, r.accountId, 1_000_000);
    const licenses = [];
    for (let i = 0; i < 5; i++) {
      const s = await createServer(a, r, [`185.10.30.${i + 1}`], `edge-${i}`);
      licenses.push(await ordered(a, r, s.id, `185.10.30.${i + 1}`));
    }
    for (const l of licenses) await report(a, r, l.id, [OTHER, '91.200.1.9']);
    clock = new Date(clock.getTime() + 31 * DAY);
    for (const l of licenses) await report(b, r, l.id, [OTHER, '91.200.1.9']);
    const before = await balanceOf(a, r);
    // Both instances, three runs each, all at once.
    await Promise.all([a, b, a, b, a, b].map((app) => app.jobs.run('license-multi-use', clock)));
    const rows = await queryRows<{ n: number }>(
      a.db,
      sql`SELECT count(*)::int AS n FROM license_multi_use_charges WHERE account_id = ${r.accountId}::uuid`,
    );
    t.equal(rows[0]!.n, 10, 'one charge per license and extra address');
    t.equal(await balanceOf(a, r), before - 10 * 1_090, 'each charged once');
  },
);

t.test(
  'renewal: by hand (one term ahead at most), and at expiry by autorenewal (charged; suspended when unpaid; terminated without autorenew)',
  async (t) => {
    const { app, op, r, server, later, now } = await setup(t);
    const renewing = await ordered(app, r, server.id, A1);
    const ending = await ordered(app, r, server.id, A2, { autorenew: false });
    const byHand = await app.inject({
      method: 'POST',
      url: `/v1/licenses/plesk/${renewing.id}/renew`,
      headers: bearer(r.token),
      payload: { max_price: { amount: 1_090, currency: 'EUR' } },
    });
    t.equal(byHand.statusCode, 200);
    t.equal(byHand.json().license.expires_at, '2027-03-10T12:00:00.000Z', 'one more month');
    const before = await balanceOf(app, r);
    const twice = await app.inject({
      method: 'POST',
      url: `/v1/licenses/plesk/${renewing.id}/renew`,
      headers: bearer(r.token),
      payload: {},
    });
    t.equal(twice.statusCode, 409, 'one term ahead at most: a second renewal is not a second charge');
    t.equal(twice.json().code, 'already_renewed');
    t.equal(await balanceOf(app, r), before, 'nothing charged');
    later(32 * DAY); // past the expiry of `ending`, not of `renewing`
    t.equal(await app.jobs.run('license-renewals', now()), 1);
    t.match(await getLicense(app, r, ending.id), {
      status: 'terminated',
      terminated_reason: 'expired without autorenewal',
    });
    t.equal(await balanceOf(app, r), before, 'nothing charged');
    later(28 * DAY); // 2027-03-13: past the expiry of `renewing`
    t.equal(await app.jobs.run('license-renewals', now()), 1);
    let l = await getLicense(app, r, renewing.id);
    t.match(l, { status: 'active', expires_at: '2027-04-10T12:00:00.000Z' });
    t.equal(await balanceOf(app, r), before - 1_090, 'charged one term');
    t.equal(await app.jobs.run('license-renewals', now()), 0, 'once');

    // Unpaid: an account whose balance paid the order and nothing more.
    const poor = await reseller(app, op.token);
    await credit(app, op.token, poor.accountId, 1_090);
    const s2 = await createServer(app, poor, ['185.10.20.40']);
    const cheap = await ordered(app, poor, s2.id, '185.10.20.40');
    t.equal(await balanceOf(app, poor), 0);
    later(32 * DAY);
    await app.jobs.run('license-renewals', now());
    l = await getLicense(app, poor, cheap.id);
    t.equal(l.status, 'suspended', 'suspended when the renewal is not covered');
    t.equal(l.history.at(-1).note, 'unpaid at autorenewal: renew it, then resume it');
    await feedSettled(app);
    const suspended = await app.inject({
      method: 'GET',
      url: '/v1/events?type=license.suspended',
      headers: bearer(poor.token),
    });
    t.equal(suspended.json().data.length, 1);

    // Resuming is not a way around the charge: refused until a renewal paid for a new term.
    const resume = () =>
      app.inject({ method: 'POST', url: `/v1/licenses/plesk/${cheap.id}/resume`, headers: bearer(poor.token) });
    const early = await resume();
    t.equal(early.statusCode, 409, 'an unpaid license is not resumed');
    t.match(early.json(), { code: 'license_state_conflict', detail: /renew it .*then resume it/ });
    t.equal((await getLicense(app, poor, cheap.id)).status, 'suspended', 'and stays suspended');
    t.equal(await balanceOf(app, poor), 0, 'nothing was charged or given');
    await credit(app, op.token, poor.accountId, 1_090);
    const renewed = await app.inject({
      method: 'POST',
      url: `/v1/licenses/plesk/${cheap.id}/renew`,
      headers: bearer(poor.token),
      payload: {},
    });
    t.equal(renewed.statusCode, 200, 'the suspended license is renewed');
    t.equal(await balanceOf(app, poor), 0, 'for one term');
    const resumed = await resume();
    t.equal(resumed.statusCode, 200, 'then resumed');
    t.equal(resumed.json().status, 'active');
  },
);

t.test('an operation that takes no body refuses a JSON body with fields instead of ignoring it', async (t) => {
  const { app, r, server } = await setup(t);
  const l = await ordered(app, r, server.id, A1);
  const suspend = (payload?: unknown) =>
    app.inject({
      method: 'POST',
      url: `/v1/licenses/plesk/${l.id}/suspend`,
      headers: { ...bearer(r.token), ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });
  const fields = await suspend({ admin: true, 'a/b': [1] });
  t.equal(fields.statusCode, 422);
  t.match(fields.json(), {
    code: 'validation_failed',
    errors: [
      { pointer: '/body/admin', code: 'unknown_field' },
      { pointer: '/body/a~1b', code: 'unknown_field' },
    ],
  });
  const list = await suspend([1]);
  t.equal(list.statusCode, 422);
  t.match(list.json().errors, [{ pointer: '/body', code: 'invalid_type' }]);
  t.equal((await getLicense(app, r, l.id)).status, 'active', 'nothing was suspended');
  t.equal((await suspend({})).statusCode, 200, 'an empty object is no body');
  const resumed = await app.inject({
    method: 'POST',
    url: `/v1/licenses/plesk/${l.id}/resume`,
    headers: bearer(r.token),
  });
  t.equal(resumed.statusCode, 200, 'and no body at all is fine');
});

t.test(
  'renewal: a product withdrawn from sale still renews; one license without a price does not stop the others',
  async (t) => {
    const { app, op, r, server, later, now } = await setup(t);
    const pro = await ordered(app, r, server.id, A1, { product: 'PLESK-12-WEB-PRO' });
    const admin = await ordered(app, r, server.id, A2);
    const put = (id: string, body: Record<string, unknown>) =>
      app.inject({ method: 'PUT', url: `/v1/admin/licenses/products/${id}`, headers: bearer(op.token), payload: body });
    // Web Admin withdrawn (inactive, prices kept); Web Pro left without a EUR price.
    t.equal(
      (
        await put('PLESK-12-WEB-ADMIN', {
          kind: 'edition',
          name: 'Web Admin',
          active: false,
          prices: [{ period_months: 1, currency: 'EUR', amount: 1_090 }],
        })
      ).statusCode,
      200,
    );
    t.equal(
      (
        await put('PLESK-12-WEB-PRO', {
          kind: 'edition',
          name: 'Web Pro',
          active: true,
          prices: [{ period_months: 1, currency: 'USD', amount: 1_790 }],
        })
      ).statusCode,
      200,
    );
    const products = (
      await app.inject({ method: 'GET', url: '/v1/licenses/products', headers: bearer(r.token) })
    ).json().data;
    t.notOk(
      products.some((p: any) => p.id === 'PLESK-12-WEB-ADMIN'),
      'no longer offered',
    );
    later(32 * DAY);
    await t.rejects(app.jobs.run('license-renewals', now()), /license renewals failed for 1/);
    t.match(
      await getLicense(app, r, admin.id),
      { status: 'active', expires_at: '2027-03-10T12:00:00.000Z' },
      'renewed at its price',
    );
    t.match(
      await getLicense(app, r, pro.id),
      { status: 'active', expires_at: '2027-02-10T12:00:00.000Z' },
      'left for the next run',
    );
  },
);

t.test(
  "R-API-2: a check-in that failed is not repeated unaltered; its lookup is made by the report's own statement",
  async (t) => {
    const { app, r, server } = await setup(t);
    const lic = await ordered(app, r, server.id, A1);
    const reportsOf = async (id: string) =>
      Number(
        (
          await queryRows<{ n: string }>(
            app.db,
            sql`SELECT count(*) AS n FROM license_ip_reports WHERE license_id = ${id}`,
          )
        )[0]!.n,
      );
    const refusals = async () =>
      Number(
        (
          await queryRows<{ n: string }>(
            app.db,
            sql`SELECT count(*) AS n FROM audit_events WHERE operation = 'reportPleskLicenseAddresses' AND error_code = 'repeated_failed_command'`,
          )
        )[0]!.n,
      );

    // No such license (404, found by the statement): the identical repeat is refused, pointing at the first.
    const missing = '00000000-0000-4000-8000-00000000abcd';
    const first = await report(app, r, missing, [A1]);
    t.equal(first.statusCode, 404);
    const repeat = await report(app, r, missing, [A1]);
    t.equal(repeat.statusCode, 409);
    t.equal(repeat.json().code, 'repeated_failed_command');
    t.equal(repeat.json().first_failure.request_id, first.json().request_id);
    t.equal(repeat.json().first_failure.status, 404);
    t.equal((await report(app, r, missing, [A2])).statusCode, 404, 'an altered command runs');

    // An address that is none (refused before the statement ran): the repeat is refused all the same.
    const bad = await report(app, r, lic.id, ['999.1.2.3']);
    t.ok(bad.statusCode === 400 || bad.statusCode === 422, `refused: ${bad.statusCode}`);
    const badAgain = await report(app, r, lic.id, ['999.1.2.3']);
    t.equal(badAgain.statusCode, 409);
    t.equal(badAgain.json().code, 'repeated_failed_command');
    t.equal(badAgain.json().first_failure.request_id, bad.json().request_id);

    // The same with an Idempotency-Key (the check-in then runs in its request transaction): the
    // lookup after the failure is made in that transaction, and a new key does not dodge the guard.
    const keyed = (key: string) =>
      app.inject({
        method: 'POST',
        url: `/v1/licenses/plesk/${lic.id}/ip-reports`,
        headers: { ...bearer(r.token), 'idempotency-key': key },
        payload: { addresses: ['300.1.2.3'] },
      });
    t.equal((await keyed('check-in-1')).statusCode, 422);
    const keyedAgain = await keyed('check-in-2');
    t.equal(keyedAgain.statusCode, 409);
    t.equal(keyedAgain.json().code, 'repeated_failed_command');

    // A terminated license (409 license_state_conflict): the repeat writes nothing, and is audited as refused.
    const gone = await ordered(app, r, server.id, A2);
    const term = await app.inject({
      method: 'POST',
      url: `/v1/licenses/plesk/${gone.id}/terminate`,
      headers: bearer(r.token),
      payload: { confirm: true },
    });
    t.equal(term.statusCode, 200);
    t.equal((await report(app, r, gone.id, [A2])).json().code, 'license_state_conflict');
    const before = await reportsOf(gone.id);
    const refusedBefore = await refusals();
    const refused = await report(app, r, gone.id, [A2]);
    t.equal(refused.json().code, 'repeated_failed_command');
    t.equal(await reportsOf(gone.id), before, 'nothing stored for the refused repeat');
    t.equal(await refusals(), refusedBefore + 1, 'the refusal is audited');

    // Reports arriving together share one statement: the repeat among them is refused, the others stored.
    const stored = await reportsOf(lic.id);
    const together = await Promise.all([
      report(app, r, lic.id, [A1]),
      report(app, r, missing, [A1]),
      report(app, r, lic.id, [A1, A2]),
      report(app, r, gone.id, [A2]),
    ]);
    t.same(
      together.map((res) => res.statusCode),
      [200, 409, 200, 409],
    );
    t.equal(await reportsOf(lic.id), stored + 2);

    // A successful check-in is a change to the license it names: it forgets the failures naming it,
    // so the identical rebind that failed runs again (and fails again on its own merits).
    const rebind = () =>
      app.inject({
        method: 'POST',
        url: `/v1/licenses/plesk/${lic.id}/rebind`,
        headers: bearer(r.token),
        payload: { address: OTHER },
      });
    t.equal((await rebind()).json().code, 'bundling_required');
    t.equal((await rebind()).json().code, 'repeated_failed_command', 'the repeat is refused');
    t.equal((await report(app, r, lic.id, [A1])).statusCode, 200);
    t.equal((await rebind()).json().code, 'bundling_required', 'after the check-in the rebind is a new command');
  },
);

const renewByHand = (app: App, r: Reseller, id: string) =>
  app.inject({ method: 'POST', url: `/v1/licenses/plesk/${id}/renew`, headers: bearer(r.token), payload: {} });

t.test(
  'R-LIC-2 billing periods: a term ends on the boundaries counted from the anchor (31 Jan, 28 Feb, 31 Mar, 30 Apr), by autorenewal and by hand',
  async (t) => {
    const { app, r, server, at, now } = await setup(t);
    at(new Date('2027-01-31T12:00:00Z'));
    const auto = await ordered(app, r, server.id, A1);
    const byHand = await ordered(app, r, server.id, A2);
    t.equal((await getLicense(app, r, auto.id)).expires_at, '2027-02-28T12:00:00.000Z', 'the last day of February');

    at(new Date('2027-02-28T12:00:01Z'));
    t.equal(await app.jobs.run('license-renewals', now()), 2);
    let l = await getLicense(app, r, auto.id);
    t.equal(l.expires_at, '2027-03-31T12:00:00.000Z', 'autorenewed to 31 March, not 28 March');
    t.same(l.current_period, { start: '2027-02-28T12:00:00.000Z', end: '2027-03-31T12:00:00.000Z' });
    t.equal(l.expires_at, l.current_period.end, 'the term is the billing period');
    at(new Date('2027-03-31T12:00:01Z'));
    t.equal(await app.jobs.run('license-renewals', now()), 2);
    l = await getLicense(app, r, auto.id);
    t.equal(l.expires_at, '2027-04-30T12:00:00.000Z');
    t.equal(l.expires_at, l.current_period.end);

    // By hand, ahead of the expiry: each renewal one period further, counted from the anchor (one
    // term ahead at most: the next renewal once the paid term has begun).
    at(new Date('2027-04-01T12:00:00Z'));
    const first = await renewByHand(app, r, byHand.id);
    t.equal(first.statusCode, 200);
    t.equal(first.json().license.expires_at, '2027-05-31T12:00:00.000Z');
    t.equal((await renewByHand(app, r, byHand.id)).json().code, 'already_renewed', 'not twice ahead');
    at(new Date('2027-05-01T12:00:00Z'));
    const second = await renewByHand(app, r, byHand.id);
    t.equal(second.json().license.expires_at, '2027-06-30T12:00:00.000Z');
    at(new Date('2027-06-01T12:00:00Z'));
    const third = await renewByHand(app, r, byHand.id);
    t.equal(third.json().license.expires_at, '2027-07-31T12:00:00.000Z', '31 July again');
  },
);

t.test(
  'R-LIC-2 billing periods: a license suspended unpaid at autorenewal, renewed months later, gets the period that holds the renewal and resumes',
  async (t) => {
    const { app, op, at, now } = await setup(t);
    const poor = await reseller(app, op.token);
    await credit(app, op.token, poor.accountId, 1_090); // one term, no more
    const s = await createServer(app, poor, ['185.10.20.40']);
    const lic = await ordered(app, poor, s.id, '185.10.20.40'); // 2027-01-10 12:00
    at(new Date('2027-02-10T13:00:00Z'));
    await app.jobs.run('license-renewals', now());
    t.equal((await getLicense(app, poor, lic.id)).status, 'suspended', 'unpaid at autorenewal');

    at(new Date('2027-05-20T12:00:00Z'));
    await credit(app, op.token, poor.accountId, 1_090);
    const renewed = await renewByHand(app, poor, lic.id);
    t.equal(renewed.statusCode, 200);
    t.same(renewed.json().charged, { amount: 1_090, currency: 'EUR' }, 'one term, the lapsed ones not charged');
    t.equal(await balanceOf(app, poor), 0);
    const l = renewed.json().license;
    t.equal(l.expires_at, '2027-06-10T12:00:00.000Z', 'a term that covers now, not 2027-03-10');
    t.same(l.current_period, { start: '2027-05-10T12:00:00.000Z', end: '2027-06-10T12:00:00.000Z' });
    const resumed = await app.inject({
      method: 'POST',
      url: `/v1/licenses/plesk/${lic.id}/resume`,
      headers: bearer(poor.token),
    });
    t.equal(resumed.statusCode, 200, resumed.body);
    t.equal(resumed.json().status, 'active');
    t.equal(await app.jobs.run('license-renewals', now()), 0, 'nothing due: the term is paid');

    // From then on the autorenewal goes on from the anchor's periods.
    await credit(app, op.token, poor.accountId, 1_090);
    at(new Date('2027-06-10T13:00:00Z'));
    t.equal(await app.jobs.run('license-renewals', now()), 1);
    t.match(await getLicense(app, poor, lic.id), { status: 'active', expires_at: '2027-07-10T12:00:00.000Z' });
    t.equal(await balanceOf(app, poor), 0, 'charged one term');
  },
);

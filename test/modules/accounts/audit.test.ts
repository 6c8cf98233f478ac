import t from 'tap';
import { buildTestApp } from '../../helpers/app.js';
import { addUser, apiKey, bearer, operator, reseller } from '../../helpers/fixtures.js';

t.test('R-SEC-7: every change leaves who, which credential, from where, what and the result', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const key = await apiKey(app, r.token, ['account:read', 'account:write', 'users:read', 'audit:read']);
  await app.inject({
    method: 'PATCH',
    url: '/v1/account',
    headers: bearer(key.key),
    payload: { company_name: 'Audited' },
    remoteAddress: '127.0.0.9',
  });
  const tech = await addUser(app, r.token, 'technical');
  await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { username: tech.username, password: 'wrong-password-here' },
  });
  await app.inject({ method: 'PATCH', url: '/v1/account', headers: bearer(key.key), payload: { country: 'nope' } });

  const res = await app.inject({ method: 'GET', url: '/v1/audit-events?limit=100', headers: bearer(r.token) });
  t.equal(res.statusCode, 200);
  const events = res.json().data as Record<string, unknown>[];
  const patch = events.find((e) => e.operation === 'updateAccount' && e.result === 'success');
  t.match(patch, {
    account_id: r.accountId,
    user_id: r.ownerId,
    credential_type: 'api_key',
    credential_id: key.id,
    address: '127.0.0.9',
    method: 'PATCH',
    path: '/v1/account',
    target_type: 'account',
    target_id: r.accountId,
    status_code: 200,
  });
  t.match(patch?.details, { body: { company_name: 'Audited' } });

  const created = events.find((e) => e.operation === 'createUser');
  t.equal(created?.target_id, tech.id);
  t.equal(
    (created?.details as { body: { password: string } }).body.password,
    '[Redacted]',
    'passwords never reach the audit log',
  );

  const failedLogin = events.find((e) => e.operation === 'login' && e.result === 'failure');
  t.match(failedLogin, {
    user_id: tech.id,
    status_code: 401,
    error_code: 'invalid_credentials',
    credential_type: null,
  });
  const invalid = events.find((e) => e.operation === 'updateAccount' && e.result === 'failure');
  t.match(invalid, { status_code: 422, error_code: 'validation_failed' });
  t.notOk(
    events.some((e) => e.method === 'GET'),
    'reads are not audited',
  );

  const filtered = await app.inject({
    method: 'GET',
    url: `/v1/audit-events?operation=updateAccount&result=success`,
    headers: bearer(r.token),
  });
  t.same(
    filtered.json().data.map((e: { operation: string }) => e.operation),
    ['updateAccount'],
  );
});

t.test('R-SEC-7: audit events page with an opaque cursor; operators see every account', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  const b = await reseller(app, op.token);
  for (let i = 0; i < 5; i++)
    await app.inject({
      method: 'PATCH',
      url: '/v1/account',
      headers: bearer(a.token),
      payload: { address: `Street ${i}` },
    });
  const first = (
    await app.inject({
      method: 'GET',
      url: '/v1/audit-events?limit=2&operation=updateAccount',
      headers: bearer(a.token),
    })
  ).json();
  t.equal(first.data.length, 2);
  t.type(first.next_cursor, 'string');
  const second = (
    await app.inject({
      method: 'GET',
      url: `/v1/audit-events?limit=2&operation=updateAccount&cursor=${first.next_cursor}`,
      headers: bearer(a.token),
    })
  ).json();
  t.ok(second.data[0].id < first.data[1].id, 'the next page continues where the first stopped');
  const bad = await app.inject({ method: 'GET', url: '/v1/audit-events?cursor=garbage', headers: bearer(a.token) });
  t.equal(bad.statusCode, 400);

  const all = (await app.inject({ method: 'GET', url: '/v1/audit-events?limit=500', headers: bearer(op.token) })).json()
    .data;
  const accounts = new Set(all.map((e: { account_id: string }) => e.account_id));
  t.ok(accounts.has(a.accountId) && accounts.has(b.accountId), 'operators see both accounts');
  const onlyB = (
    await app.inject({ method: 'GET', url: `/v1/audit-events?account_id=${b.accountId}`, headers: bearer(op.token) })
  ).json().data;
  t.ok(onlyB.length > 0 && onlyB.every((e: { account_id: string }) => e.account_id === b.accountId));
});

t.test(
  'R-SEC-7: every state-changing operation in the OpenAPI document leaves an audit row, success or not',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const changing: { method: string; path: string; operationId: string }[] = [];
    for (const [path, item] of Object.entries<Record<string, { operationId: string }>>(doc.paths)) {
      for (const [method, opn] of Object.entries(item)) {
        if (['post', 'put', 'patch', 'delete'].includes(method))
          changing.push({ method: method.toUpperCase(), path, operationId: opn.operationId });
      }
    }
    t.ok(changing.length >= 20, `${changing.length} state-changing operations found`);
    for (const c of changing) {
      // Unknown ids and empty bodies: most of these fail (404/422), which must be audited too.
      const url = c.path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const token = c.path.startsWith('/v1/admin/') ? op.token : r.token;
      await app.inject({ method: c.method as 'POST', url, headers: bearer(token), payload: {} });
    }
    const rows = (
      await app.inject({ method: 'GET', url: '/v1/audit-events?limit=500', headers: bearer(op.token) })
    ).json().data as { operation: string }[];
    const audited = new Set(rows.map((e) => e.operation));
    // A check or a quote is a query with a body: it changes nothing of the account's (test/modules/domains/check.test.ts).
    const queries = new Set([
      'checkDomains',
      'quotePleskLicense',
      'quoteHostingSubscription',
      'quoteHostingRenewal',
      'quoteHostingPlanChange',
      'quoteHostingAddon',
    ]);
    for (const c of changing) {
      if (queries.has(c.operationId)) t.notOk(audited.has(c.operationId), `${c.operationId} is a query, not audited`);
      else t.ok(audited.has(c.operationId), `${c.operationId} is audited`);
    }
  },
);

t.test(
  'R-SEC-7: a body with U+0000 (which jsonb refuses) is still audited, and the rows batched with it too',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const sent = await Promise.all([
      app.inject({ method: 'POST', url: '/v1/contacts', headers: bearer(r.token), payload: { name: 'nul\u0000byte' } }),
      app.inject({ method: 'POST', url: '/v1/contacts', headers: bearer(r.token), payload: { name: 'plain' } }),
    ]);
    t.same(
      sent.map((x) => x.statusCode),
      [422, 422],
    );
    const rows = (
      await app.inject({ method: 'GET', url: '/v1/audit-events?operation=createContact', headers: bearer(r.token) })
    ).json().data as { request_id: string }[];
    t.same(
      new Set(rows.map((x) => x.request_id)),
      new Set(sent.map((x) => x.headers['x-request-id'])),
      'both requests are in the audit log',
    );
  },
);

t.test("R-SEC-7 / R-API-2: a refused repeat is recorded under its own code, not its first failure's", async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const key = await apiKey(app, r.token, ['account:read', 'account:write', 'audit:read']);
  const bad = () =>
    app.inject({ method: 'PATCH', url: '/v1/account', headers: bearer(key.key), payload: { country: 'nope' } });
  const first = await bad();
  const repeat = await bad();
  t.equal(repeat.json().code, 'repeated_failed_command');
  t.equal(repeat.json().first_failure.code, first.json().code, 'the body names the first failure inside');

  const res = await app.inject({ method: 'GET', url: '/v1/audit-events?limit=100', headers: bearer(r.token) });
  const byRequest = new Map(
    (res.json().data as { request_id: string; status_code: number; error_code: string | null }[]).map((e) => [
      e.request_id,
      e,
    ]),
  );
  t.match(byRequest.get(first.json().request_id), { status_code: first.statusCode, error_code: first.json().code });
  t.match(byRequest.get(repeat.json().request_id), { status_code: 409, error_code: 'repeated_failed_command' });
});

t.test(
  'a date-time RFC 3339 admits but JavaScript cannot place (a leap second) is refused 422, never a 500',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const leap = '2016-12-31T23:59:60Z';
    for (const url of [
      `/v1/audit-events?since=${leap}`,
      `/v1/audit-events?until=${leap}`,
      `/v1/admin/tickets/sla-report?from=${leap}&to=2017-01-31T00:00:00Z`,
    ]) {
      const res = await app.inject({ method: 'GET', url, headers: bearer(op.token) });
      t.equal(res.statusCode, 422, url);
      t.equal(res.json().errors[0].code, 'invalid_format', url);
    }
    const fine = await app.inject({
      method: 'GET',
      url: '/v1/audit-events?since=2016-12-31T23:59:59Z',
      headers: bearer(op.token),
    });
    t.equal(fine.statusCode, 200);
  },
);

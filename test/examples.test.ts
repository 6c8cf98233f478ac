// The README's client example, run against a real listening server: R-SEC-5 as a client sees it.
import t from 'tap';
// @ts-expect-error: a plain JavaScript example file, without type declarations
import { signedHeaders } from '../examples/sign-request.mjs';
import { buildTestApp } from './helpers/app.js';
import { apiKey, operator, reseller } from './helpers/fixtures.js';

t.test('R-SEC-5: examples/sign-request.mjs signs GET with a query and PATCH with a body', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const key = await apiKey(app, r.token, ['account:read', 'account:write', 'audit:read']);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });

  const url = `${base}/v1/audit-events?limit=2&operation=createApiKey`;
  const get = await fetch(url, { headers: signedHeaders(key, 'GET', url) });
  t.equal(get.status, 200);
  t.equal(((await get.json()) as { data: { operation: string }[] }).data[0]?.operation, 'createApiKey');

  const body = JSON.stringify({ address: 'Signed street 1' });
  const patch = await fetch(`${base}/v1/account`, {
    method: 'PATCH',
    body,
    headers: signedHeaders(key, 'PATCH', `${base}/v1/account`, body),
  });
  t.equal(patch.status, 200);
  t.equal(((await patch.json()) as { address: string }).address, 'Signed street 1');
});

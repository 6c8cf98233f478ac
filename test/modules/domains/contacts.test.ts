import t from 'tap';
import { buildTestApp } from '../../helpers/app.js';
import { CUSTOMER as PERSON } from '../../helpers/domains.js';
import { bearer, operator, reseller } from '../../helpers/fixtures.js';

const CUSTOMER = { ...PERSON, organisation: 'Pekárna Nováková s.r.o.' };

t.test('R-DOM-1: a complete contact gets a handle; every field is validated', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  const created = await app.inject({
    method: 'POST',
    url: '/v1/contacts',
    headers: bearer(r.token),
    payload: CUSTOMER,
  });
  t.equal(created.statusCode, 201);
  t.match(created.json(), {
    handle: /^RA-[A-Z0-9]{10}$/,
    name: 'Jana Nováková',
    country: 'CZ',
    state: '',
    warnings: [],
  });

  const bad = await app.inject({
    method: 'POST',
    url: '/v1/contacts',
    headers: bearer(r.token),
    payload: { ...CUSTOMER, email: 'not-mail', phone: '+420 601 234 567', country: 'cz', street: [], postal_code: '' },
  });
  t.equal(bad.statusCode, 422);
  const pointers = [...new Set<string>(bad.json().errors.map((e: { pointer: string }) => e.pointer))].sort();
  t.same(pointers, ['/body/country', '/body/email', '/body/phone', '/body/postal_code', '/body/street']);

  const unknownCountry = await app.inject({
    method: 'POST',
    url: '/v1/contacts',
    headers: bearer(r.token),
    payload: { ...CUSTOMER, country: 'XX' },
  });
  t.match(unknownCountry.json(), {
    code: 'validation_failed',
    errors: [{ pointer: '/body/country', code: 'invalid_country' }],
  });
  const withdrawn = await app.inject({
    method: 'POST',
    url: '/v1/contacts',
    headers: bearer(r.token),
    payload: { ...CUSTOMER, country: 'YU' },
  });
  t.equal(withdrawn.statusCode, 422, 'a withdrawn code (Yugoslavia) is refused');
  // The phone's country calling code is one in use, and the number a length possible there.
  for (const [phone, why] of [
    ['+999.123456789', 'no country uses +999'],
    ['+4.9301234567', '+4 alone is no calling code (+49 is)'],
    ['+1.2345', 'too short for a +1 number'],
  ] as const) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: bearer(r.token),
      payload: { ...CUSTOMER, phone },
    });
    t.match(
      res.json(),
      { code: 'validation_failed', errors: [{ pointer: '/body/phone', code: 'invalid_phone' }] },
      why,
    );
  }
  for (const phone of ['+420.601234567', '+1.2025550123', '+44.2071234567', '+49.301234567']) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: bearer(r.token),
      payload: { ...CUSTOMER, phone },
    });
    t.equal(res.statusCode, 201, `${phone} is a possible number`);
  }
  const handle = created.json().handle as string;
  const patched = await app.inject({
    method: 'PATCH',
    url: `/v1/contacts/${handle}`,
    headers: bearer(r.token),
    payload: { phone: '+999.123456789' },
  });
  t.match(patched.json().errors, [{ pointer: '/body/phone', code: 'invalid_phone' }], 'an edit is checked too');
  const missing = await app.inject({
    method: 'POST',
    url: '/v1/contacts',
    headers: bearer(r.token),
    payload: { name: 'Only a name' },
  });
  t.same(
    missing
      .json()
      .errors.map((e: { pointer: string }) => e.pointer)
      .sort(),
    ['/body/city', '/body/country', '/body/email', '/body/phone', '/body/postal_code', '/body/street'],
  );
});

t.test("R-DOM-1: the reseller's own data in a contact is warned about", async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const r = await reseller(app, op.token);
  // The fixture account's contact data: r.contactEmail, Hosting GmbH, +49.3012345678.
  const own = await app.inject({
    method: 'POST',
    url: '/v1/contacts',
    headers: bearer(r.token),
    payload: { ...CUSTOMER, email: r.contactEmail.toUpperCase(), organisation: 'Hosting GmbH' },
  });
  t.equal(own.statusCode, 201, 'a warning, not a refusal');
  t.match(own.json().warnings, [{ code: 'reseller_data_as_contact', message: /e-mail, organisation/ }]);
  const fixed = await app.inject({
    method: 'PATCH',
    url: `/v1/contacts/${own.json().handle}`,
    headers: bearer(r.token),
    payload: { email: 'jana@pekarna.test', organisation: 'Pekárna' },
  });
  t.same(fixed.json().warnings, []);
});

t.test('R-DOM-1, R-SEC-6: read, list, update, delete; other accounts see 404', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  const b = await reseller(app, op.token);
  const handles = [];
  for (let i = 0; i < 3; i++)
    handles.push(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/contacts',
          headers: bearer(a.token),
          payload: { ...CUSTOMER, name: `N${i}` },
        })
      ).json().handle,
    );
  const first = (await app.inject({ method: 'GET', url: '/v1/contacts?limit=2', headers: bearer(a.token) })).json();
  t.equal(first.data.length, 2);
  const second = (
    await app.inject({
      method: 'GET',
      url: `/v1/contacts?limit=2&cursor=${first.next_cursor}`,
      headers: bearer(a.token),
    })
  ).json();
  t.equal(second.data.length, 1);
  t.same(
    [...first.data, ...second.data].map((c: { handle: string }) => c.handle),
    [...handles].sort(),
  );
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/contacts?cursor=not-ours', headers: bearer(a.token) })).statusCode,
    400,
    'a cursor we did not issue',
  );

  const h = handles[0];
  const patched = await app.inject({
    method: 'PATCH',
    url: `/v1/contacts/${h}`,
    headers: bearer(a.token),
    payload: { city: 'Brno', postal_code: '602 00' },
  });
  t.match(patched.json(), { city: 'Brno', postal_code: '602 00', name: 'N0' });
  const badPatch = await app.inject({
    method: 'PATCH',
    url: `/v1/contacts/${h}`,
    headers: bearer(a.token),
    payload: { country: 'QQ' },
  });
  t.equal(badPatch.statusCode, 422);

  for (const [method, payload] of [['GET'], ['PATCH', { city: 'X' }], ['DELETE']] as const) {
    const res = await app.inject({
      method,
      url: `/v1/contacts/${h}`,
      headers: bearer(b.token),
      ...(payload ? { payload } : {}),
    });
    t.equal(res.statusCode, 404, `${method} by another account`);
  }
  t.equal((await app.inject({ method: 'GET', url: '/v1/contacts', headers: bearer(b.token) })).json().data.length, 0);
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/contacts/${h}`, headers: bearer(a.token) })).statusCode, 204);
  t.equal((await app.inject({ method: 'GET', url: `/v1/contacts/${h}`, headers: bearer(a.token) })).statusCode, 404);
});

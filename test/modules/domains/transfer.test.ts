import t from 'tap';
import { eq } from 'drizzle-orm';
import { registryNames } from '../../../src/db/schema/index.js';
import type { App } from '../../../src/app.js';
import { builtInRegistry } from '../../../src/modules/domains/registry.js';
import {
  approvalMailsAgo,
  approvalTokenFor,
  decideTransfer as decide,
  balanceOf,
  credit,
  domainSetup,
  fundedReseller,
  heldElsewhere,
  mailingTestApp,
  registered,
} from '../../helpers/domains.js';
import { feedSettled } from '../../helpers/events.js';
import { bearer, type Reseller } from '../../helpers/fixtures.js';

type R = Reseller & { contact: string };
const DAY_MS = 86_400_000;

const request = (app: App, r: R, body: Record<string, unknown>) =>
  app.inject({
    method: 'POST',
    url: '/v1/domain-transfers',
    headers: bearer(r.token),
    payload: { contacts: { owner: r.contact, admin: r.contact, tech: r.contact }, ...body },
  });

t.test(
  'R-API-2 / R-DOM-3: a transfer refused for the lock is a new command once the holder unlocks the domain',
  async (t) => {
    const { app } = await mailingTestApp(t);
    const { op, r: losing } = await domainSetup(app);
    const gaining = await fundedReseller(app, op.token);
    const third = await fundedReseller(app, op.token);
    await registered(app, losing, 'held-here.com');
    const code = (
      await app.inject({ method: 'GET', url: '/v1/domains/held-here.com/auth-code', headers: bearer(losing.token) })
    ).json().auth_code as string;

    const refused = await request(app, gaining, { name: 'held-here.com', auth_code: code });
    t.equal(refused.json().code, 'transfer_prohibited', 'locked at its holder');
    const repeated = await request(app, gaining, { name: 'held-here.com', auth_code: code });
    t.equal(repeated.json().code, 'repeated_failed_command', 'the identical command is refused while nothing changed');
    t.match(repeated.json().first_failure.depends_on, ['domains:held-here.com']);
    const otherFailure = await request(app, third, { name: 'held-here.com', auth_code: 'not-the-code' });
    t.equal(otherFailure.json().code, 'transfer_prohibited');

    // A lock again (no change of the lock: nothing is released), then the unlock.
    await app.inject({ method: 'POST', url: '/v1/domains/held-here.com/lock', headers: bearer(losing.token) });
    t.equal(
      (await request(app, gaining, { name: 'held-here.com', auth_code: code })).json().code,
      'repeated_failed_command',
      'locking a locked domain changes nothing',
    );
    const unlock = await app.inject({
      method: 'POST',
      url: '/v1/domains/held-here.com/unlock',
      headers: bearer(losing.token),
    });
    t.equal(unlock.statusCode, 200);

    const again = await request(app, gaining, { name: 'held-here.com', auth_code: code });
    t.equal(again.statusCode, 201, "after the holder's unlock the identical transfer runs");
    t.equal(
      (await request(app, third, { name: 'held-here.com', auth_code: 'not-the-code' })).json().code,
      'invalid_auth_code',
      "another reseller's identical command runs too (and now fails on its wrong auth code)",
    );
  },
);

t.test('R-DOM-3: a transfer needs the auth code and the owner’s approval; it is charged on completion', async (t) => {
  const { app, store } = await mailingTestApp(t);
  const { op, r: losing } = await domainSetup(app);
  const gaining = await fundedReseller(app, op.token);
  const d = await registered(app, losing, 'moving.com');

  const locked = await request(app, gaining, { name: 'moving.com', auth_code: 'whatever' });
  t.equal(locked.statusCode, 409);
  t.equal(locked.json().code, 'transfer_prohibited', 'a locked domain cannot be transferred');
  await app.inject({ method: 'POST', url: '/v1/domains/moving.com/unlock', headers: bearer(losing.token) });
  const code = (
    await app.inject({ method: 'GET', url: '/v1/domains/moving.com/auth-code', headers: bearer(losing.token) })
  ).json().auth_code as string;

  const wrong = await request(app, gaining, { name: 'moving.com', auth_code: 'not-the-code' });
  t.equal(wrong.statusCode, 422);
  t.equal(wrong.json().code, 'invalid_auth_code');
  const missing = await request(app, gaining, { name: 'moving.com' });
  t.match(missing.json().errors, [{ pointer: '/body/auth_code', code: 'required' }], '.com needs the auth code');

  const before = await balanceOf(app, gaining);
  const asked = await request(app, gaining, { name: 'moving.com', auth_code: code });
  t.equal(asked.statusCode, 201);
  const { transfer } = asked.json();
  const token = await approvalTokenFor(app, transfer.id);
  t.match(transfer, {
    name: 'moving.com',
    status: 'pending_approval',
    direction: 'in',
    price: { amount: 1099, currency: 'EUR' },
    charged: null,
  });
  t.equal(Date.parse(transfer.expires_at) - Date.parse(transfer.requested_at), 5 * DAY_MS, '.com: 5 days to approve');
  t.equal(await balanceOf(app, gaining), before, 'nothing charged before completion');
  t.equal(
    (await request(app, gaining, { name: 'moving.com', auth_code: code, nameservers: [] })).json().code,
    'transfer_pending',
    'one open transfer per name',
  );

  const inUse = await app.inject({
    method: 'DELETE',
    url: `/v1/contacts/${gaining.contact}`,
    headers: bearer(gaining.token),
  });
  t.equal(inUse.json().code, 'contact_in_use', 'R-DOM-1: a handle an open transfer will use cannot be deleted');
  const out = (
    await app.inject({ method: 'GET', url: '/v1/domain-transfers?direction=out', headers: bearer(losing.token) })
  ).json().data;
  t.match(
    out,
    [{ id: transfer.id, direction: 'out', status: 'pending_approval' }],
    'the losing reseller sees it coming',
  );
  t.equal(
    (await decide(app, transfer.id, 'approve', 'rat_' + 'x'.repeat(43))).statusCode,
    404,
    'a wrong token is not told apart from a wrong id',
  );

  const approved = await decide(app, transfer.id, 'approve', token);
  t.equal(approved.statusCode, 200);
  t.match(approved.json(), { status: 'completed', price: null, charged: null }, "the owner's answer: not the price");
  t.match(
    (
      await app.inject({ method: 'GET', url: `/v1/domain-transfers/${transfer.id}`, headers: bearer(gaining.token) })
    ).json(),
    { status: 'completed', charged: { amount: 1099, currency: 'EUR' } },
  );
  t.equal(await balanceOf(app, gaining), before - 1099, 'charged on completion');

  const mine = (
    await app.inject({ method: 'GET', url: '/v1/domains/moving.com', headers: bearer(gaining.token) })
  ).json();
  const expected = new Date(d.expires_at);
  expected.setUTCFullYear(expected.getUTCFullYear() + 1);
  t.match(
    mine,
    {
      name: 'moving.com',
      status: 'active',
      locked: true,
      contacts: { owner: gaining.contact },
      expires_at: expected.toISOString(),
    },
    'a year added to the expiry',
  );
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/domains/moving.com', headers: bearer(losing.token) })).statusCode,
    404,
    'gone from the losing account',
  );
  const [reg] = await store.db.select().from(registryNames).where(eq(registryNames.name, 'moving.com'));
  t.equal(reg!.sponsorAccountId, gaining.accountId, 'the registry moved the name');
  t.notOk(await builtInRegistry.verifyAuthCode(store.db, 'moving.com', code), 'the old auth code is dead');
  t.equal(
    (await decide(app, transfer.id, 'approve', token)).json().code,
    'transfer_not_open',
    'approving twice does nothing',
  );
  const reset = (
    await app.inject({ method: 'GET', url: '/v1/domains/moving.com/auth-code', headers: bearer(gaining.token) })
  ).json().auth_code as string;
  t.ok(await builtInRegistry.verifyAuthCode(store.db, 'moving.com', reset), 'the gaining side holds the new auth code');
  t.equal((await request(app, gaining, { name: 'moving.com', auth_code: reset })).json().code, 'already_yours');
});

t.test('R-DOM-3: a transfer the owner does not approve in time expires (injected clock)', async (t) => {
  const { app } = await mailingTestApp(t);
  const { op, r: losing } = await domainSetup(app);
  const gaining = await fundedReseller(app, op.token);
  const { code } = await heldElsewhere(app, losing, 'slow-owner.com');
  const { transfer } = (await request(app, gaining, { name: 'slow-owner.com', auth_code: code })).json();
  const token = await approvalTokenFor(app, transfer.id);

  t.equal(await app.jobs.run('domain-transfers', new Date(Date.parse(transfer.expires_at) - 1000)), 0, 'not yet');
  t.equal(await app.jobs.run('domain-transfers', new Date(Date.parse(transfer.expires_at) + 1000)), 1, 'expired');
  const after = (
    await app.inject({ method: 'GET', url: `/v1/domain-transfers/${transfer.id}`, headers: bearer(gaining.token) })
  ).json();
  t.match(after, { status: 'expired', charged: null });
  const late = await decide(app, transfer.id, 'approve', token);
  t.equal(late.statusCode, 409);
  t.match(late.json(), { code: 'transfer_not_open', transfer_status: 'expired' });
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/domains/slow-owner.com', headers: bearer(losing.token) })).statusCode,
    200,
    'the domain stays where it was',
  );
  await approvalMailsAgo(app, 'slow-owner.com'); // the owner was mailed days ago, not moments
  const again = await request(app, gaining, { name: 'slow-owner.com', auth_code: code, nameservers: [] });
  t.equal(again.statusCode, 201, 'a new request may follow an expired one');
});

t.test('R-DOM-3: the owner rejects; the gaining reseller cancels', async (t) => {
  const { app } = await mailingTestApp(t);
  const { op, r: losing } = await domainSetup(app);
  const gaining = await fundedReseller(app, op.token);
  const { code } = await heldElsewhere(app, losing, 'stay-put.com');
  const first = (await request(app, gaining, { name: 'stay-put.com', auth_code: code })).json();
  const rejected = await decide(app, first.transfer.id, 'reject', await approvalTokenFor(app, first.transfer.id));
  t.match(rejected.json(), { status: 'rejected', note: 'rejected by the owner' });
  t.equal(
    (await decide(app, first.transfer.id, 'approve', await approvalTokenFor(app, first.transfer.id))).json().code,
    'transfer_not_open',
    'no approval after a rejection',
  );

  await approvalMailsAgo(app, 'stay-put.com'); // R-DOM-3: the owner is mailed again 10 minutes later at the earliest
  const second = (await request(app, gaining, { name: 'stay-put.com', auth_code: code, nameservers: [] })).json();
  const secondToken = await approvalTokenFor(app, second.transfer.id);
  const other = await fundedReseller(app, op.token, 0);
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: `/v1/domain-transfers/${second.transfer.id}/cancel`,
        headers: bearer(other.token),
      })
    ).statusCode,
    404,
    'R-SEC-6',
  );
  const cancelled = await app.inject({
    method: 'POST',
    url: `/v1/domain-transfers/${second.transfer.id}/cancel`,
    headers: bearer(gaining.token),
  });
  t.equal(cancelled.json().status, 'cancelled');
  t.equal((await decide(app, second.transfer.id, 'approve', secondToken)).json().code, 'transfer_not_open');
  const list = (
    await app.inject({ method: 'GET', url: '/v1/domain-transfers?limit=1', headers: bearer(gaining.token) })
  ).json();
  t.equal(list.data[0].id, second.transfer.id, 'newest first');
  const next = (
    await app.inject({
      method: 'GET',
      url: `/v1/domain-transfers?limit=1&cursor=${list.next_cursor}`,
      headers: bearer(gaining.token),
    })
  ).json();
  t.equal(next.data[0].id, first.transfer.id);
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/domain-transfers?cursor=bogus', headers: bearer(gaining.token) }))
      .statusCode,
    400,
    'a cursor we did not issue',
  );
});

t.test('R-DOM-3: approved without funds, the transfer waits and completes after a top-up', async (t) => {
  const { app } = await mailingTestApp(t);
  const { op, r: losing } = await domainSetup(app);
  const gaining = await fundedReseller(app, op.token, 500);
  const { code } = await heldElsewhere(app, losing, 'pay-later.com');
  const { transfer } = (await request(app, gaining, { name: 'pay-later.com', auth_code: code })).json();
  const token = await approvalTokenFor(app, transfer.id);
  const approved = await decide(app, transfer.id, 'approve', token);
  t.equal(approved.statusCode, 200);
  t.equal(approved.json().status, 'approved');
  t.match(
    approved.json(),
    { note: 'Approved; waiting for the gaining reseller to complete it', price: null, charged: null },
    "the owner's answer says it waits on the gaining side, not why (R-SEC-6)",
  );
  const view = async (r: R) =>
    (await app.inject({ method: 'GET', url: `/v1/domain-transfers/${transfer.id}`, headers: bearer(r.token) })).json();
  t.match(await view(gaining), { direction: 'in', note: /^insufficient_funds/, price: { amount: 1099 } });
  const out = await view(losing);
  t.match(out, { direction: 'out', price: null, charged: null }, 'R-SEC-6: the losing side never sees the price');
  t.equal(out.note, 'Approved; waiting for the gaining reseller to complete it');
  t.notMatch(JSON.stringify(out), /insufficient|available|1099/, "nor the gaining side's funds");
  t.equal(await app.jobs.run('domain-transfers', new Date()), 0, 'still no funds');
  await credit(app, op.token, gaining.accountId, 1000);
  t.equal(await app.jobs.run('domain-transfers', new Date()), 1, 'the job completes it');
  const done = (
    await app.inject({ method: 'GET', url: `/v1/domain-transfers/${transfer.id}`, headers: bearer(gaining.token) })
  ).json();
  t.match(done, { status: 'completed', charged: { amount: 1099 }, note: null });
  t.match(await view(losing), { status: 'completed', price: null, charged: null, note: null });
  await feedSettled(app);
  const losingEvents = (
    await app.inject({ method: 'GET', url: '/v1/events?type=transfer.completed', headers: bearer(losing.token) })
  ).json().data;
  t.equal(losingEvents.length, 1, 'the losing side is told it completed');
  t.match(
    losingEvents[0].data,
    { direction: 'out', price: null, charged: null },
    'without what it cost the other side',
  );
  t.equal(await balanceOf(app, gaining), 500 + 1000 - 1099);
});

t.test('R-DOM-3: names nobody holds, or the caller holds, are not transferred', async (t) => {
  const { app } = await mailingTestApp(t);
  const { r } = await domainSetup(app);
  const unregistered = await request(app, r, { name: 'nobody-has-this.com', auth_code: 'x' });
  t.equal(unregistered.json().code, 'domain_not_registered');
  const { code } = await heldElsewhere(app, r, 'mine-already.com');
  t.equal((await request(app, r, { name: 'mine-already.com', auth_code: code })).json().code, 'already_yours');
  const elsewhere = await request(app, r, { name: 'example-taken.com', auth_code: 'guess' });
  t.equal(elsewhere.json().code, 'invalid_auth_code', 'a name at another registrar whose code we do not hold');
});

t.test(
  'R-DOM-3: a domain locked again by its reseller before approval does not move; a transferred name gets no add-grace refund',
  async (t) => {
    const { app } = await mailingTestApp(t);
    const { op, r: losing } = await domainSetup(app);
    const gaining = await fundedReseller(app, op.token);
    const { code } = await heldElsewhere(app, losing, 'second-thoughts.com');
    const { transfer } = (await request(app, gaining, { name: 'second-thoughts.com', auth_code: code })).json();
    const token = await approvalTokenFor(app, transfer.id);
    await app.inject({ method: 'POST', url: '/v1/domains/second-thoughts.com/lock', headers: bearer(losing.token) });
    const approved = (await decide(app, transfer.id, 'approve', token)).json();
    t.equal(approved.status, 'approved', 'approved by the owner');
    t.match(approved.note, /^transfer_prohibited/, 'but not completed: the domain is locked');
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/domains/second-thoughts.com', headers: bearer(losing.token) }))
        .statusCode,
      200,
      'it stays',
    );
    await app.inject({ method: 'POST', url: '/v1/domains/second-thoughts.com/unlock', headers: bearer(losing.token) });
    t.equal(await app.jobs.run('domain-transfers', new Date()), 1, 'unlocked, the job completes it');

    const preview = await app.inject({
      method: 'DELETE',
      url: '/v1/domains/second-thoughts.com',
      headers: bearer(gaining.token),
      payload: {},
    });
    t.match(
      preview.json(),
      { code: 'confirmation_required', effect: 'redemption', refund: null },
      'a transfer is not a registration: no add-grace refund',
    );
  },
);

t.test('R-DOM-5: a transfer adds a year, never past the TLD maximum of 10 years ahead', async (t) => {
  const { app } = await mailingTestApp(t);
  const { op, r: losing } = await domainSetup(app);
  const gaining = await fundedReseller(app, op.token);
  const { d, code } = await heldElsewhere(app, losing, 'ten-years.com');
  const renewed = await app.inject({
    method: 'POST',
    url: '/v1/domains/ten-years.com/renew',
    headers: bearer(losing.token),
    payload: { period_years: 9, current_expires_at: d.expires_at },
  });
  t.equal(renewed.statusCode, 200, renewed.body);
  const expiry = renewed.json().domain.expires_at as string;
  const asked = await request(app, gaining, { name: 'ten-years.com', auth_code: code });
  t.equal(asked.statusCode, 201, asked.body);
  const done = await decide(
    app,
    asked.json().transfer.id,
    'approve',
    await approvalTokenFor(app, asked.json().transfer.id),
  );
  t.equal(done.statusCode, 200, done.body);
  const mine = await app.inject({ method: 'GET', url: '/v1/domains/ten-years.com', headers: bearer(gaining.token) });
  t.equal(mine.json().expires_at, expiry, 'already 10 years ahead: the expiry stays');
});

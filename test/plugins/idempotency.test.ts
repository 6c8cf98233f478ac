// Idempotency-Key: whose a key is (R-SEC-8), and the outcome committed with the change it answers
// for, whatever fails in between (issue 11, items 3 and 16).
import t from 'tap';
import { sql } from 'drizzle-orm';
import { Type } from 'typebox';
import type { App } from '../../src/app.js';
import { queryRows, type Store } from '../../src/db/client.js';
import { AppError } from '../../src/errors.js';
import { createContact, type ContactInput } from '../../src/modules/domains/contact-service.js';
import { buildTestApp } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import { CUSTOMER, checkNames, domainSetup, registered } from '../helpers/domains.js';
import { addUser, apiKey, bearer, loginAs, operator, reseller } from '../helpers/fixtures.js';

/**
 * The fault of the issue, injected where it struck: after the change, as the key's outcome is
 * written. A trigger on idempotency_keys fails the first "done" of a key named fault-*: on
 * PostgreSQL by terminating the request's connection (as a dropped connection does), on PGlite (one
 * in-process connection) by raising.
 */
async function armOutcomeFault(store: Store) {
  const strike = onPostgres
    ? 'perform pg_terminate_backend(pg_backend_pid()); perform pg_sleep(5);'
    : "raise exception 'injected fault';";
  for (const statement of [
    'create sequence if not exists test_outcome_fault',
    `create or replace function test_outcome_fault() returns trigger language plpgsql as $$
     begin
       if new.state = 'done' and new.key like 'fault-%' then
         if nextval('test_outcome_fault') = 1 then ${strike} end if;
       end if;
       return new;
     end $$`,
    'drop trigger if exists test_outcome_fault on idempotency_keys',
    'create trigger test_outcome_fault before update on idempotency_keys for each row execute function test_outcome_fault()',
    "select setval('test_outcome_fault', 1, false)",
  ]) {
    await store.db.execute(sql.raw(statement));
  }
}

/** What the issue's client saw: a key left in flight is taken over after 5 minutes. Makes it 6 minutes old. */
const ageKeys = (store: Store, key: string) =>
  store.db.execute(sql`update idempotency_keys set created_at = now() - interval '6 minutes' where key = ${key}`);

const chargesFor = async (store: Store, accountId: string, name: string) =>
  (
    await queryRows<{ n: number }>(
      store.db,
      sql`select count(*)::int as n from ledger_transactions where account_id = ${accountId} and type = 'charge' and reference = ${`domain:${name}`}`,
    )
  )[0]!.n;

const expiryOf = async (store: Store, name: string) =>
  (
    await queryRows<{ expires_at: string | Date }>(store.db, sql`select expires_at from domains where name = ${name}`)
  )[0]?.expires_at;

// A response lost after the commit (the connection to the client breaks): an onSend hook that runs
// after the idempotency plugin's commit throws once.
let loseNextResponse = false;
function losesResponses(app: App) {
  app.addHook('onSend', async (req, _reply, payload) => {
    if (loseNextResponse && req.headers['idempotency-key']) {
      loseNextResponse = false;
      throw new Error('the response was lost on its way out');
    }
    return payload;
  });
  // A handler that changes something, then fails with a server error.
  app.post(
    '/v1/test-change-then-fail',
    {
      schema: {
        operationId: 'testChangeThenFail',
        tags: ['test'],
        summary: 'changes, then fails',
        body: Type.Object({ n: Type.Integer() }),
        response: { 200: Type.Object({}) },
      },
      config: { permission: 'account:write' },
    },
    async (req) => {
      const c: ContactInput = {
        ...CUSTOMER,
        name: 'Rolled Back',
        organisation: '',
        state: '',
        postalCode: CUSTOMER.postal_code,
      };
      await createContact(app.db, req.principal!.accountId!, c);
      throw new AppError({ code: 'internal_error', status: 500, title: 'injected' });
    },
  );
}

t.test(
  'hardening-3 / R-SEC-8: an Idempotency-Key belongs to the credential that sent it; another user of the account never gets its replay',
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const r = await reseller(app, op.token);
    const tech = await addUser(app, r.token, 'technical');
    const techToken = (await loginAs(app, tech.username)).token;
    const ownerKey = await apiKey(app, r.token, ['api_keys:write', 'api_keys:read']);
    const payload = { name: 'deploy', scopes: ['domains:read'] };
    const K = 'create-key-K';

    const first = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: { ...bearer(r.token), 'idempotency-key': K },
      payload,
    });
    t.equal(first.statusCode, 201);
    const secret = first.json().secret as string;

    const byTech = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: { ...bearer(techToken), 'idempotency-key': K },
      payload,
    });
    t.notOk(byTech.headers['idempotent-replayed'], "the technical user's K is its own");
    t.notOk(byTech.body.includes(secret), "the owner's secret never reaches another user");
    t.equal(byTech.statusCode, 201, 'it ran as its own request');
    t.not(byTech.json().api_key.id, first.json().api_key.id);

    const byOwnersApiKey = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: { ...bearer(ownerKey.key), 'idempotency-key': K },
      payload,
    });
    t.notOk(
      byOwnersApiKey.headers['idempotent-replayed'],
      "an API key's keys are its own, even when its user is the owner",
    );
    t.notOk(byOwnersApiKey.body.includes(secret));

    // One person's sessions share their keys: a retry from a fresh login replays.
    const secondSession = (await loginAs(app, r.ownerUsername)).token;
    const again = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: { ...bearer(secondSession), 'idempotency-key': K },
      payload,
    });
    t.equal(again.headers['idempotent-replayed'], 'true');
    t.equal(again.body, first.body);
  },
);

t.test(
  'hardening-16: a renewal whose outcome could not be recorded did not happen, and its retry charges once',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const { r } = await domainSetup(app);
    const d = await registered(app, r, 'twice-charged.com');
    const expiry = await expiryOf(store, d.name);
    await armOutcomeFault(store);
    const headers = { ...bearer(r.token), 'idempotency-key': 'fault-renew-1' };

    const faulted = await app.inject({
      method: 'POST',
      url: `/v1/domains/${d.name}/renew`,
      headers,
      payload: { period_years: 1 },
    });
    t.equal(faulted.statusCode, 503, 'the client learns that nothing was committed');
    t.equal(faulted.json().code, 'service_unavailable');
    t.equal(
      await chargesFor(store, r.accountId, d.name),
      1,
      'only the registration was charged: the renewal rolled back with its outcome',
    );
    t.same(await expiryOf(store, d.name), expiry, 'not renewed');

    await ageKeys(store, 'fault-renew-1');
    const retry = await app.inject({
      method: 'POST',
      url: `/v1/domains/${d.name}/renew`,
      headers,
      payload: { period_years: 1 },
    });
    t.equal(retry.statusCode, 200, retry.body);
    const again = await app.inject({
      method: 'POST',
      url: `/v1/domains/${d.name}/renew`,
      headers,
      payload: { period_years: 1 },
    });
    t.equal(again.headers['idempotent-replayed'], 'true');
    t.equal(again.body, retry.body);
    t.equal(await chargesFor(store, r.accountId, d.name), 2, 'registration + ONE renewal');
    t.equal(
      new Date((await expiryOf(store, d.name))!).getUTCFullYear(),
      new Date(expiry!).getUTCFullYear() + 1,
      'renewed once',
    );
  },
);

t.test(
  'hardening-16: a registration whose outcome could not be recorded: the retry registers it (201), not domain_not_available',
  async (t) => {
    const { app, store } = await buildTestApp(t);
    const { r } = await domainSetup(app);
    const name = 'fault-registered.com';
    await checkNames(app, r, name);
    await armOutcomeFault(store);
    const headers = { ...bearer(r.token), 'idempotency-key': 'fault-register-1' };
    const payload = { name, contacts: { owner: r.contact, admin: r.contact, tech: r.contact }, nameservers: [] };

    const faulted = await app.inject({ method: 'POST', url: '/v1/domains', headers, payload });
    t.equal(faulted.statusCode, 503);
    t.equal(await expiryOf(store, name), undefined, 'not registered');
    t.equal(await chargesFor(store, r.accountId, name), 0, 'not charged');

    await ageKeys(store, 'fault-register-1');
    const retry = await app.inject({ method: 'POST', url: '/v1/domains', headers, payload });
    t.equal(retry.statusCode, 201, retry.body);
    const again = await app.inject({ method: 'POST', url: '/v1/domains', headers, payload });
    t.equal(again.statusCode, 201);
    t.equal(again.headers['idempotent-replayed'], 'true');
    t.equal(await chargesFor(store, r.accountId, name), 1);
  },
);

t.test(
  'hardening-16: a response lost after the commit: the retry answers the original, and nothing runs twice',
  async (t) => {
    const { app, store } = await buildTestApp(t, { configure: losesResponses });
    const { r } = await domainSetup(app);
    const d = await registered(app, r, 'lost-answer.com');

    loseNextResponse = true;
    const renewHeaders = { ...bearer(r.token), 'idempotency-key': 'lost-renew-1' };
    t.equal(
      (
        await app.inject({
          method: 'POST',
          url: `/v1/domains/${d.name}/renew`,
          headers: renewHeaders,
          payload: { period_years: 1 },
        })
      ).statusCode,
      500,
    );
    const retry = await app.inject({
      method: 'POST',
      url: `/v1/domains/${d.name}/renew`,
      headers: renewHeaders,
      payload: { period_years: 1 },
    });
    t.equal(retry.statusCode, 200);
    t.equal(retry.headers['idempotent-replayed'], 'true', 'the original response');
    t.equal(await chargesFor(store, r.accountId, d.name), 2, 'registration + ONE renewal');

    const name = 'lost-registration.com';
    await checkNames(app, r, name);
    loseNextResponse = true;
    const headers = { ...bearer(r.token), 'idempotency-key': 'lost-register-1' };
    const payload = { name, contacts: { owner: r.contact, admin: r.contact, tech: r.contact }, nameservers: [] };
    t.equal((await app.inject({ method: 'POST', url: '/v1/domains', headers, payload })).statusCode, 500);
    const again = await app.inject({ method: 'POST', url: '/v1/domains', headers, payload });
    t.equal(again.statusCode, 201, 'the original 201, not domain_not_available');
    t.equal(again.headers['idempotent-replayed'], 'true');
    t.equal(again.json().domain.name, name);
  },
);

t.test(
  'hardening-16: inside the request transaction, handled failures answer as they do without a key, and a 5xx undoes the change',
  async (t) => {
    const { app, store } = await buildTestApp(t, { configure: losesResponses });
    const { op, r } = await domainSetup(app, 0);
    const name = 'no-funds-here.com';
    await checkNames(app, r, name);
    const poor = await app.inject({
      method: 'POST',
      url: '/v1/domains',
      headers: { ...bearer(r.token), 'idempotency-key': 'poor-1' },
      payload: { name, contacts: { owner: r.contact, admin: r.contact, tech: r.contact }, nameservers: [] },
    });
    t.equal(poor.statusCode, 402, 'a refused charge (a failed statement, handled) is still insufficient_funds');
    t.equal(poor.json().code, 'insufficient_funds');

    const owner = {
      username: 'taken-name',
      email: 'x@hosting.test',
      name: 'X',
      role: 'support',
      password: 'copper-Meadow-thistle-27#brook',
    };
    t.equal(
      (await app.inject({ method: 'POST', url: '/v1/users', headers: bearer(r.token), payload: owner })).statusCode,
      201,
    );
    const other = await reseller(app, op.token);
    const taken = await app.inject({
      method: 'POST',
      url: '/v1/users',
      headers: { ...bearer(other.token), 'idempotency-key': 'taken-1' },
      payload: owner,
    });
    t.equal(taken.statusCode, 409, 'a unique violation turned into 409');
    t.equal(taken.json().code, 'username_taken');

    const failed = await app.inject({
      method: 'POST',
      url: '/v1/test-change-then-fail',
      headers: { ...bearer(r.token), 'idempotency-key': 'change-fail-1' },
      payload: { n: 1 },
    });
    t.equal(failed.statusCode, 500);
    const rolledBack = await queryRows(
      store.db,
      sql`select 1 from contacts where account_id = ${r.accountId} and name = 'Rolled Back'`,
    );
    t.equal(rolledBack.length, 0, 'the change made before the 5xx was rolled back');
    const keys = await queryRows(store.db, sql`select 1 from idempotency_keys where key = 'change-fail-1'`);
    t.equal(keys.length, 0, 'and the key released');
  },
);

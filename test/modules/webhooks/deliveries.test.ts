// Issue 13 items 4, 5 and 8: webhook deliveries per the Standard Webhooks specification, against a
// real HTTP receiver on loopback. Jobs are off: the fan-out and the dispatcher run at injected times.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import t from 'tap';
import { Webhook } from 'standardwebhooks';
import { queryRows } from '../../../src/db/client.js';
import { MAX_ATTEMPTS, RETRY_DELAYS_MS } from '../../../src/modules/webhooks/delivery-schedule.js';
import { claimDueDeliveries } from '../../../src/modules/webhooks/delivery-store.js';
import type { Resolver } from '../../../src/lib/ssrf-guard.js';
import { buildTestApp } from '../../helpers/app.js';
import { bearer, operator, reseller } from '../../helpers/fixtures.js';
import {
  closedPort,
  deliver,
  deliveriesOf,
  emitTestEvents,
  insertEndpoint,
  LOOPBACK_ENV,
  newSecret,
  receiver,
  TestPonged,
} from '../../helpers/webhooks.js';
import { feedSettled } from '../../helpers/events.js';

const S = 1_000;
const inRange = (ms: number, base: number) => ms >= base * 0.9 - 1 && ms <= base * 1.1 + 1;
const later = (from: Date, ms: number) => new Date(from.getTime() + ms);

async function setup(
  t: { teardown(fn: () => unknown): void },
  env: Record<string, string> = LOOPBACK_ENV,
  resolver?: Resolver,
) {
  const h = await buildTestApp(t, { env, ...(resolver ? { resolver } : {}) });
  const op = await operator(h.app);
  const r = await reseller(h.app, op.token);
  return { ...h, op, r };
}

t.test(
  'R-NTF-1, issue 13 item 4/8: an event is delivered to the endpoint, signed per Standard Webhooks, and verifies with the standardwebhooks package',
  async (t) => {
    const { app, r } = await setup(t);
    const rx = await receiver(t);
    const ep = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/hook` });
    const [eventId] = await emitTestEvents(app, r.accountId, 1);
    t.equal(await deliver(app), 1, 'one attempt');
    t.equal(rx.received.length, 1, 'the receiver got it');
    const got = rx.received[0]!;
    const wh = new Webhook(ep.secret);
    t.doesNotThrow(() => wh.verify(got.body, got.headers as Record<string, string>), 'standardwebhooks verifies it');
    // The body is the event exactly as GET /v1/events/{id} shows it.
    const shown = await app.inject({ method: 'GET', url: `/v1/events/${eventId}`, headers: bearer(r.token) });
    t.equal(got.body, shown.body, 'body = GET /v1/events/{id}');
    t.equal(got.headers['content-type'], 'application/json');
    t.match(got.headers['user-agent'], /reseller-api-webhooks/);
    const [d] = await deliveriesOf(app, ep.id);
    t.equal(got.headers['webhook-id'], d!.id, 'webhook-id is the delivery id');
    t.match(got.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/, 'one v1 signature');
    // And with a few lines of node:crypto.
    const key = Buffer.from(ep.secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key)
      .update(`${String(got.headers['webhook-id'])}.${String(got.headers['webhook-timestamp'])}.${got.body}`)
      .digest('base64');
    t.equal(got.headers['webhook-signature'], `v1,${expected}`, 'node:crypto computes the same signature');
    t.equal(d!.status, 'succeeded');

    const log = await app.inject({ method: 'GET', url: `/v1/webhooks/${ep.id}/deliveries`, headers: bearer(r.token) });
    t.equal(log.statusCode, 200);
    t.equal(log.json().data.length, 1);
    t.match(log.json().data[0], {
      id: d!.id,
      event_id: eventId,
      event_type: 'webhook_test.pinged',
      status: 'succeeded',
      attempt_count: 1,
    });
    const one = await app.inject({
      method: 'GET',
      url: `/v1/webhooks/${ep.id}/deliveries/${d!.id}`,
      headers: bearer(r.token),
    });
    t.equal(one.statusCode, 200);
    t.equal(one.json().attempts.length, 1);
    t.match(one.json().attempts[0], { status_code: 200, error: null, request_body: got.body, response_body: 'ok' });

    // Fanning out again adds nothing: the event left the outbox when it was queued.
    await app.eventFanout.run();
    t.equal(await deliver(app), 0, 'nothing more to send');
    t.equal((await deliveriesOf(app, ep.id)).length, 1, 'one delivery per endpoint and event');
  },
);

t.test(
  'issue 13 item 4: only enabled endpoints of the account subscribed to the type (or *) get a delivery',
  async (t) => {
    const { app, op, r } = await setup(t);
    const other = await reseller(app, op.token);
    const rx = await receiver(t);
    const all = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/all` });
    const pinged = await insertEndpoint(app, {
      accountId: r.accountId,
      url: `${rx.url}/p`,
      eventTypes: ['webhook_test.pinged'],
    });
    const ponged = await insertEndpoint(app, {
      accountId: r.accountId,
      url: `${rx.url}/q`,
      eventTypes: ['webhook_test.ponged'],
    });
    const off = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/off`, enabled: false });
    const foreign = await insertEndpoint(app, { accountId: other.accountId, url: `${rx.url}/x` });
    await emitTestEvents(app, r.accountId, 2);
    await deliver(app);
    t.equal((await deliveriesOf(app, all.id)).length, 2);
    t.equal((await deliveriesOf(app, pinged.id)).length, 2);
    t.equal((await deliveriesOf(app, ponged.id)).length, 0);
    t.equal((await deliveriesOf(app, off.id)).length, 0);
    t.equal((await deliveriesOf(app, foreign.id)).length, 0);
    t.equal(rx.received.length, 4);
  },
);

t.test('issue 13 item 4: retries after 500s on the schedule with jitter, the same webhook-id each time', async (t) => {
  const { app, r } = await setup(t);
  let n = 0;
  const rx = await receiver(t, () => (++n <= 2 ? { status: 500, body: 'boom' } : { status: 204 }));
  const ep = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/h` });
  await emitTestEvents(app, r.accountId, 1);
  const t0 = new Date();
  await deliver(app, t0);
  let [d] = await deliveriesOf(app, ep.id);
  t.match(d, { status: 'pending', attempts: 1, last_status_code: 500, last_error: 'HTTP 500' });
  t.ok(inRange(d!.next_attempt_at.getTime() - t0.getTime(), 5 * S), 'second attempt about 5 s later (+-10%)');
  t.equal(await app.jobs.run('webhooks.deliver', later(t0, 4 * S)), 0, 'not due before its time');
  const t1 = d!.next_attempt_at;
  await app.jobs.run('webhooks.deliver', t1);
  [d] = await deliveriesOf(app, ep.id);
  t.match(d, { status: 'pending', attempts: 2 });
  t.ok(inRange(d!.next_attempt_at.getTime() - t1.getTime(), 5 * 60 * S), 'third attempt about 5 min later');
  await app.jobs.run('webhooks.deliver', d!.next_attempt_at);
  [d] = await deliveriesOf(app, ep.id);
  t.match(d, { status: 'succeeded', attempts: 3, last_status_code: 204 });
  t.equal(new Set(rx.received.map((x) => x.headers['webhook-id'])).size, 1, 'one webhook-id across the attempts');
  t.equal(rx.received.length, 3);
  const one = await app.inject({
    method: 'GET',
    url: `/v1/webhooks/${ep.id}/deliveries/${d!.id}`,
    headers: bearer(r.token),
  });
  t.same(
    one.json().attempts.map((a: { status_code: number }) => a.status_code),
    [500, 500, 204],
    'the log shows every attempt',
  );
  t.equal(one.json().attempts[0].response_body, 'boom');
  const fs = await queryRows<{ failing_since: unknown }>(
    app.db,
    sql`SELECT failing_since FROM webhook_endpoints WHERE id = ${ep.id}::uuid`,
  );
  t.equal(fs[0]!.failing_since, null, 'a success clears failing_since');
});

t.test('issue 13 item 4: an answer with a NUL byte is logged with U+FFFD in its place', async (t) => {
  const { app, r } = await setup(t);
  const rx = await receiver(t, () => ({ status: 200, body: 'a\u0000b' }));
  const ep = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/h` });
  await emitTestEvents(app, r.accountId, 1);
  t.equal(await deliver(app), 1);
  const [d] = await deliveriesOf(app, ep.id);
  t.equal(d!.status, 'succeeded', 'recorded');
  const one = await app.inject({
    method: 'GET',
    url: `/v1/webhooks/${ep.id}/deliveries/${d!.id}`,
    headers: bearer(r.token),
  });
  t.equal(one.json().attempts[0].response_body, 'a\uFFFDb');
});

t.test(
  'issue 13 item 4: the log keeps the first 4 KiB of an answer; an answer that stalls after its status line counts with what came',
  async (t) => {
    const { app, r } = await setup(t, { ...LOOPBACK_ENV, WEBHOOK_TIMEOUT_MS: '300' });
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/big') {
          res.end('y'.repeat(10_000));
          return;
        }
        // A status line and a first chunk, then nothing more.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      server.closeAllConnections();
      server.close();
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const big = await insertEndpoint(app, { accountId: r.accountId, url: `${base}/big` });
    const stall = await insertEndpoint(app, { accountId: r.accountId, url: `${base}/stall` });
    await emitTestEvents(app, r.accountId, 1);
    t.equal(await deliver(app), 2);
    const shown = async (endpointId: string) => {
      const [d] = await deliveriesOf(app, endpointId);
      const one = await app.inject({
        method: 'GET',
        url: `/v1/webhooks/${endpointId}/deliveries/${d!.id}`,
        headers: bearer(r.token),
      });
      return { d: d!, attempt: one.json().attempts[0] as { status_code: number; response_body: string } };
    };
    const b = await shown(big.id);
    t.equal(b.d.status, 'succeeded');
    t.equal(b.attempt.response_body, 'y'.repeat(4_096), 'the first 4 KiB');
    const st = await shown(stall.id);
    t.equal(st.d.status, 'succeeded', 'a 200 status line is a success');
    t.match(st.attempt, { status_code: 200, response_body: 'partial' });
  },
);

t.test('issue 13 item 4: a receiver that does not answer in time, and a closed port, are retried', async (t) => {
  const { app, r } = await setup(t, { ...LOOPBACK_ENV, WEBHOOK_TIMEOUT_MS: '300' });
  const rx = await receiver(t, () => 'hang');
  const slow = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/slow` });
  const closed = await insertEndpoint(app, { accountId: r.accountId, url: `http://127.0.0.1:${await closedPort()}/x` });
  await emitTestEvents(app, r.accountId, 1);
  const t0 = new Date();
  await deliver(app, t0);
  const [a] = await deliveriesOf(app, slow.id);
  t.match(a, { status: 'pending', attempts: 1, last_status_code: null });
  t.match(a!.last_error, /^timeout/, 'a timeout');
  t.ok(inRange(a!.next_attempt_at.getTime() - t0.getTime(), 5 * S), 'retried on the schedule');
  const [b] = await deliveriesOf(app, closed.id);
  t.match(b, { status: 'pending', attempts: 1, last_error: 'connection refused' });
  const fs = await queryRows<{ n: number }>(
    app.db,
    sql`SELECT count(*)::int AS n FROM webhook_endpoints WHERE failing_since IS NOT NULL`,
  );
  t.equal(Number(fs[0]!.n), 2, 'both endpoints are failing since');
});

t.test(
  'issue 13 item 4: Retry-After on 429 and 503 is honoured (seconds and HTTP date), not below the schedule',
  async (t) => {
    const { app, r } = await setup(t);
    let t0 = new Date();
    const answers: Record<string, () => { status: number; headers?: Record<string, string> }> = {
      '/secs': () => ({ status: 429, headers: { 'retry-after': '120' } }),
      '/date': () => ({ status: 503, headers: { 'retry-after': new Date(t0.getTime() + 3_600_000).toUTCString() } }),
      '/short': () => ({ status: 429, headers: { 'retry-after': '1' } }),
      '/ignored': () => ({ status: 500, headers: { 'retry-after': '600' } }),
    };
    const rx = await receiver(t, (req) => answers[req.path]!());
    const eps = Object.fromEntries(
      await Promise.all(
        Object.keys(answers).map(async (p) => [
          p,
          (await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}${p}` })).id,
        ]),
      ),
    ) as Record<string, string>;
    await emitTestEvents(app, r.accountId, 1);
    t0 = new Date();
    await deliver(app, t0);
    const wait = async (p: string) => (await deliveriesOf(app, eps[p]!))[0]!.next_attempt_at.getTime() - t0.getTime();
    t.equal(await wait('/secs'), 120 * S, '429 Retry-After: 120 -> 120 s');
    // An HTTP date has whole seconds: within one second of the hour.
    t.ok(Math.abs((await wait('/date')) - 3_600_000) <= 1_000, '503 Retry-After: an HTTP date an hour ahead');
    t.ok(inRange(await wait('/short'), 5 * S), 'a Retry-After shorter than the schedule: the schedule');
    t.ok(inRange(await wait('/ignored'), 5 * S), 'Retry-After on a 500 is not honoured');
  },
);

t.test(
  'issue 13 item 4: 410 Gone disables the endpoint, fails its pending deliveries and emits endpoint.disabled',
  async (t) => {
    const { app, r } = await setup(t);
    const rx = await receiver(t, (req) => (req.path === '/gone' ? { status: 410 } : { status: 200 }));
    const gone = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/gone`, maxConcurrency: 1 });
    const watcher = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/watch` });
    await emitTestEvents(app, r.accountId, 3);
    await deliver(app);
    const ds = await deliveriesOf(app, gone.id);
    t.same(
      ds.map((d) => d.status),
      ['failed', 'failed', 'failed'],
      'the 410 delivery and the pending ones are failed',
    );
    t.equal(rx.received.filter((x) => x.path === '/gone').length, 1, 'nothing more was sent after the 410');
    const ep = await queryRows<{ enabled: boolean; disabled_reason: string }>(
      app.db,
      sql`SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = ${gone.id}::uuid`,
    );
    t.match(ep[0], { enabled: false, disabled_reason: 'gone' });
    await feedSettled(app);
    const events = await app.inject({
      method: 'GET',
      url: '/v1/events?type=endpoint.disabled',
      headers: bearer(r.token),
    });
    t.equal(events.json().data.length, 1, 'one endpoint.disabled event');
    t.match(events.json().data[0], {
      type: 'endpoint.disabled',
      object: { type: 'webhook_endpoint', id: gone.id, sequence: 1 },
      data: { id: gone.id, url: `${rx.url}/gone`, disabled_reason: 'gone' },
    });
    // The event goes out to the account's other endpoints.
    await deliver(app);
    t.ok(
      rx.received.some((x) => x.path === '/watch' && JSON.parse(x.body).type === 'endpoint.disabled'),
      'the other endpoint receives endpoint.disabled',
    );
    t.equal((await deliveriesOf(app, watcher.id)).length, 4);
    // A disabled endpoint: no replay, no retry (409).
    const replay = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${gone.id}/replay`,
      headers: bearer(r.token),
      payload: { since: new Date(Date.now() - 3_600_000).toISOString() },
    });
    t.equal(replay.statusCode, 409);
    t.equal(replay.json().code, 'delivery_endpoint_disabled');
    const retry = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${gone.id}/deliveries/${ds[0]!.id}/retry`,
      headers: bearer(r.token),
    });
    t.equal(retry.statusCode, 409);
  },
);

t.test(
  `issue 13 item 4: after ${MAX_ATTEMPTS} attempts over about 3 days the delivery is dead-lettered (injected clock)`,
  async (t) => {
    const { app, r } = await setup(t);
    const rx = await receiver(t, () => ({ status: 500 }));
    const ep = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/h` });
    await emitTestEvents(app, r.accountId, 1);
    const t0 = new Date();
    await deliver(app, t0);
    let at = t0;
    for (let i = 1; i < MAX_ATTEMPTS; i++) {
      const [d] = await deliveriesOf(app, ep.id);
      t.equal(d!.status, 'pending', `pending after attempt ${i}`);
      t.ok(inRange(d!.next_attempt_at.getTime() - at.getTime(), RETRY_DELAYS_MS[i - 1]!), `delay ${i} on the schedule`);
      at = d!.next_attempt_at;
      t.equal(await app.jobs.run('webhooks.deliver', at), 1, `attempt ${i + 1}`);
    }
    const [d] = await deliveriesOf(app, ep.id);
    t.match(d, { status: 'failed', attempts: MAX_ATTEMPTS });
    t.match(d!.last_error, /last of 12 attempts/);
    const hours = (at.getTime() - t0.getTime()) / 3_600_000;
    t.ok(hours > 60 && hours < 75, `the schedule spans about 3 days (${hours.toFixed(1)} h)`);
    t.equal(rx.received.length, MAX_ATTEMPTS);
    t.equal(await app.jobs.run('webhooks.deliver', later(at, 30 * 86_400_000)), 0, 'nothing more is sent');
    const failed = await app.inject({
      method: 'GET',
      url: `/v1/webhooks/${ep.id}/deliveries?status=failed`,
      headers: bearer(r.token),
    });
    t.equal(failed.json().data.length, 1, 'the dead letter is in the log (status=failed)');

    // A manual retry sends it again now, with the same webhook-id, even though it failed.
    rx.answer = () => ({ status: 200 });
    const retry = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${ep.id}/deliveries/${d!.id}/retry`,
      headers: bearer(r.token),
    });
    t.equal(retry.statusCode, 202);
    t.match(retry.json(), { id: d!.id, status: 'pending' });
    await app.jobs.run('webhooks.deliver', new Date());
    t.equal(rx.received.length, MAX_ATTEMPTS + 1);
    t.equal(rx.received.at(-1)!.headers['webhook-id'], d!.id, 'the same webhook-id');
    t.match((await deliveriesOf(app, ep.id))[0], { status: 'succeeded', attempts: MAX_ATTEMPTS + 1 });
  },
);

t.test(
  'issue 13 item 3/4: during a rotation both secrets sign; each alone verifies with standardwebhooks',
  async (t) => {
    const { app, r } = await setup(t);
    const rx = await receiver(t);
    const old = newSecret();
    const ep = await insertEndpoint(app, {
      accountId: r.accountId,
      url: `${rx.url}/h`,
      previousSecret: { secret: old, expiresAt: new Date(Date.now() + 3_600_000) },
    });
    const expired = await insertEndpoint(app, {
      accountId: r.accountId,
      url: `${rx.url}/e`,
      previousSecret: { secret: newSecret(), expiresAt: new Date(Date.now() - 1_000) },
    });
    await emitTestEvents(app, r.accountId, 1);
    await deliver(app);
    const got = rx.received.find((x) => x.path === '/h')!;
    const sigs = String(got.headers['webhook-signature']).split(' ');
    t.equal(sigs.length, 2, 'two signatures, space-separated');
    t.doesNotThrow(
      () => new Webhook(ep.secret).verify(got.body, got.headers as Record<string, string>),
      'the new secret verifies',
    );
    t.doesNotThrow(
      () => new Webhook(old).verify(got.body, got.headers as Record<string, string>),
      'the old secret verifies',
    );
    t.throws(
      () => new Webhook(newSecret()).verify(got.body, got.headers as Record<string, string>),
      'another secret does not',
    );
    const e = rx.received.find((x) => x.path === '/e')!;
    t.equal(String(e.headers['webhook-signature']).split(' ').length, 1, 'an expired previous secret no longer signs');
    t.doesNotThrow(() => new Webhook(expired.secret).verify(e.body, e.headers as Record<string, string>));
  },
);

t.test(
  'issue 13 item 4: replay of every kept event since a time, filtered by the endpoint types and event_types',
  async (t) => {
    const { app, op, r } = await setup(t);
    const rx = await receiver(t);
    await emitTestEvents(app, r.accountId, 2);
    // created_at is kept to the millisecond (rounded): a pause on each side of \`mid\`.
    await app.db.execute(sql`SELECT pg_sleep(0.01)`);
    const mid = new Date();
    await app.db.execute(sql`SELECT pg_sleep(0.01)`);
    const ids = await emitTestEvents(app, r.accountId, 3);
    await emitTestEvents(app, r.accountId, 1, TestPonged);
    // The endpoint is created after the events: it never got them.
    const ep = await insertEndpoint(app, {
      accountId: r.accountId,
      url: `${rx.url}/h`,
      eventTypes: ['webhook_test.pinged'],
    });
    await app.db.execute(sql`DELETE FROM event_outbox`);
    const res = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${ep.id}/replay`,
      headers: bearer(r.token),
      payload: { since: mid.toISOString() },
    });
    t.equal(res.statusCode, 202, res.body);
    t.match(res.json(), { queued: 3, next_since: null });
    await app.jobs.run('webhooks.deliver', new Date());
    t.same(
      rx.received.map((x) => JSON.parse(x.body).id),
      ids,
      'the three pinged events since then, oldest first (the ponged one is not subscribed)',
    );
    const log = await app.inject({ method: 'GET', url: `/v1/webhooks/${ep.id}/deliveries`, headers: bearer(r.token) });
    t.ok(
      log.json().data.every((d: { trigger: string }) => d.trigger === 'replay'),
      'trigger replay',
    );
    // event_types narrows it further; an unknown type is 422.
    const none = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${ep.id}/replay`,
      headers: bearer(r.token),
      payload: { since: mid.toISOString(), event_types: ['webhook_test.ponged'] },
    });
    t.match(none.json(), { queued: 0 });
    const bad = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${ep.id}/replay`,
      headers: bearer(r.token),
      payload: { since: mid.toISOString(), event_types: ['no.such'] },
    });
    t.equal(bad.statusCode, 422);
    // Another account's endpoint: 404 everywhere.
    const other = await reseller(app, op.token);
    for (const [method, url] of [
      ['GET', `/v1/webhooks/${ep.id}/deliveries`],
      ['GET', `/v1/webhooks/${ep.id}/deliveries/${log.json().data[0].id}`],
      ['POST', `/v1/webhooks/${ep.id}/deliveries/${log.json().data[0].id}/retry`],
      ['POST', `/v1/webhooks/${ep.id}/replay`],
    ] as const) {
      const res = await app.inject({
        method,
        url,
        headers: bearer(other.token),
        ...(url.endsWith('replay') ? { payload: { since: mid.toISOString() } } : {}),
      });
      t.equal(res.statusCode, 404, `${method} ${url}: 404 for another account`);
    }
  },
);

t.test(
  'issue 13 item 5: a worker that dies mid-delivery leaves a lease; the delivery is sent once after it expires',
  async (t) => {
    const { app, r } = await setup(t);
    const rx = await receiver(t);
    const ep = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/h` });
    await emitTestEvents(app, r.accountId, 1);
    await app.eventFanout.run();
    const t0 = new Date();
    // A worker claims it and dies before sending or recording anything.
    const claimed = await claimDueDeliveries(app.db, t0, 60_000, 10);
    t.equal(claimed.length, 1);
    const id = claimed[0]!.items[0]!.deliveryId;
    t.equal(await app.jobs.run('webhooks.deliver', later(t0, 30_000)), 0, 'not retried while the lease lives');
    const one = await app.inject({
      method: 'GET',
      url: `/v1/webhooks/${ep.id}/deliveries/${id}`,
      headers: bearer(r.token),
    });
    t.equal(one.json().in_flight, true, 'shown in flight');
    const busy = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${ep.id}/deliveries/${id}/retry`,
      headers: bearer(r.token),
    });
    t.equal(busy.statusCode, 409, 'no manual retry while a worker holds it');
    t.equal(busy.json().code, 'delivery_in_flight');
    t.equal(await app.jobs.run('webhooks.deliver', later(t0, 61_000)), 1, 'retried after the lease expired');
    t.equal(await app.jobs.run('webhooks.deliver', later(t0, 200_000)), 0, 'and only once');
    t.equal(rx.received.length, 1);
    t.equal(rx.received[0]!.headers['webhook-id'], id, 'with the webhook-id the dead worker had');
    t.match((await deliveriesOf(app, ep.id))[0], { id, status: 'succeeded', attempts: 1, leased_until: null });
  },
);

t.test(
  'issue 13 item 6: the SSRF guard at delivery time: a name now resolving to loopback is refused, nothing is sent',
  async (t) => {
    const rx = await receiver(t);
    let answer = '93.184.216.34';
    const resolver = async () => [{ address: answer, family: 4 }];
    // No allowed ranges: loopback is refused.
    const { app, r } = await setup(t, {}, resolver);
    const ep = await insertEndpoint(app, { accountId: r.accountId, url: `http://hooks.example.test:${rx.port}/h` });
    answer = '127.0.0.1';
    await emitTestEvents(app, r.accountId, 1);
    await deliver(app);
    const [d] = await deliveriesOf(app, ep.id);
    t.match(d, { status: 'pending', attempts: 1, last_status_code: null });
    t.match(
      d!.last_error,
      /^refused by the SSRF guard: hooks\.example\.test resolves to 127\.0\.0\.1 is a loopback address/,
    );
    t.equal(rx.received.length, 0, 'nothing reached the receiver');
  },
);

t.test(
  'issue 13 item 5: per-endpoint concurrency: a slow endpoint has at most 2 in flight while another endpoint is served',
  async (t) => {
    const { app, r } = await setup(t);
    const held: (() => void)[] = [];
    let maxSlow = 0;
    const rx = await receiver(t, (req) => {
      if (req.path !== '/slow') return { status: 200 };
      maxSlow = Math.max(maxSlow, rx.inFlight.get('/slow') ?? 0);
      return new Promise((resolve) => held.push(() => resolve({ status: 200 })));
    });
    const slow = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/slow`, maxConcurrency: 2 });
    const fast = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/fast`, maxConcurrency: 2 });
    await emitTestEvents(app, r.accountId, 6);
    await app.eventFanout.run();
    const run = app.jobs.run('webhooks.deliver', new Date());
    // Wait until every fast delivery is through while the slow endpoint still holds its first two.
    for (let i = 0; i < 500 && rx.received.filter((x) => x.path === '/fast').length < 6; i++)
      await new Promise((res) => setTimeout(res, 10));
    t.equal(rx.received.filter((x) => x.path === '/fast').length, 6, 'the fast endpoint got all 6');
    t.equal(rx.received.filter((x) => x.path === '/slow').length, 2, 'the slow one only its first 2, still unanswered');
    // Release the slow ones as they come.
    for (let i = 0; i < 1000 && rx.received.filter((x) => x.path === '/slow').length + held.length > 0; i++) {
      held.splice(0).forEach((f) => f());
      if (
        rx.received.filter((x) => x.path === '/slow').length === 6 &&
        held.length === 0 &&
        (rx.inFlight.get('/slow') ?? 0) === 0
      )
        break;
      await new Promise((res) => setTimeout(res, 10));
    }
    await run;
    t.equal(rx.received.filter((x) => x.path === '/slow').length, 6);
    t.ok(maxSlow <= 2, `never more than 2 in flight to the slow endpoint (max ${maxSlow})`);
    const slowStates = await deliveriesOf(app, slow.id);
    t.ok(
      slowStates.every((d) => d.status === 'succeeded'),
      'every slow delivery succeeded',
      { states: slowStates.map((d) => `${d.status} ${d.attempts} ${d.last_error}`) },
    );
    t.ok((await deliveriesOf(app, fast.id)).every((d) => d.status === 'succeeded'));
  },
);

t.test(
  'issue 13 item 4: an endpoint failing every delivery for 5 days is disabled (failing) with endpoint.disabled',
  async (t) => {
    const { app, r } = await setup(t);
    const rx = await receiver(t, () => ({ status: 500 }));
    const ep = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/h` });
    const fine = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/ok` });
    await emitTestEvents(app, r.accountId, 1);
    const t0 = new Date();
    await deliver(app, t0);
    await app.db.execute(sql`UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ${fine.id}::uuid`);
    t.equal(await app.jobs.run('webhooks.disable-failing', later(t0, 4 * 86_400_000)), 0, 'not after 4 days');
    t.equal(await app.jobs.run('webhooks.disable-failing', later(t0, 5 * 86_400_000 + 1_000)), 1, 'after 5 days');
    const rows = await queryRows<{ enabled: boolean; disabled_reason: string }>(
      app.db,
      sql`SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = ${ep.id}::uuid`,
    );
    t.match(rows[0], { enabled: false, disabled_reason: 'failing' });
    t.match((await deliveriesOf(app, ep.id))[0], { status: 'failed' });
    await feedSettled(app);
    const events = await app.inject({
      method: 'GET',
      url: '/v1/events?type=endpoint.disabled',
      headers: bearer(r.token),
    });
    t.match(events.json().data, [{ data: { id: ep.id, disabled_reason: 'failing' } }]);
    t.equal(await app.jobs.run('webhooks.disable-failing', later(t0, 6 * 86_400_000)), 0, 'once');
  },
);

t.test('issue 13 item 4: attempt bodies are cleared after the retention period (30 days)', async (t) => {
  const { app, r } = await setup(t);
  let n = 0;
  const rx = await receiver(t, () => (++n === 1 ? { status: 500, body: 'boom' } : { status: 200, body: 'ok' }));
  const ep = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/h` });
  await emitTestEvents(app, r.accountId, 1);
  const t0 = new Date();
  await deliver(app, t0);
  await app.jobs.run('webhooks.deliver', later(t0, 10 * S));
  t.equal(await app.jobs.run('webhooks.purge-bodies', later(t0, 29 * 86_400_000)), 0);
  t.equal(await app.jobs.run('webhooks.purge-bodies', later(t0, 31 * 86_400_000)), 2, "both attempts' answers");
  // The request body is the event: it goes when the event does (kept 30 days as well).
  await app.jobs.run('events.purge', later(t0, 31 * 86_400_000));
  const [d] = await deliveriesOf(app, ep.id);
  const one = await app.inject({
    method: 'GET',
    url: `/v1/webhooks/${ep.id}/deliveries/${d!.id}`,
    headers: bearer(r.token),
  });
  t.match(one.json().attempts, [
    { status_code: 500, request_body: null, response_body: null },
    { status_code: 200, request_body: null, response_body: null },
  ]);
});

t.test(
  'issue 13 item 4: every endpoint gets the same body, the event as the feed shows it; a retry after the event is purged is not sent',
  async (t) => {
    const { app, r } = await setup(t);
    const rx = await receiver(t, (req) => (req.path === '/a' ? { status: 200 } : { status: 500 }));
    const a = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/a` });
    const b = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/b` });
    const [eventId] = await emitTestEvents(app, r.accountId, 1);
    const t0 = new Date();
    await deliver(app, t0);
    const feed = await app.inject({ method: 'GET', url: `/v1/events/${eventId}`, headers: bearer(r.token) });
    t.same(
      rx.received.map((x) => [x.path, JSON.parse(x.body)]).sort(),
      [
        ['/a', feed.json()],
        ['/b', feed.json()],
      ],
      'both endpoints got the event as the feed shows it',
    );
    // The dispatcher still holds the body it rendered; the retry must read the event afresh.
    await app.jobs.run('events.purge', later(t0, 31 * 86_400_000));
    t.equal(await app.jobs.run('webhooks.deliver', later(t0, 31 * 86_400_000)), 1, 'the retry is due');
    t.equal(rx.received.length, 2, 'and is not sent: there is no event to send');
    t.match(await deliveriesOf(app, b.id), [{ status: 'failed' }]);
    t.match(await deliveriesOf(app, a.id), [{ status: 'succeeded' }]);
  },
);

t.test(
  'issue 13 item 4: finished deliveries and their attempts are deleted after WEBHOOK_LOG_RETENTION_DAYS (90); pending ones stay',
  async (t) => {
    const { app, r } = await setup(t);
    const rx = await receiver(t, (req) => (JSON.parse(req.body).data.n === 0 ? { status: 200 } : { status: 500 }));
    const ep = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/h` });
    await emitTestEvents(app, r.accountId, 2);
    const t0 = new Date();
    await deliver(app, t0);
    const before = await deliveriesOf(app, ep.id);
    t.same(before.map((d) => d.status).sort(), ['pending', 'succeeded'], 'one delivered, one to be retried');
    t.equal(await app.jobs.run('webhooks.purge-log', later(t0, 89 * 86_400_000)), 0, 'kept for 90 days');
    t.equal(await app.jobs.run('webhooks.purge-log', later(t0, 91 * 86_400_000)), 1, 'then the finished one goes');
    const after = await deliveriesOf(app, ep.id);
    t.same(
      after.map((d) => d.status),
      ['pending'],
      'the pending delivery stays, whatever its age',
    );
    const one = await app.inject({
      method: 'GET',
      url: `/v1/webhooks/${ep.id}/deliveries/${after[0]!.id}`,
      headers: bearer(r.token),
    });
    t.equal(one.json().attempts.length, 1, "the pending one's attempt stays");
  },
);

t.test('issue 13 item 4: the delivery log pages with a cursor and filters by status', async (t) => {
  const { app, r } = await setup(t);
  const rx = await receiver(t, (req) => (JSON.parse(req.body).data.n % 2 === 0 ? { status: 200 } : { status: 500 }));
  const ep = await insertEndpoint(app, { accountId: r.accountId, url: `${rx.url}/h` });
  await emitTestEvents(app, r.accountId, 5);
  await deliver(app);
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const res: { statusCode: number; json(): { data: { id: string }[]; next_cursor: string | null } } =
      await app.inject({
        method: 'GET',
        url: `/v1/webhooks/${ep.id}/deliveries?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        headers: bearer(r.token),
      });
    t.equal(res.statusCode, 200);
    seen.push(...res.json().data.map((d: { id: string }) => d.id));
    cursor = res.json().next_cursor;
  } while (cursor);
  t.equal(new Set(seen).size, 5, 'every delivery once across pages');
  const pending = await app.inject({
    method: 'GET',
    url: `/v1/webhooks/${ep.id}/deliveries?status=pending`,
    headers: bearer(r.token),
  });
  t.equal(pending.json().data.length, 2, 'the two failed-once deliveries are pending');
});

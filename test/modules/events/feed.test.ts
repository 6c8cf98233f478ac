// Issue 13 items 1-2: events written in the change's transaction, the feed in commit-safe order with
// per-object sequence numbers, filters, paging, tenancy, retention, the catalogue and the fan-out.
import t from 'tap';
import { sql } from 'drizzle-orm';
import { Type } from 'typebox';
import { buildTestApp } from '../../helpers/app.js';
import { onPostgres } from '../../helpers/db.js';
import { feedSettled } from '../../helpers/events.js';
import { bearer, operator, reseller } from '../../helpers/fixtures.js';
import { defineEventType, emitEvent } from '../../../src/modules/events/api.js';
import type { App } from '../../../src/app.js';

const ThingChanged = defineEventType({
  type: 'test_thing.changed',
  group: 'domains',
  objectType: 'test_thing',
  summary: 'A test thing changed (test only)',
  data: Type.Object({ n: Type.Integer() }, { additionalProperties: false }),
});

const emit = (app: App, accountId: string, objectId: string, n: number) =>
  app.db.transaction((tx) => emitEvent(tx, ThingChanged, { accountId, objectId, data: { n } }));

const feed = async (app: App, token: string, query = '', settle = true) => {
  if (settle) await feedSettled(app);
  const res = await app.inject({ method: 'GET', url: `/v1/events${query}`, headers: bearer(token) });
  return { status: res.statusCode, body: res.json() };
};

t.test('an event is written with its change: a rolled-back transaction leaves none', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  await t.rejects(
    app.db.transaction(async (tx) => {
      await emitEvent(tx, ThingChanged, { accountId: a.accountId, objectId: 'x', data: { n: 1 } });
      throw new Error('the change failed');
    }),
    /the change failed/,
  );
  t.same((await feed(app, a.token)).body.data, [], 'no event from the rolled-back change');
  await emit(app, a.accountId, 'x', 2);
  const events = (await feed(app, a.token)).body.data;
  t.equal(events.length, 1);
  t.equal(events[0].object.sequence, 1, 'the rolled-back event did not use up a sequence number');
});

t.test('the feed: oldest first, per-object sequence, filters, after, cursor, one event by id', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  const b = await reseller(app, op.token);
  for (let n = 1; n <= 3; n++) await emit(app, a.accountId, 'one', n);
  await emit(app, a.accountId, 'two', 10);
  await emit(app, b.accountId, 'one', 99);

  const all = (await feed(app, a.token)).body;
  t.same(
    all.data.map((e: { object: { id: string; sequence: number }; data: { n: number } }) => [
      e.object.id,
      e.object.sequence,
      e.data.n,
    ]),
    [
      ['one', 1, 1],
      ['one', 2, 2],
      ['one', 3, 3],
      ['two', 1, 10],
    ],
    "only the account's events, oldest first, numbered per object",
  );
  t.equal(all.next_cursor, null);
  const first = all.data[0];
  t.match(first, {
    type: 'test_thing.changed',
    account_id: a.accountId,
    object: { type: 'test_thing', id: 'one', sequence: 1 },
    data: { n: 1 },
  });
  t.ok(Date.parse(first.created_at));

  t.same(
    (await feed(app, a.token, '?object_id=two')).body.data.map((e: { data: { n: number } }) => e.data.n),
    [10],
  );
  t.same((await feed(app, a.token, '?type=test_thing.changed&limit=1')).body.data.length, 1);
  const unknown = await feed(app, a.token, '?type=no.such_type');
  t.equal(unknown.status, 422);
  t.equal(unknown.body.code, 'unknown_event_type');
  for (const empty of ['?type=', '?type=,,,', '?type=%20,%20']) {
    const none = await feed(app, a.token, empty);
    t.equal(none.status, 422, `${empty} filters nothing: refused, not read as every type`);
    t.equal(none.body.code, 'unknown_event_type');
  }

  const after = (await feed(app, a.token, `?after=${all.data[1].id}`)).body.data;
  t.same(
    after.map((e: { id: string }) => e.id),
    all.data.slice(2).map((e: { id: string }) => e.id),
    'after= gives the events after that one',
  );

  const page1 = (await feed(app, a.token, '?limit=3')).body;
  t.equal(page1.data.length, 3);
  t.type(page1.next_cursor, 'string');
  const page2 = (await feed(app, a.token, `?limit=3&cursor=${encodeURIComponent(page1.next_cursor)}`)).body;
  t.same(
    [...page1.data, ...page2.data].map((e: { id: string }) => e.id),
    all.data.map((e: { id: string }) => e.id),
    'the cursor continues where the page ended',
  );

  const one = await app.inject({ method: 'GET', url: `/v1/events/${first.id}`, headers: bearer(a.token) });
  t.equal(one.statusCode, 200);
  t.same(one.json(), first);
  const foreign = await app.inject({ method: 'GET', url: `/v1/events/${first.id}`, headers: bearer(b.token) });
  t.equal(foreign.statusCode, 404, "another account's event is not found");
  const badAfter = await feed(app, b.token, `?after=${first.id}`);
  t.equal(badAfter.status, 404, "after= another account's event is not found");
});

t.test('the catalogue lists every type with its data schema', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  const res = await app.inject({ method: 'GET', url: '/v1/event-types', headers: bearer(a.token) });
  t.equal(res.statusCode, 200);
  const mine = res.json().data.find((x: { type: string }) => x.type === 'test_thing.changed');
  t.match(mine, { group: 'domains', object_type: 'test_thing', data_schema: { type: 'object', required: ['n'] } });
  const registered = res.json().data.find((x: { type: string }) => x.type === 'domain.registered');
  t.match(registered.data_schema, { type: 'object', properties: { name: { type: 'string' } } });
  t.notOk(JSON.stringify(res.json()).includes('"$ref"'), 'every data schema stands alone: no references');
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  t.ok(doc.webhooks['test_thing.changed'].post.requestBody, 'the OpenAPI document lists it under webhooks');
});

t.test('events older than the retention are purged, once fanned out', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  await emit(app, a.accountId, 'old', 1);
  await emit(app, a.accountId, 'new', 1);
  await app.db.execute(sql`UPDATE events SET created_at = now() - interval '31 days' WHERE object_id = 'old'`);
  t.equal(await app.jobs.run('events.purge', new Date()), 0, 'not before the fan-out has read it');
  t.equal(await app.eventFanout.run(), 2);
  t.equal(await app.jobs.run('events.purge', new Date()), 1);
  t.same(
    (await feed(app, a.token)).body.data.map((e: { object: { id: string } }) => e.object.id),
    ['new'],
  );
});

t.test('the fan-out hands each committed event to every sink once', async (t) => {
  const { app } = await buildTestApp(t);
  const op = await operator(app);
  const a = await reseller(app, op.token);
  const seen: string[] = [];
  app.eventFanout.addSink('test', {
    fanOut: async (_tx, events) => {
      seen.push(...events.map((e) => e.id));
    },
  });
  for (let n = 0; n < 5; n++) await emit(app, a.accountId, `o${n}`, n);
  const runs = await Promise.all([app.eventFanout.run(), app.eventFanout.run()]);
  t.equal(runs[0] + runs[1], 5, 'two passes at once split the events');
  t.equal(new Set(seen).size, 5);
  t.equal(seen.length, 5, 'none handed out twice');
  t.equal(await app.eventFanout.run(), 0);
});

t.test(
  'commit-safe order: an event appears only once every older transaction has ended',
  { skip: !onPostgres && 'needs two connections (PostgreSQL)' },
  async (t) => {
    const { app } = await buildTestApp(t);
    const op = await operator(app);
    const a = await reseller(app, op.token);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let written!: () => void;
    const wroteFirst = new Promise<void>((r) => (written = r));
    const slow = app.db.transaction(async (tx) => {
      await emitEvent(tx, ThingChanged, { accountId: a.accountId, objectId: 'slow', data: { n: 1 } });
      written();
      await held;
    });
    await wroteFirst;
    await emit(app, a.accountId, 'fast', 2);
    t.same(
      (await feed(app, a.token, '', false)).body.data,
      [],
      'the later commit waits behind the open older transaction',
    );
    release();
    await slow;
    t.same(
      (await feed(app, a.token)).body.data.map((e: { object: { id: string } }) => e.object.id),
      ['slow', 'fast'],
      'then both, in transaction order: a reader paging with after= misses neither',
    );
  },
);

// Webhook test helpers: endpoints inserted straight into webhook_endpoints (the endpoints API lands
// separately), a test event type and emitter, and a real HTTP receiver on loopback.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { Type } from 'typebox';
import type { App } from '../../src/app.js';
import { queryRows } from '../../src/db/client.js';
import { defineEventType, emitEvent } from '../../src/modules/events/api.js';
import { listDeliveries } from '../../src/modules/webhooks/delivery-store.js';

export const LOOPBACK_ENV = { WEBHOOK_ALLOWED_RANGES: '127.0.0.0/8,::1/128' };

/** A Standard Webhooks secret: whsec_ + base64 of 24 random bytes. */
export const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

export const TestPinged = defineEventType({
  type: 'webhook_test.pinged',
  group: 'webhooks',
  objectType: 'webhook_test',
  summary: 'A test event (tests only)',
  data: Type.Object({ n: Type.Integer() }, { additionalProperties: false }),
});
export const TestPonged = defineEventType({
  type: 'webhook_test.ponged',
  group: 'webhooks',
  objectType: 'webhook_test',
  summary: 'Another test event (tests only)',
  data: Type.Object({ n: Type.Integer() }, { additionalProperties: false }),
});

export interface EndpointOpts {
  accountId: string;
  url: string;
  eventTypes?: string[];
  maxConcurrency?: number;
  secret?: string;
  previousSecret?: { secret: string; expiresAt: Date };
  enabled?: boolean;
}

/** Inserts an endpoint row (secrets sealed as the endpoints API seals them); returns its id and secret. */
export async function insertEndpoint(app: App, o: EndpointOpts): Promise<{ id: string; secret: string }> {
  const secret = o.secret ?? newSecret();
  const [row] = await queryRows<{ id: string }>(
    app.db,
    sql`INSERT INTO webhook_endpoints (account_id, url, event_types, enabled, secret_sealed, previous_secret_sealed,
                                       previous_secret_expires_at, max_concurrency)
        VALUES (${o.accountId}::uuid, ${o.url}, ${sql.param(o.eventTypes ?? ['*'])}::text[], ${o.enabled ?? true},
                ${app.secretBox.seal(secret)}, ${o.previousSecret ? app.secretBox.seal(o.previousSecret.secret) : null},
                ${o.previousSecret ? o.previousSecret.expiresAt.toISOString() : null}::timestamptz, ${o.maxConcurrency ?? 10})
        RETURNING id`,
  );
  return { id: row!.id, secret };
}

/** Emits `count` test events for the account (each its own transaction); returns their ids. */
export async function emitTestEvents(app: App, accountId: string, count = 1, type = TestPinged): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const e = await app.db.transaction((tx) =>
      emitEvent(tx, type, { accountId, objectId: `obj-${i}`, data: { n: i } }),
    );
    ids.push(e.id);
  }
  return ids;
}

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver answers: a status (and headers, body), or 'hang' (never answers). */
export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Requests being answered now (not yet answered), per path. */
  inFlight: Map<string, number>;
  answer: (req: Received) => Answer | Promise<Answer>;
  close(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A real HTTP receiver on 127.0.0.1, port 0. Closed at teardown (hanging requests are cut). */
export async function receiver(t: Teardown, answer: Receiver['answer'] = () => ({ status: 200 })): Promise<Receiver> {
  const hanging = new Set<ServerResponse>();
  const r: Receiver = {
    url: '',
    port: 0,
    received: [],
    inFlight: new Map(),
    answer,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const got: Received = {
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      r.received.push(got);
      r.inFlight.set(got.path, (r.inFlight.get(got.path) ?? 0) + 1);
      const done = () => r.inFlight.set(got.path, (r.inFlight.get(got.path) ?? 1) - 1);
      Promise.resolve(r.answer(got)).then(
        (a) => {
          if (a === 'hang') {
            hanging.add(res);
            res.on('close', done);
            return;
          }
          done();
          res.writeHead(a.status, { 'content-type': 'text/plain', ...(a.headers ?? {}) });
          res.end(a.body ?? 'ok');
        },
        () => {
          done();
          res.destroy();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${r.port}`;
  t.teardown(() => r.close());
  return r;
}

/** A loopback port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Runs the fan-out, then one dispatcher pass at `now`. */
export async function deliver(app: App, now = new Date()): Promise<number> {
  await app.eventFanout.run();
  return app.jobs.run('webhooks.deliver', now);
}

export interface DeliveryState {
  id: string;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  leased_until: Date | null;
  last_error: string | null;
  last_status_code: number | null;
}

/** The endpoint's deliveries as the delivery log has them (queued first attempts included), oldest first. */
export async function deliveriesOf(app: App, endpointId: string): Promise<DeliveryState[]> {
  const rows = await listDeliveries(app.db, { endpointId, limit: 10_000 });
  return rows.reverse().map((r) => ({
    id: r.id,
    status: r.status,
    attempts: r.attempts,
    next_attempt_at: r.next_attempt_at,
    leased_until: r.leased_until,
    last_error: r.last_error,
    last_status_code: r.last_status_code,
  }));
}

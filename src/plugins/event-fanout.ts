// The outbox's reader: events committed by any instance are handed to the sinks (webhook
// deliveries, e-mail notifications) that the areas add with `app.eventFanout.addSink(name, sink)`.
// A pass claims unread events with FOR UPDATE SKIP LOCKED in batches, calls every sink in the same
// transaction (a sink writes its own rows: deliveries, queued e-mails) and marks the events read, so
// an event is fanned out exactly once across instances, and a crash mid-batch leaves it unread. Each
// instance that runs jobs polls every EVENTS_FANOUT_POLL_MS while idle and loops while batches come
// back full; `afterCommit` of a sink runs after each batch (e.g. to wake a delivery worker).
import fp from 'fastify-plugin';
import { sql } from 'drizzle-orm';
import { jsonValue, queryRows, type Tx } from '../db/client.js';

export interface FanoutEvent {
  id: string;
  type: string;
  account_id: string;
  object_type: string;
  object_id: string;
  object_sequence: number;
  data: unknown;
  created_at: Date;
}

export interface EventSink {
  /** Writes what the events need (in the batch's transaction). */
  fanOut(tx: Tx, events: FanoutEvent[]): Promise<void>;
  /** After the batch committed. */
  afterCommit?(events: FanoutEvent[]): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    eventFanout: {
      addSink(name: string, sink: EventSink): void;
      /** One pass over every unread event (tests call it; the loop calls it too); returns how many it read. */
      run(): Promise<number>;
      /** Wakes this instance's loop now (after a local commit). */
      wake(): void;
    };
  }
}

export interface EventFanoutOptions {
  enabled: boolean;
  pollMs: number;
  batchSize?: number;
}

export default fp<EventFanoutOptions>(
  async function eventFanoutPlugin(app, opts) {
    const sinks = new Map<string, EventSink>();
    const batchSize = opts.batchSize ?? 500;

    const pass = async (): Promise<FanoutEvent[]> => {
      let read: FanoutEvent[] = [];
      await app.db.transaction(async (tx) => {
        const rows = await queryRows<FanoutEvent & Record<string, unknown>>(
          tx,
          sql`SELECT id, type, account_id, object_type, object_id, object_sequence, data, created_at
              FROM events WHERE NOT fanned_out ORDER BY position LIMIT ${batchSize} FOR UPDATE SKIP LOCKED`,
        );
        if (rows.length === 0) return;
        read = rows.map((r) => ({
          ...r,
          object_sequence: Number(r.object_sequence),
          created_at: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
          data: jsonValue<unknown>(r.data),
        }));
        for (const sink of sinks.values()) await sink.fanOut(tx, read);
        await tx.execute(
          sql`UPDATE events SET fanned_out = true WHERE id = ANY(${sql.param(read.map((e) => e.id))}::uuid[])`,
        );
      });
      for (const sink of sinks.values()) sink.afterCommit?.(read);
      return read;
    };

    const run = async (): Promise<number> => {
      let total = 0;
      for (;;) {
        const n = (await pass()).length;
        total += n;
        if (n < batchSize) return total;
      }
    };

    let timer: NodeJS.Timeout | undefined;
    let running: Promise<unknown> | undefined;
    let closing = false;
    const tick = () => {
      timer = undefined;
      if (closing || running) return;
      running = run()
        .catch((err: unknown) => app.log.error({ err }, 'event fan-out failed'))
        .finally(() => {
          running = undefined;
          if (!closing) timer = setTimeout(tick, opts.pollMs);
        });
    };

    app.decorate('eventFanout', {
      addSink(name: string, sink: EventSink) {
        if (sinks.has(name)) throw new Error(`event sink ${name} added twice`);
        sinks.set(name, sink);
      },
      run,
      wake() {
        if (!opts.enabled || closing || running) return;
        if (timer) clearTimeout(timer);
        timer = setTimeout(tick, 0);
      },
    });

    if (opts.enabled) {
      app.addHook('onReady', async () => {
        timer = setTimeout(tick, opts.pollMs);
      });
    }
    app.addHook('onClose', async () => {
      closing = true;
      if (timer) clearTimeout(timer);
      await running;
    });
  },
  { name: 'event-fanout', fastify: '5.x', dependencies: ['db'] },
);

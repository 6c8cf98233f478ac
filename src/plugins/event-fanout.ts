// The outbox's reader: events committed by any instance are handed to the sinks (webhook
// deliveries, e-mail notifications) that the areas add with `app.eventFanout.addSink(name, sink)`.
// Every event is written with a row in `event_outbox`. A pass deletes a batch of those rows (oldest
// first, FOR UPDATE SKIP LOCKED, so instances never take the same ones) and calls every sink in the
// same transaction (a sink writes its own rows: deliveries, queued e-mails), so an event is fanned
// out exactly once across instances, and a crash mid-batch rolls the delete back: the events stay
// queued. The events themselves are never updated. Each
// instance that runs jobs polls every EVENTS_FANOUT_POLL_MS while idle and loops while batches come
// back full; `afterCommit` of a sink runs after each batch (e.g. to wake a delivery worker).
import fp from 'fastify-plugin';
import { sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../db/client.js';

/** What a sink learns of an event: enough to route it (a sink that needs the data reads the event). */
export interface FanoutEvent {
  id: string;
  type: string;
  account_id: string;
  object_type: string;
  object_id: string;
  object_sequence: number;
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
    const batchSize = opts.batchSize ?? 2_000;

    const pass = async (): Promise<FanoutEvent[]> => {
      let read: FanoutEvent[] = [];
      await app.db.transaction(async (tx) => {
        // `= ANY (ARRAY(...))` claims the batch once. With `IN (SELECT ...)` the planner, trusting
        // statistics from when the outbox was nearly empty, joined the claim back to the outbox in
        // a nested loop that locked and scanned the outbox again for every row it deleted: 65 ms
        // a pass for 400 events, 140 µs of PostgreSQL per event (measured, bench/RESULTS.md).
        const rows = await queryRows<FanoutEvent & Record<string, unknown>>(
          tx,
          sql`WITH claimed AS (
                DELETE FROM event_outbox WHERE position = ANY (ARRAY(
                  SELECT position FROM event_outbox ORDER BY position LIMIT ${batchSize} FOR UPDATE SKIP LOCKED))
                RETURNING position, event_id)
              SELECT e.id, e.type, e.account_id, e.object_type, e.object_id, e.object_sequence, e.created_at
              FROM claimed c JOIN events e ON e.id = c.event_id ORDER BY c.position`,
        );
        if (rows.length === 0) return;
        read = rows.map((r) => ({
          ...r,
          object_sequence: Number(r.object_sequence),
          created_at: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
        }));
        for (const sink of sinks.values()) await sink.fanOut(tx, read);
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

// The delivery worker. Every instance with jobs enabled runs one: it claims due deliveries (leases,
// within each endpoint's max_concurrency across all instances: delivery-store.ts), sends them
// concurrently and records the outcomes in batches (one statement per group of finished sends,
// which also hands each freed slot to the next due delivery of the same endpoint, so a backlog
// flows without a claim per delivery). It claims again when slots were freed and not handed on or
// the fan-out wakes it, and polls every WEBHOOK_POLL_MS when idle. A worker that dies mid-delivery leaves a
// lease that expires; another worker then claims the delivery again (at least once; receivers
// dedupe on webhook-id). Tests call `run(now)`: claim and send at an injected time until nothing
// is due, awaited.
//
// Outcomes: 2xx succeeds (and clears the endpoint's failing_since). 410 Gone disables the endpoint
// ('gone'), fails its pending deliveries and emits endpoint.disabled, in one transaction. Anything
// else (another status, a timeout, a refused connection, the SSRF guard) is retried on the schedule
// of delivery-schedule.ts (Retry-After honoured on 429 and 503); after the last attempt the
// delivery is 'failed' (the dead letter, visible in the delivery log).
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/client.js';
import { emitEvent, eventView } from '../events/api.js';
import { MAX_ATTEMPTS, nextDelayMs, parseRetryAfter } from './delivery-schedule.js';
import type { Sender } from './delivery-sender.js';
import {
  claimDueDeliveries,
  disableEndpoint,
  failPendingDeliveries,
  recordAttempt,
  recordAttempts,
  type AttemptRecord,
  type ClaimedDelivery,
  type DisabledEndpointRow,
} from './delivery-store.js';
import { EndpointDisabled } from './events.js';
import { secretKey, webhookHeaders } from './signature.js';

export interface DispatcherDeps {
  db: Db;
  sender: Sender;
  /** Opens a sealed secret (app.secretBox.open). */
  openSecret: (sealed: string) => string;
  leaseMs: number;
  pollMs: number;
  /** Deliveries this instance has in flight at most. */
  maxInFlight?: number;
  /** Outcomes recorded in one statement at most. */
  maxBatch?: number;
  /** Record statements of this instance running at once at most. */
  maxFlushes?: number;
  log: FastifyBaseLogger;
  /** After an endpoint.disabled event committed (wakes the fan-out). */
  onEventEmitted?: () => void;
  /** The jitter's randomness (tests fix it). */
  random?: () => number;
  /** The clock of the webhook-timestamp header: the real time of sending. */
  wallClock?: () => number;
}

export interface Dispatcher {
  /** Claims and sends everything due at `now`, awaited, until nothing is due; returns how many attempts it made. */
  run(now?: Date): Promise<number>;
  /** Starts the background loop (instances with jobs enabled). */
  start(): void;
  /** Claim now (new deliveries were written). */
  wake(): void;
  /** Stops the loop and waits for the sends in flight. */
  stop(): Promise<void>;
}

export const disabledView = (r: DisabledEndpointRow) => ({
  id: r.id,
  url: r.url,
  disabled_reason: r.disabled_reason,
  disabled_at: r.disabled_at.toISOString(),
});

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const maxInFlight = deps.maxInFlight ?? 256;
  const random = deps.random ?? Math.random;
  const wallClock = deps.wallClock ?? Date.now;
  const inFlight = new Set<Promise<void>>();
  const keys = new Map<string, Buffer>();
  /** Sends finished so far (run() claims again when one finished while it was claiming). */
  let settledCount = 0;
  /** Sends started so far (claimed, or handed a freed slot when an outcome was recorded). */
  let startedCount = 0;
  const maxBatch = deps.maxBatch ?? 500;
  const maxFlushes = deps.maxFlushes ?? 2;

  // ---- outcomes, recorded in batches ----------------------------------------------------------
  // Finished sends queue their outcome; one flush at a time writes everything queued in one
  // statement (recordAttempts), so a burst of answers costs one round trip and one commit, not one
  // per delivery. Outcomes that arrive during a flush go in the next one. A delivery stays in
  // flight (and leased) until its outcome is written.
  interface Queued {
    record: AttemptRecord;
    done: (err?: unknown) => void;
  }
  let queue: Queued[] = [];
  /** Flushes running (at most maxFlushes: while one waits for the database the next can start). */
  let flushing = 0;
  let flushSoon = false;

  const record = (r: AttemptRecord): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      queue.push({ record: r, done: (err) => (err === undefined ? resolve() : reject(toError(err))) });
      if (flushing < maxFlushes && !flushSoon) {
        // Answers that arrive in the same turn of the event loop join this batch.
        flushSoon = true;
        setImmediate(() => {
          flushSoon = false;
          void flush();
        });
      }
    });

  async function flush(): Promise<void> {
    if (flushing >= maxFlushes) return;
    flushing++;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, maxBatch);
        queue = queue.slice(batch.length);
        try {
          const records = batch.map((q) => q.record);
          // The lease clock: the real time in the loop; run(now)'s injected time otherwise.
          const at = looping ? new Date() : new Date(Math.max(...records.map((r) => r.attemptedAt.getTime())));
          const handed = await recordAttempts(
            deps.db,
            records,
            closing ? undefined : { now: at, leaseMs: deps.leaseMs },
          );
          // The freed slots went to the next due deliveries of the same endpoints: send them now
          // (before settling, so a claim that follows sees them in flight).
          launch(handed, at);
          for (const q of batch) q.done();
          // Slots freed and not handed on (nothing more due there, or the limit was lowered): claim.
          if (handed.length < records.length) freed();
        } catch (err) {
          // One bad row (or a deadlock on an endpoint row) must not lose the others: one by one.
          deps.log.warn({ err, n: batch.length }, 'webhook dispatcher: batch record failed, recording one by one');
          for (const q of batch) {
            try {
              await recordAttempt(deps.db, q.record);
              q.done();
            } catch (e) {
              q.done(e);
            }
          }
          freed();
        }
      }
    } finally {
      flushing--;
    }
  }

  const keyOf = (sealed: string): Buffer => {
    let k = keys.get(sealed);
    if (!k) {
      if (keys.size > 10_000) keys.clear();
      k = secretKey(deps.openSecret(sealed));
      keys.set(sealed, k);
    }
    return k;
  };

  /** Sends one claimed delivery and records what happened. */
  async function attempt(c: ClaimedDelivery, now: Date): Promise<void> {
    const base = {
      deliveryId: c.id,
      endpointId: c.endpointId,
      lease: c.lease,
      attemptsBefore: c.attempts,
      attemptedAt: now,
    };
    if (!c.event) {
      await record({
        ...base,
        statusCode: null,
        durationMs: 0,
        error: 'the event is no longer kept',
        requestBody: null,
        responseBody: null,
        status: 'failed',
        nextAttemptAt: null,
      });
      return;
    }
    const body = JSON.stringify(eventView(c.event));
    const signing = [keyOf(c.secretSealed)];
    if (c.previousSecretSealed && c.previousSecretExpiresAt && c.previousSecretExpiresAt > now)
      signing.push(keyOf(c.previousSecretSealed));
    const headers = webhookHeaders(signing, c.id, Math.floor(wallClock() / 1000), body);
    const result = await deps.sender.send(c.url, headers, body);
    const attempts = c.attempts + 1;
    const outcome: AttemptRecord = {
      ...base,
      statusCode: result.statusCode,
      durationMs: result.durationMs,
      error:
        result.error ?? (result.statusCode !== null && !ok(result.statusCode) ? `HTTP ${result.statusCode}` : null),
      requestBody: body,
      responseBody: result.responseBody,
      status: 'pending',
      nextAttemptAt: null,
    };
    if (result.statusCode !== null && ok(result.statusCode)) {
      await record({ ...outcome, status: 'succeeded' });
      return;
    }
    if (result.statusCode === 410) {
      const disabled = await deps.db.transaction(async (tx) => {
        await recordAttempt(tx, { ...outcome, status: 'failed', error: 'HTTP 410 Gone: endpoint disabled' });
        const row = await disableEndpoint(tx, c.endpointId, 'gone', now);
        if (!row) return false;
        await failPendingDeliveries(tx, c.endpointId, now, 'endpoint disabled: the receiver answered 410 Gone');
        await emitEvent(tx, EndpointDisabled, { accountId: row.account_id, objectId: row.id, data: disabledView(row) });
        return true;
      });
      if (disabled) deps.onEventEmitted?.();
      freed();
      return;
    }
    const retryAfter =
      result.statusCode === 429 || result.statusCode === 503 ? parseRetryAfter(result.retryAfter, now) : null;
    const delay = nextDelayMs(attempts, retryAfter, random);
    await record(
      delay === null
        ? { ...outcome, status: 'failed', error: `${outcome.error ?? 'failed'} (last of ${MAX_ATTEMPTS} attempts)` }
        : { ...outcome, nextAttemptAt: new Date(now.getTime() + delay) },
    );
  }

  /** Claims what is due (within this instance's room) and starts sending it; returns how many. */
  async function pump(now: Date): Promise<number> {
    const room = maxInFlight - inFlight.size;
    if (room <= 0) return 0;
    const claimed = await claimDueDeliveries(deps.db, now, deps.leaseMs, room);
    launch(claimed, now);
    return claimed.length;
  }

  /** Starts sending claimed deliveries. */
  function launch(claimed: readonly ClaimedDelivery[], now: Date): void {
    startedCount += claimed.length;
    for (const c of claimed) {
      const p: Promise<void> = attempt(c, now)
        .catch((err: unknown) => deps.log.error({ err, delivery: c.id }, 'webhook delivery attempt failed to record'))
        .finally(() => {
          inFlight.delete(p);
          settledCount++;
        });
      inFlight.add(p);
    }
  }

  // ---- the background loop ---------------------------------------------------------------------
  let looping = false;
  let closing = false;
  let pumping = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;

  const schedule = (ms: number) => {
    if (!looping || closing) return;
    const at = Date.now() + ms;
    if (timer && timerAt <= at) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(tick, ms);
  };

  const tick = () => {
    timer = undefined;
    timerAt = Infinity;
    if (closing) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    again = false;
    pump(new Date())
      .then(
        (n) => {
          pumping = false;
          if (again || (n > 0 && inFlight.size < maxInFlight)) schedule(0);
          else schedule(deps.pollMs);
        },
        (err: unknown) => {
          pumping = false;
          deps.log.error({ err }, 'webhook dispatcher: claiming deliveries failed');
          schedule(deps.pollMs);
        },
      )
      .catch(() => {});
  };

  // Outcomes were written and some slots were not handed on: claim (more may be due elsewhere).
  // Slots handed on need no claim: in a backlog, the record statement alone keeps them busy.
  function freed(): void {
    schedule(0);
  }

  return {
    async run(now = new Date()) {
      const first = startedCount;
      for (;;) {
        const before = settledCount;
        const n = await pump(now);
        // A send that finished while we claimed may have freed a slot: claim again first.
        if (n === 0 && settledCount === before) {
          if (inFlight.size === 0) return startedCount - first;
          await Promise.race(inFlight);
        }
      }
    },
    start() {
      if (looping) return;
      looping = true;
      schedule(deps.pollMs);
    },
    wake() {
      schedule(0);
    },
    async stop() {
      closing = true;
      if (timer) clearTimeout(timer);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await deps.sender.close();
    },
  };
}

const toError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
const ok = (status: number) => status >= 200 && status < 300;

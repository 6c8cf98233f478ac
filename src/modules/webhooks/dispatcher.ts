// The delivery worker. Every instance with jobs enabled runs one. It claims chains (leases, within
// each endpoint's max_concurrency across all instances: delivery-store.ts): a chain is one slot of
// one endpoint holding either a run of first attempts the fan-out queued, or one delivery due for a
// retry. It sends a chain's deliveries one after another (so the slot is never exceeded and one
// endpoint's events arrive in order), many chains at once, and records finished chains in batches
// (one statement per group: the deliveries written, the chains deleted). A chain stops at the first
// failure, and before a send that could outlast its lease; what it did not send goes back to the
// queue. It claims again when a chain finished or the fan-out wakes it, and polls every
// WEBHOOK_POLL_MS when idle. A worker that dies mid-chain leaves a lease that expires; another
// worker then sends the chain again, with the same delivery ids (at least once; receivers dedupe on
// webhook-id). Tests call `run(now)`: claim and send at an injected time until nothing is due.
//
// Outcomes: 2xx succeeds (and clears the endpoint's failing_since). 410 Gone disables the endpoint
// ('gone'), fails its pending deliveries and emits endpoint.disabled, in one transaction. Anything
// else (another status, a timeout, a refused connection, the SSRF guard) is retried on the schedule
// of delivery-schedule.ts (Retry-After honoured on 429 and 503); after the last attempt the
// delivery is 'failed' (the dead letter, visible in the delivery log).
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/client.js';
import { emitEvent } from '../events/api.js';
import { MAX_ATTEMPTS, nextDelayMs, parseRetryAfter } from './delivery-schedule.js';
import type { Sender } from './delivery-sender.js';
import {
  claimDueDeliveries,
  createBodyCache,
  disableEndpoint,
  failPendingDeliveries,
  recordChains,
  type AttemptOutcome,
  type ChainItem,
  type ChainOutcome,
  type ClaimedChain,
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
  /** WEBHOOK_TIMEOUT_MS: one attempt takes at most twice this. */
  timeoutMs: number;
  pollMs: number;
  /** Chains this instance sends at once at most. */
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
  const bodies = createBodyCache();
  /** Chains finished so far (run() claims again when one finished while it was claiming). */
  let settledCount = 0;
  /** Attempts made so far. */
  let attemptCount = 0;
  const maxBatch = deps.maxBatch ?? 200;
  const maxFlushes = deps.maxFlushes ?? 2;

  // ---- outcomes, recorded in batches ----------------------------------------------------------
  // Finished chains queue their outcome; a flush writes everything queued in one statement
  // (recordChains), so a burst of finished chains costs one round trip and one commit. Outcomes
  // that arrive during a flush go in the next one. A chain holds its lease until it is written.
  interface Queued {
    outcome: ChainOutcome;
    done: (err?: unknown) => void;
  }
  let queue: Queued[] = [];
  /** Flushes running (at most maxFlushes: while one waits for the database the next can start). */
  let flushing = 0;
  let flushSoon = false;

  const record = (outcome: ChainOutcome): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      queue.push({ outcome, done: (err) => (err === undefined ? resolve() : reject(toError(err))) });
      if (flushing < maxFlushes && !flushSoon) {
        // Chains that finish in the same turn of the event loop join this batch.
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
          await recordChains(
            deps.db,
            batch.map((q) => q.outcome),
          );
          for (const q of batch) q.done();
        } catch (err) {
          // One bad chain (or a deadlock on an endpoint row) must not lose the others: one by one.
          deps.log.warn({ err, n: batch.length }, 'webhook dispatcher: batch record failed, recording one by one');
          for (const q of batch) {
            try {
              await recordChains(deps.db, [q.outcome]);
              q.done();
            } catch (e) {
              q.done(e);
            }
          }
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

  /** Sends one delivery of a chain; what happened, and what becomes of the delivery. */
  async function attempt(c: ClaimedChain, item: ChainItem, now: Date): Promise<AttemptOutcome> {
    const base = { deliveryId: item.deliveryId, eventId: item.eventId, attemptedAt: now };
    const body = item.body;
    if (body === null)
      return {
        ...base,
        statusCode: null,
        durationMs: 0,
        error: 'the event is no longer kept',
        responseBody: null,
        status: 'failed',
        nextAttemptAt: null,
      };
    const signing = [keyOf(c.secretSealed)];
    if (c.previousSecretSealed && c.previousSecretExpiresAt && c.previousSecretExpiresAt > now)
      signing.push(keyOf(c.previousSecretSealed));
    const headers = webhookHeaders(signing, item.deliveryId, Math.floor(wallClock() / 1000), body);
    const result = await deps.sender.send(c.url, headers, body);
    const outcome: AttemptOutcome = {
      ...base,
      statusCode: result.statusCode,
      durationMs: result.durationMs,
      error:
        result.error ?? (result.statusCode !== null && !ok(result.statusCode) ? `HTTP ${result.statusCode}` : null),
      responseBody: result.responseBody,
      status: 'pending',
      nextAttemptAt: null,
    };
    if (result.statusCode !== null && ok(result.statusCode)) return { ...outcome, status: 'succeeded' };
    if (result.statusCode === 410) return { ...outcome, status: 'failed', error: 'HTTP 410 Gone: endpoint disabled' };
    const retryAfter =
      result.statusCode === 429 || result.statusCode === 503 ? parseRetryAfter(result.retryAfter, now) : null;
    const delay = nextDelayMs(item.attempts + 1, retryAfter, random);
    return delay === null
      ? { ...outcome, status: 'failed', error: `${outcome.error ?? 'failed'} (last of ${MAX_ATTEMPTS} attempts)` }
      : { ...outcome, nextAttemptAt: new Date(now.getTime() + delay) };
  }

  /**
   * Sends a chain's deliveries one after another and records what happened. Stops at a failure that
   * will be retried (the receiver is in trouble: the rest waits for the next claim), at a 410, when
   * stopping, and before a send that could outlast the lease.
   */
  async function sendChain(c: ClaimedChain, now: Date): Promise<void> {
    const attempts: AttemptOutcome[] = [];
    const started = performance.now();
    for (const item of c.items) {
      if (attempts.length > 0 && (closing || performance.now() - started + 2 * deps.timeoutMs > deps.leaseMs)) break;
      const a = await attempt(c, item, looping ? new Date() : now);
      attempts.push(a);
      attemptCount++;
      if (a.status === 'pending' || a.statusCode === 410) break;
    }
    if (attempts.at(-1)?.statusCode === 410) await gone({ chain: c, attempts });
    else await record({ chain: c, attempts });
  }

  /** A 410: the chain's outcome, the endpoint disabled, its pending deliveries failed, endpoint.disabled; one transaction. */
  async function gone(outcome: ChainOutcome): Promise<void> {
    const c = outcome.chain;
    const at = outcome.attempts.at(-1)!.attemptedAt;
    const disabled = await deps.db.transaction(async (tx) => {
      await recordChains(tx, [outcome]);
      const row = await disableEndpoint(tx, c.endpointId, 'gone', at);
      if (!row) return false;
      await failPendingDeliveries(tx, c.endpointId, at, 'endpoint disabled: the receiver answered 410 Gone');
      await emitEvent(tx, EndpointDisabled, { accountId: row.account_id, objectId: row.id, data: disabledView(row) });
      return true;
    });
    if (disabled) deps.onEventEmitted?.();
  }

  /** Claims what is due (within this instance's room) and starts sending it; returns how many chains. */
  async function pump(now: Date): Promise<number> {
    const room = maxInFlight - inFlight.size;
    if (room <= 0) return 0;
    const claimed = await claimDueDeliveries(deps.db, now, deps.leaseMs, room, bodies);
    for (const c of claimed) {
      const p: Promise<void> = sendChain(c, now)
        .catch((err: unknown) => deps.log.error({ err, chain: c.key }, 'webhook delivery chain failed to record'))
        .finally(() => {
          inFlight.delete(p);
          settledCount++;
          freed();
        });
      inFlight.add(p);
    }
    return claimed.length;
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

  // A chain was recorded and its slot is free: claim (its endpoint may have more waiting).
  function freed(): void {
    schedule(0);
  }

  return {
    async run(now = new Date()) {
      const first = attemptCount;
      for (;;) {
        const before = settledCount;
        const n = await pump(now);
        // A chain that finished while we claimed may have freed a slot: claim again first.
        if (n === 0 && settledCount === before) {
          if (inFlight.size === 0) return attemptCount - first;
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

// SQL of the delivery engine: the fan-out's chains, the claim (leases within each endpoint's
// concurrency), the outcomes of chains, the endpoint switches (disable, failing_since), the delivery
// log, manual retry, replay and the housekeeping sweeps. Times come in as parameters (the
// dispatcher's clock), so tests move them; only the time a chain was queued is the database's now()
// (the fan-out has no clock of its own, and nothing is due by it).
import { sql, type SQL } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import { queryRows, type Db, type Tx } from '../../db/client.js';
import { eventView, findEvents } from '../events/api.js';

const iso = (d: Date) => d.toISOString();
const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const toDateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : toDate(v));

// ---- fan-out ---------------------------------------------------------------------------------

/** Events in one chain at most (a chain holds one of its endpoint's slots while it is sent). */
export const CHAIN_MAX = 50;

/**
 * Writes queued chains: `matched` lists (endpoint_id, account_id, event_id, n, maxc), one row per
 * first attempt to make; each endpoint's events go in order of n, cut into chains so that a backlog
 * fills the endpoint's max_concurrency (maxc) slots: one event per chain when few are waiting,
 * CHAIN_MAX at most, all of about one length. Returns the deliveries queued.
 */
async function insertChains(tx: Tx, matched: SQL, trigger: 'event' | 'replay', createdAt: SQL): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    tx,
    sql`WITH m AS (${matched}),
        k AS (SELECT m.*, count(*) OVER (PARTITION BY m.endpoint_id)::numeric AS total FROM m),
        -- Chains of equal length, as many as fit whole waves of the endpoint's slots (maxc, 2*maxc...)
        -- with at most CHAIN_MAX each: a backlog then ends with every slot busy, not a few long chains.
        c AS (
          SELECT k.*, (row_number() OVER (PARTITION BY k.endpoint_id ORDER BY k.n) - 1)
                        / greatest(1, ceil(k.total / (k.maxc * ceil(k.total / (k.maxc * ${CHAIN_MAX}::numeric)))))::int
                      AS chain
          FROM k),
        ins AS (
          INSERT INTO webhook_queue (endpoint_id, account_id, delivery_ids, event_ids, trigger, created_at)
          SELECT endpoint_id, (array_agg(account_id))[1], array_agg(gen_random_uuid() ORDER BY n),
                 array_agg(event_id ORDER BY n), ${trigger}, ${createdAt}
          FROM c GROUP BY endpoint_id, chain ORDER BY endpoint_id, chain
          RETURNING cardinality(event_ids) AS n)
        SELECT coalesce(sum(n), 0)::int AS n FROM ins`,
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Queues the first attempts of these events, one per enabled endpoint of the event's account
 * subscribed to its type (or '*'). Runs in the fan-out's transaction, which deletes the events'
 * outbox rows: each event is queued once. Returns the deliveries queued.
 */
export function queueFanoutDeliveries(
  tx: Tx,
  events: readonly { id: string; type: string; account_id: string }[],
): Promise<number> {
  if (events.length === 0) return Promise.resolve(0);
  return insertChains(
    tx,
    sql`SELECT e.id AS endpoint_id, ev.account_id, ev.id AS event_id, ev.n, e.max_concurrency AS maxc
        FROM unnest(${sql.param(events.map((e) => e.id))}::uuid[], ${sql.param(events.map((e) => e.account_id))}::uuid[],
                    ${sql.param(events.map((e) => e.type))}::text[]) WITH ORDINALITY AS ev(id, account_id, type, n)
        JOIN webhook_endpoints e
          ON e.account_id = ev.account_id AND e.enabled AND e.event_types && ARRAY[ev.type, '*']`,
    'event',
    sql`now()`,
  );
}

// ---- claim -----------------------------------------------------------------------------------

/** One delivery of a claimed chain. */
export interface ChainItem {
  /** The delivery id: the webhook-id header. */
  deliveryId: string;
  eventId: string;
  /** Attempts made before this one. */
  attempts: number;
  /** The request body (the event as the API shows it), or null when the event is no longer kept. */
  body: string | null;
}

/**
 * Request bodies of recent first attempts, by event id. An event goes to each of its endpoints in a
 * chain of its own, usually claimed within moments of the others: the body is read and rendered
 * once, not once per endpoint. Events never change; the cache holds a body for seconds only (so an
 * event purged meanwhile is not sent for long after), and retries always read the event afresh.
 */
export type BodyCache = LRUCache<string, string>;
export const createBodyCache = (): BodyCache => new LRUCache<string, string>({ max: 20_000, ttl: 30_000 });

/**
 * What a worker leased: one of an endpoint's max_concurrency slots, with the deliveries to send in
 * it one after another. 'queue': first attempts (a webhook_queue row; the deliveries are written
 * when recorded). 'delivery': one existing delivery (a retry, a replay, a manual retry).
 */
export interface ClaimedChain {
  kind: 'queue' | 'delivery';
  trigger: string;
  /** The queue row's id, or the delivery's id. */
  key: string;
  endpointId: string;
  accountId: string;
  /** The lease this worker holds (its value is the claim's token). */
  lease: string;
  createdAt: Date;
  url: string;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
  items: ChainItem[];
}

/**
 * Claims up to `limit` chains for this worker, leasing them until `now + leaseMs`. An endpoint gets
 * at most max_concurrency live leases (chains and retried deliveries together) across all workers:
 * the claim (the SQL function webhook_claim) locks the endpoint rows first (SKIP LOCKED: an endpoint
 * another worker is claiming for is left to it), then counts its live leases in a new statement,
 * which sees every earlier claim committed. An endpoint's due work goes oldest first, retries and
 * queued chains alike.
 */
export async function claimDueDeliveries(
  db: Db,
  now: Date,
  leaseMs: number,
  limit: number,
  bodies: BodyCache = createBodyCache(),
): Promise<ClaimedChain[]> {
  if (limit <= 0) return [];
  const at = iso(now);
  const lease = iso(new Date(now.getTime() + leaseMs));
  // One round trip: migrations/0022_webhook_claim_function.sql has the two statements.
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`SELECT * FROM webhook_claim(${at}::timestamptz, ${lease}::timestamptz, ${limit}::int)`,
  );
  if (rows.length === 0) return [];
  const chains = rows.map((r) => ({
    r,
    queued: r.kind === 'queue',
    deliveryIds: uuidArray(r.delivery_ids),
    eventIds: uuidArray(r.event_ids),
  }));
  // The bodies: from the cache for first attempts, read and rendered once per event otherwise.
  const body = new Map<string, string>();
  const toRead = new Set<string>();
  for (const c of chains)
    for (const id of c.eventIds) {
      const cached = c.queued ? bodies.get(id) : undefined;
      if (cached !== undefined) body.set(id, cached);
      else toRead.add(id);
    }
  for (const [id, event] of await findEvents(db, [...toRead])) {
    const b = JSON.stringify(eventView(event));
    body.set(id, b);
    bodies.set(id, b);
  }
  return chains.map(({ r, queued, deliveryIds, eventIds }) => ({
    kind: queued ? ('queue' as const) : ('delivery' as const),
    trigger: String(r.trigger),
    key: String(r.key),
    endpointId: String(r.endpoint_id),
    accountId: String(r.account_id),
    lease,
    createdAt: toDate(r.created_at),
    url: String(r.url),
    secretSealed: String(r.secret_sealed),
    previousSecretSealed: (r.previous_secret_sealed as string | null) ?? null,
    previousSecretExpiresAt: toDateOrNull(r.previous_secret_expires_at),
    items: deliveryIds.map((deliveryId, i) => ({
      deliveryId,
      eventId: eventIds[i]!,
      attempts: Number(r.attempts),
      body: body.get(eventIds[i]!) ?? null,
    })),
  }));
}

/** A uuid[] as node-postgres or PGlite hands it back (an array, or its literal form {a,b}). */
function uuidArray(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  return parsePgArray(String(v));
}

// ---- outcome ---------------------------------------------------------------------------------

/** One attempt of one delivery of a chain. */
export interface AttemptOutcome {
  deliveryId: string;
  eventId: string;
  attemptedAt: Date;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  responseBody: string | null;
  /** What becomes of the delivery. */
  status: 'succeeded' | 'pending' | 'failed';
  /** With 'pending': when to try again. */
  nextAttemptAt: Date | null;
}

/** What a worker did with a claimed chain: the attempts it made, in order (a prefix of its items). */
export interface ChainOutcome {
  chain: ClaimedChain;
  attempts: AttemptOutcome[];
}

/**
 * What a batch of outcomes does to each endpoint's failing_since, as if they were recorded one by
 * one in order: a success clears it, a failure starts it unless it is already running.
 */
function failingSinceChanges(
  attempts: readonly { endpointId: string; status: string; attemptedAt: Date }[],
): { id: string; mode: string; at: string | null }[] {
  const byEndpoint = new Map<string, { mode: 'clear' | 'set' | 'start'; at: string | null }>();
  for (const r of attempts) {
    const cur = byEndpoint.get(r.endpointId);
    if (r.status === 'succeeded') byEndpoint.set(r.endpointId, { mode: 'clear', at: null });
    // After a success in this batch the failure starts the run afresh ('set'); otherwise it only
    // starts one when none is running ('start'), and later failures change nothing.
    else if (!cur) byEndpoint.set(r.endpointId, { mode: 'start', at: iso(r.attemptedAt) });
    else if (cur.mode === 'clear') byEndpoint.set(r.endpointId, { mode: 'set', at: iso(r.attemptedAt) });
  }
  return [...byEndpoint].map(([id, v]) => ({ id, ...v })).sort((x, y) => (x.id < y.id ? -1 : 1));
}

/**
 * Records what workers did with their chains, in one statement, where each worker still holds its
 * lease:
 * - a queued chain: its attempted deliveries are written (succeeded, failed, or pending with their
 *   next attempt), and the chain is deleted, or keeps only what was not sent and is released;
 * - a claimed delivery: its previous latest attempt moves to webhook_attempts and this one becomes
 *   its latest (an attempt whose lease another worker took over since still joins the history);
 * - each endpoint's failing_since, as recording the attempts one by one in order would leave it.
 * Returns the attempts recorded.
 */
export async function recordChains(db: Tx, outcomes: readonly ChainOutcome[]): Promise<number> {
  if (outcomes.length === 0) return 0;
  const queued = outcomes.filter((o) => o.chain.kind === 'queue');
  const flat = outcomes.flatMap((o) => o.attempts.map((a, i) => ({ a, c: o.chain, item: o.chain.items[i]! })));
  if (flat.length === 0 && queued.length === 0) return 0;
  const qcol = <T>(f: (o: ChainOutcome) => T) => sql.param(queued.map(f));
  const endpoints = failingSinceChanges(
    flat.map((x) => ({ endpointId: x.c.endpointId, status: x.a.status, attemptedAt: x.a.attemptedAt })),
  );
  // The attempts as one JSON array of rows: one JSON.stringify, where a dozen array parameters
  // would cost node-postgres an escaping pass per string (times in ms since the epoch).
  const attempts = JSON.stringify(
    flat.map(({ a, c, item }) => [
      c.kind === 'queue' ? c.key : null,
      a.deliveryId,
      a.eventId,
      c.trigger,
      c.endpointId,
      c.accountId,
      c.createdAt.getTime(),
      c.lease,
      item.attempts,
      a.attemptedAt.getTime(),
      a.statusCode,
      Math.max(0, Math.round(a.durationMs)),
      a.error,
      a.responseBody,
      a.status,
      (a.nextAttemptAt ?? a.attemptedAt).getTime(),
    ]),
  );
  const ms = (i: number) => sql.raw(`to_timestamp((r->>${i})::float8 / 1000)`);
  const rows = await queryRows<{ q: number; d: number }>(
    db,
    sql`WITH v AS (
          SELECT (r->>0)::bigint AS qid, (r->>1)::uuid AS id, (r->>2)::uuid AS event_id, r->>3 AS trigger,
                 (r->>4)::uuid AS endpoint_id, (r->>5)::uuid AS account_id, ${ms(6)} AS created_at,
                 (r->>7)::timestamptz AS lease, (r->>8)::int AS attempts_before, ${ms(9)} AS attempted_at,
                 (r->>10)::int AS status_code, (r->>11)::int AS duration_ms, r->>12 AS error, r->>13 AS response_body,
                 r->>14 AS status, ${ms(15)} AS next_attempt_at, n
          FROM json_array_elements(${attempts}::json) WITH ORDINALITY AS t(r, n)),
        qv AS (
          SELECT * FROM unnest(${qcol((o) => o.chain.key)}::bigint[], ${qcol((o) => o.chain.lease)}::timestamptz[],
                               ${qcol((o) => o.attempts.length)}::int[], ${qcol((o) => o.chain.items.length)}::int[])
                   AS qv(id, lease, sent, total)),
        q_done AS (
          DELETE FROM webhook_queue q USING qv
          WHERE q.id = qv.id AND q.leased_until = qv.lease AND qv.sent >= qv.total
          RETURNING q.id),
        q_rest AS (
          UPDATE webhook_queue q SET delivery_ids = q.delivery_ids[qv.sent + 1:], event_ids = q.event_ids[qv.sent + 1:],
                 leased_until = NULL
          FROM qv
          WHERE q.id = qv.id AND q.leased_until = qv.lease AND qv.sent < qv.total
          RETURNING q.id),
        held AS (SELECT id FROM q_done UNION ALL SELECT id FROM q_rest),
        new_d AS (
          INSERT INTO webhook_deliveries (id, endpoint_id, account_id, event_id, trigger, status, attempts, next_attempt_at,
                                          last_attempt_at, last_status_code, last_error, last_duration_ms, last_response_body,
                                          created_at, completed_at)
          SELECT v.id, v.endpoint_id, v.account_id, v.event_id, v.trigger, v.status, 1, v.next_attempt_at,
                 v.attempted_at, v.status_code, v.error, v.duration_ms, v.response_body,
                 v.created_at, CASE WHEN v.status = 'pending' THEN NULL ELSE v.attempted_at END
          FROM v JOIN held ON held.id = v.qid
          ORDER BY v.n
          ON CONFLICT (id) DO NOTHING
          RETURNING 1),
        cur AS (
          SELECT w.id, w.endpoint_id, w.last_attempt_at, w.last_status_code, w.last_duration_ms, w.last_error, w.last_response_body
          FROM webhook_deliveries w
          JOIN v ON v.qid IS NULL AND w.id = v.id AND w.leased_until = v.lease AND w.attempts = v.attempts_before
          FOR UPDATE OF w),
        hist AS (
          INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status_code, duration_ms, error, response_body)
          SELECT id, endpoint_id, last_attempt_at, last_status_code, coalesce(last_duration_ms, 0), last_error, last_response_body
          FROM cur WHERE last_attempt_at IS NOT NULL
          UNION ALL
          SELECT v.id, v.endpoint_id, v.attempted_at, v.status_code, v.duration_ms, v.error, v.response_body
          FROM v
          WHERE v.qid IS NULL AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.id = v.id)
            AND EXISTS (SELECT 1 FROM webhook_deliveries w WHERE w.id = v.id)
          RETURNING 1),
        upd AS (
          UPDATE webhook_deliveries w SET
            attempts = w.attempts + 1,
            last_attempt_at = v.attempted_at,
            last_status_code = v.status_code,
            last_error = v.error,
            last_duration_ms = v.duration_ms,
            last_response_body = v.response_body,
            leased_until = NULL,
            status = v.status,
            next_attempt_at = v.next_attempt_at,
            completed_at = CASE WHEN v.status = 'pending' THEN NULL ELSE v.attempted_at END
          FROM cur JOIN v ON v.qid IS NULL AND v.id = cur.id
          WHERE w.id = cur.id
          RETURNING 1),
        x AS (
          SELECT * FROM unnest(${sql.param(endpoints.map((e) => e.id))}::uuid[], ${sql.param(endpoints.map((e) => e.mode))}::text[],
                               ${sql.param(endpoints.map((e) => e.at))}::timestamptz[]) AS x(id, mode, at)),
        fs AS (
          UPDATE webhook_endpoints ep SET failing_since = CASE WHEN x.mode = 'clear' THEN NULL ELSE x.at END
          FROM x
          WHERE ep.id = x.id AND CASE x.mode WHEN 'clear' THEN ep.failing_since IS NOT NULL
                                             WHEN 'start' THEN ep.failing_since IS NULL
                                             ELSE ep.failing_since IS DISTINCT FROM x.at END
          RETURNING 1)
        SELECT (SELECT count(*) FROM new_d)::int AS q, (SELECT count(*) FROM upd)::int AS d,
               (SELECT count(*) FROM hist)::int AS h, (SELECT count(*) FROM fs)::int AS f`,
  );
  return Number(rows[0]?.q ?? 0) + Number(rows[0]?.d ?? 0);
}

// ---- endpoints -------------------------------------------------------------------------------

export interface DisabledEndpointRow {
  id: string;
  account_id: string;
  url: string;
  disabled_reason: 'gone' | 'failing';
  disabled_at: Date;
}

const disabledRow = (r: Record<string, unknown>): DisabledEndpointRow => ({
  id: String(r.id),
  account_id: String(r.account_id),
  url: String(r.url),
  disabled_reason: r.disabled_reason as 'gone' | 'failing',
  disabled_at: toDate(r.disabled_at),
});

/** Disables one endpoint if it is enabled; the row, or null when it already was disabled. */
export async function disableEndpoint(
  tx: Tx,
  endpointId: string,
  reason: 'gone' | 'failing',
  at: Date,
): Promise<DisabledEndpointRow | null> {
  const rows = await queryRows<Record<string, unknown>>(
    tx,
    sql`UPDATE webhook_endpoints SET enabled = false, disabled_reason = ${reason}, disabled_at = ${iso(at)}::timestamptz,
               updated_at = ${iso(at)}::timestamptz
        WHERE id = ${endpointId}::uuid AND enabled
        RETURNING id, account_id, url, disabled_reason, disabled_at`,
  );
  return rows[0] ? disabledRow(rows[0]) : null;
}

/** Disables every enabled endpoint failing since before `cutoff` (no success since). */
export async function disableFailingEndpoints(tx: Tx, cutoff: Date, at: Date): Promise<DisabledEndpointRow[]> {
  const rows = await queryRows<Record<string, unknown>>(
    tx,
    sql`UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'failing', disabled_at = ${iso(at)}::timestamptz,
               updated_at = ${iso(at)}::timestamptz
        WHERE id = ANY (ARRAY(SELECT id FROM webhook_endpoints WHERE enabled AND failing_since < ${iso(cutoff)}::timestamptz
                              LIMIT 500 FOR UPDATE SKIP LOCKED))
        RETURNING id, account_id, url, disabled_reason, disabled_at`,
  );
  return rows.map(disabledRow);
}

/**
 * Ends an endpoint's pending deliveries (it was disabled): status 'failed' with the reason. Its
 * queued chains become failed deliveries too, except those a worker is sending (it records them).
 */
export async function failPendingDeliveries(tx: Tx, endpointId: string, at: Date, error: string): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    tx,
    sql`WITH q AS (
          DELETE FROM webhook_queue
          WHERE endpoint_id = ${endpointId}::uuid AND (leased_until IS NULL OR leased_until <= ${iso(at)}::timestamptz)
          RETURNING endpoint_id, account_id, delivery_ids, event_ids, trigger, created_at),
        ins AS (
          INSERT INTO webhook_deliveries (id, endpoint_id, account_id, event_id, trigger, status, attempts, next_attempt_at,
                                          last_error, created_at, completed_at)
          SELECT u.id, q.endpoint_id, q.account_id, u.event_id, q.trigger, 'failed', 0, ${iso(at)}::timestamptz, ${error},
                 q.created_at, ${iso(at)}::timestamptz
          FROM q CROSS JOIN LATERAL unnest(q.delivery_ids, q.event_ids) AS u(id, event_id)
          ON CONFLICT (id) DO NOTHING
          RETURNING 1),
        f AS (
          UPDATE webhook_deliveries SET status = 'failed', completed_at = ${iso(at)}::timestamptz, last_error = ${error}
          WHERE endpoint_id = ${endpointId}::uuid AND status = 'pending'
          RETURNING 1)
        SELECT (SELECT count(*) FROM f)::int + (SELECT count(*) FROM ins)::int AS n`,
  );
  return Number(rows[0]?.n ?? 0);
}

export interface EndpointRef {
  id: string;
  account_id: string;
  enabled: boolean;
  event_types: string[];
}

/** The account's endpoint (null: none, or another account's). */
export async function findEndpoint(db: Tx, accountId: string, endpointId: string): Promise<EndpointRef | null> {
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`SELECT id, account_id, enabled, event_types FROM webhook_endpoints
        WHERE id = ${endpointId}::uuid AND account_id = ${accountId}::uuid`,
  );
  const r = rows[0];
  if (!r) return null;
  const types = r.event_types;
  return {
    id: String(r.id),
    account_id: String(r.account_id),
    enabled: Boolean(r.enabled),
    event_types: Array.isArray(types) ? (types as string[]) : parsePgArray(String(types)),
  };
}

/** A text[] PGlite may hand back in its literal form ({a,b}). */
function parsePgArray(text: string): string[] {
  const inner = text.replace(/^\{|\}$/g, '');
  return inner === '' ? [] : inner.split(',').map((s) => s.replace(/^"|"$/g, ''));
}

// ---- the delivery log ------------------------------------------------------------------------

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string | null;
  status: 'pending' | 'succeeded' | 'failed';
  trigger: string;
  attempts: number;
  next_attempt_at: Date;
  leased_until: Date | null;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  completed_at: Date | null;
}

const deliveryRow = (r: Record<string, unknown>): DeliveryRow => ({
  id: String(r.id),
  endpoint_id: String(r.endpoint_id),
  event_id: String(r.event_id),
  event_type: (r.event_type as string | null) ?? null,
  status: r.status as DeliveryRow['status'],
  trigger: String(r.trigger),
  attempts: Number(r.attempts),
  next_attempt_at: toDate(r.next_attempt_at),
  leased_until: toDateOrNull(r.leased_until),
  last_attempt_at: toDateOrNull(r.last_attempt_at),
  last_status_code: r.last_status_code === null || r.last_status_code === undefined ? null : Number(r.last_status_code),
  last_error: (r.last_error as string | null) ?? null,
  created_at: toDate(r.created_at),
  completed_at: toDateOrNull(r.completed_at),
});

/**
 * An endpoint's deliveries as the log shows them: the written ones, and the first attempts still
 * queued (pending, no attempt yet; in flight while a worker holds their chain).
 */
const endpointDeliveries = (endpointId: string) => sql`(
  SELECT d.id, d.endpoint_id, d.event_id, d.status, d.trigger, d.attempts, d.next_attempt_at, d.leased_until,
         d.last_attempt_at, d.last_status_code, d.last_error, d.created_at, d.completed_at
  FROM webhook_deliveries d WHERE d.endpoint_id = ${endpointId}::uuid
  UNION ALL
  SELECT u.id, q.endpoint_id, u.event_id, 'pending', q.trigger, 0, q.created_at, q.leased_until,
         NULL, NULL, NULL, q.created_at, NULL
  FROM webhook_queue q CROSS JOIN LATERAL unnest(q.delivery_ids, q.event_ids) AS u(id, event_id)
  WHERE q.endpoint_id = ${endpointId}::uuid) d`;

/** An endpoint's deliveries, newest first; `before` is the last row of the previous page. */
export async function listDeliveries(
  db: Tx,
  q: {
    endpointId: string;
    status?: string | undefined;
    before?: { createdAt: Date; id: string } | undefined;
    limit: number;
  },
): Promise<DeliveryRow[]> {
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`SELECT d.*, ev.type AS event_type
        FROM ${endpointDeliveries(q.endpointId)} LEFT JOIN events ev ON ev.id = d.event_id
        WHERE true
          ${q.status ? sql`AND d.status = ${q.status}` : sql``}
          ${q.before ? sql`AND (d.created_at, d.id) < (${iso(q.before.createdAt)}::timestamptz, ${q.before.id}::uuid)` : sql``}
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT ${q.limit}`,
  );
  return rows.map(deliveryRow);
}

export async function findDelivery(db: Tx, endpointId: string, deliveryId: string): Promise<DeliveryRow | null> {
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`SELECT d.*, ev.type AS event_type
        FROM ${endpointDeliveries(endpointId)} LEFT JOIN events ev ON ev.id = d.event_id
        WHERE d.id = ${deliveryId}::uuid`,
  );
  return rows[0] ? deliveryRow(rows[0]) : null;
}

export interface AttemptRow {
  attempted_at: Date;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  response_body: string | null;
}

/** A delivery's attempts, oldest first (at most `limit`, the latest ones): its history, then its latest. */
export async function listAttempts(db: Tx, deliveryId: string, limit = 100): Promise<AttemptRow[]> {
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`SELECT * FROM (
          SELECT a.id AS k, a.attempted_at, a.status_code, a.duration_ms, a.error, a.response_body
          FROM webhook_attempts a WHERE a.delivery_id = ${deliveryId}::uuid
          UNION ALL
          SELECT NULL, d.last_attempt_at, d.last_status_code, coalesce(d.last_duration_ms, 0), d.last_error, d.last_response_body
          FROM webhook_deliveries d WHERE d.id = ${deliveryId}::uuid AND d.last_attempt_at IS NOT NULL
          ORDER BY k DESC NULLS FIRST LIMIT ${limit}) a
        ORDER BY k NULLS LAST`,
  );
  return rows.map((r) => ({
    attempted_at: toDate(r.attempted_at),
    status_code: r.status_code === null ? null : Number(r.status_code),
    duration_ms: Number(r.duration_ms),
    error: (r.error as string | null) ?? null,
    response_body: (r.response_body as string | null) ?? null,
  }));
}

/**
 * Makes a delivery due now (a manual retry: the same delivery, the same webhook-id), unless a
 * worker holds it. 'retried': done (a first attempt still queued already is due); 'in_flight':
 * leased; null: no such delivery of the endpoint.
 */
export async function retryDelivery(
  db: Tx,
  endpointId: string,
  deliveryId: string,
  now: Date,
): Promise<'retried' | 'in_flight' | null> {
  const rows = await queryRows<{ leased: boolean }>(
    db,
    sql`WITH target AS (
          SELECT id, (status = 'pending' AND leased_until IS NOT NULL AND leased_until > ${iso(now)}::timestamptz) AS leased
          FROM webhook_deliveries WHERE id = ${deliveryId}::uuid AND endpoint_id = ${endpointId}::uuid
          FOR UPDATE),
        upd AS (
          UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = ${iso(now)}::timestamptz,
                 completed_at = NULL, leased_until = NULL
          FROM target WHERE d.id = target.id AND NOT target.leased
          RETURNING d.id)
        SELECT target.leased FROM target
        UNION ALL
        SELECT (q.leased_until IS NOT NULL AND q.leased_until > ${iso(now)}::timestamptz)
        FROM webhook_queue q
        WHERE q.endpoint_id = ${endpointId}::uuid AND ${deliveryId}::uuid = ANY(q.delivery_ids)`,
  );
  const r = rows[0];
  if (!r) return null;
  return r.leased === true || (r.leased as unknown) === 't' ? 'in_flight' : 'retried';
}

/** The ids of kept events of the account to replay, in order; `limit` + 1 rows tell whether more follow. */
export async function eventsToReplay(
  db: Tx,
  q: {
    accountId: string;
    since: Date;
    until: Date;
    /** null: every type. */
    types: string[] | null;
    limit: number;
  },
): Promise<{ id: string; created_at: Date }[]> {
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`SELECT id, created_at FROM events
        WHERE account_id = ${q.accountId}::uuid
          AND created_at >= ${iso(q.since)}::timestamptz AND created_at < ${iso(q.until)}::timestamptz
          ${q.types ? sql`AND type = ANY(${sql.param(q.types)}::text[])` : sql``}
        ORDER BY created_at, position
        LIMIT ${q.limit}`,
  );
  return rows.map((r) => ({ id: String(r.id), created_at: toDate(r.created_at) }));
}

/**
 * New deliveries (trigger 'replay') of these events to one endpoint, queued at `now` in chains of
 * CHAIN_MAX (maxc 1): each chain is sent in order; up to max_concurrency chains run at once.
 */
export function insertReplayDeliveries(
  db: Tx,
  endpoint: { id: string; account_id: string },
  eventIds: readonly string[],
  now: Date,
): Promise<number> {
  if (eventIds.length === 0) return Promise.resolve(0);
  return insertChains(
    db,
    sql`SELECT ep.id AS endpoint_id, ep.account_id, ev.id AS event_id, ev.n, 1 AS maxc
        FROM unnest(${sql.param([...eventIds])}::uuid[]) WITH ORDINALITY AS ev(id, n)
        JOIN webhook_endpoints ep ON ep.id = ${endpoint.id}::uuid`,
    'replay',
    sql`${iso(now)}::timestamptz`,
  );
}

// ---- housekeeping ----------------------------------------------------------------------------

/**
 * Clears the response bodies of attempts made before `before` (earlier attempts, and deliveries'
 * latest ones); returns how many (one batch of each).
 */
export async function purgeAttemptBodies(db: Tx, before: Date, batch = 5_000): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    db,
    sql`WITH a AS (
          UPDATE webhook_attempts SET response_body = NULL
          WHERE id = ANY (ARRAY(SELECT id FROM webhook_attempts
                                WHERE attempted_at < ${iso(before)}::timestamptz AND response_body IS NOT NULL
                                ORDER BY id LIMIT ${batch}))
          RETURNING 1),
        d AS (
          UPDATE webhook_deliveries SET last_response_body = NULL
          WHERE id = ANY (ARRAY(SELECT id FROM webhook_deliveries
                                WHERE last_attempt_at < ${iso(before)}::timestamptz AND last_response_body IS NOT NULL
                                LIMIT ${batch}))
          RETURNING 1)
        SELECT (SELECT count(*) FROM a)::int + (SELECT count(*) FROM d)::int AS n`,
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Deletes finished deliveries (succeeded or failed) that finished before `before`, with their
 * attempts (the foreign key cascades); returns how many deliveries (one batch). Pending ones stay.
 */
export async function purgeFinishedDeliveries(db: Tx, before: Date, batch = 5_000): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    db,
    sql`WITH gone AS (
          DELETE FROM webhook_deliveries
          WHERE id = ANY (ARRAY(SELECT id FROM webhook_deliveries
                                WHERE status <> 'pending' AND completed_at < ${iso(before)}::timestamptz
                                LIMIT ${batch}))
          RETURNING 1)
        SELECT count(*)::int AS n FROM gone`,
  );
  return Number(rows[0]?.n ?? 0);
}

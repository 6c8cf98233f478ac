// SQL of the delivery engine: the fan-out insert, the claim (leases within each endpoint's
// concurrency), the outcome of an attempt, the endpoint switches (disable, failing_since), the
// delivery log, manual retry, replay and the housekeeping sweeps. Times come in as parameters (the
// dispatcher's clock), never the database's now(), so tests move them.
import { sql } from 'drizzle-orm';
import { jsonValue, queryRows, type Db, type Tx } from '../../db/client.js';
import type { EventRow } from '../events/api.js';

const iso = (d: Date) => d.toISOString();
const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const toDateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : toDate(v));

// ---- fan-out ---------------------------------------------------------------------------------

/**
 * One delivery per (enabled endpoint of the event's account subscribed to its type or '*', event),
 * written in the fan-out's transaction, due from the event's time; a second fan-out of the same
 * event adds nothing.
 */
export async function insertFanoutDeliveries(
  tx: Tx,
  events: readonly { id: string; type: string; account_id: string; created_at: Date }[],
): Promise<number> {
  if (events.length === 0) return 0;
  const rows = await queryRows<{ n: number }>(
    tx,
    sql`WITH ins AS (
          INSERT INTO webhook_deliveries (endpoint_id, account_id, event_id, next_attempt_at)
          SELECT e.id, ev.account_id, ev.id, ev.created_at
          FROM unnest(${sql.param(events.map((e) => e.id))}::uuid[],
                      ${sql.param(events.map((e) => e.account_id))}::uuid[],
                      ${sql.param(events.map((e) => e.type))}::text[],
                      ${sql.param(events.map((e) => e.created_at.toISOString()))}::timestamptz[])
                 AS ev(id, account_id, type, created_at)
          JOIN webhook_endpoints e
            ON e.account_id = ev.account_id AND e.enabled AND e.event_types && ARRAY[ev.type, '*']
          ON CONFLICT (endpoint_id, event_id) WHERE trigger = 'event' DO NOTHING
          RETURNING 1)
        SELECT count(*)::int AS n FROM ins`,
  );
  return Number(rows[0]?.n ?? 0);
}

// ---- claim -----------------------------------------------------------------------------------

export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  attempts: number;
  /** The lease this worker holds (its value is the claim's token). */
  lease: string;
  url: string;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
  /** The event, or null when it is no longer kept. */
  event: EventRow | null;
}

/**
 * Claims up to `limit` due deliveries for this worker, leasing them until `now + leaseMs`. An
 * endpoint gets at most max_concurrency deliveries with a live lease across all workers: claimers
 * lock the endpoint rows first (SKIP LOCKED: an endpoint another worker is claiming for is left to
 * it), then count its live leases in a new statement, which sees every earlier claim committed.
 */
export async function claimDueDeliveries(
  db: Db,
  now: Date,
  leaseMs: number,
  limit: number,
): Promise<ClaimedDelivery[]> {
  if (limit <= 0) return [];
  const lease = iso(new Date(now.getTime() + leaseMs));
  return db.transaction(async (tx) => {
    const endpoints = await queryRows<{ id: string; max_concurrency: number }>(
      tx,
      sql`SELECT e.id, e.max_concurrency FROM webhook_endpoints e
          WHERE e.enabled AND e.id IN (
            SELECT d.endpoint_id FROM webhook_deliveries d
            WHERE d.status = 'pending' AND d.next_attempt_at <= ${iso(now)}::timestamptz
              AND (d.leased_until IS NULL OR d.leased_until <= ${iso(now)}::timestamptz))
          LIMIT 500
          FOR NO KEY UPDATE OF e SKIP LOCKED`,
    );
    if (endpoints.length === 0) return [];
    const ids = endpoints.map((e) => e.id);
    const rows = await queryRows<Record<string, unknown>>(
      tx,
      sql`WITH ep AS (
            SELECT * FROM unnest(${sql.param(ids)}::uuid[], ${sql.param(endpoints.map((e) => Number(e.max_concurrency)))}::int[]) AS ep(id, maxc)),
          live AS (
            SELECT d.endpoint_id, count(*)::int AS n FROM webhook_deliveries d
            WHERE d.endpoint_id = ANY(${sql.param(ids)}::uuid[]) AND d.status = 'pending'
              AND d.leased_until > ${iso(now)}::timestamptz
            GROUP BY d.endpoint_id),
          picked AS (
            SELECT c.id, c.endpoint_id, c.event_id FROM ep
            LEFT JOIN live ON live.endpoint_id = ep.id
            CROSS JOIN LATERAL (
              SELECT d.id, d.endpoint_id, d.event_id, d.next_attempt_at FROM webhook_deliveries d
              WHERE d.endpoint_id = ep.id AND d.status = 'pending' AND d.next_attempt_at <= ${iso(now)}::timestamptz
                AND (d.leased_until IS NULL OR d.leased_until <= ${iso(now)}::timestamptz)
              ORDER BY d.next_attempt_at
              LIMIT greatest(ep.maxc - coalesce(live.n, 0), 0)
              -- Never waits on a delivery row: one that a worker is recording (recordAttempts hands
              -- freed slots on without the endpoint lock) is left to it, so the two never deadlock.
              FOR UPDATE SKIP LOCKED) c
            ORDER BY c.next_attempt_at
            LIMIT ${limit})
          UPDATE webhook_deliveries d SET leased_until = ${lease}::timestamptz
          FROM picked p
            JOIN webhook_endpoints e ON e.id = p.endpoint_id
            LEFT JOIN events ev ON ev.id = p.event_id
          -- Checked again on the row as it is now: a worker that handed a freed slot to this delivery
          -- (recordAttempts) since this statement's snapshot already holds it.
          WHERE d.id = p.id AND d.status = 'pending'
            AND (d.leased_until IS NULL OR d.leased_until <= ${iso(now)}::timestamptz)
          RETURNING ${CLAIMED_COLUMNS}`,
    );
    return rows.map((r) => claimedDelivery(r, lease));
  });
}

/** What a claim returns: the leased delivery (d), its endpoint (e) and its event (ev, if kept). */
const CLAIMED_COLUMNS = sql`d.id, d.endpoint_id, d.attempts, e.url, e.secret_sealed, e.previous_secret_sealed,
  e.previous_secret_expires_at, ev.id AS ev_id, ev.type AS ev_type, ev.account_id AS ev_account_id,
  ev.object_type AS ev_object_type, ev.object_id AS ev_object_id,
  ev.object_sequence AS ev_object_sequence, ev.data AS ev_data, ev.created_at AS ev_created_at`;

function claimedDelivery(r: Record<string, unknown>, lease: string): ClaimedDelivery {
  return {
    id: String(r.id),
    endpointId: String(r.endpoint_id),
    attempts: Number(r.attempts),
    lease,
    url: String(r.url),
    secretSealed: String(r.secret_sealed),
    previousSecretSealed: (r.previous_secret_sealed as string | null) ?? null,
    previousSecretExpiresAt: toDateOrNull(r.previous_secret_expires_at),
    event:
      r.ev_id === null || r.ev_id === undefined
        ? null
        : {
            id: r.ev_id as string,
            position: 0,
            tx_id: 0,
            type: String(r.ev_type),
            account_id: String(r.ev_account_id),
            object_type: String(r.ev_object_type),
            object_id: String(r.ev_object_id),
            object_sequence: Number(r.ev_object_sequence),
            data: jsonValue<unknown>(r.ev_data),
            created_at: toDate(r.ev_created_at),
          },
  };
}

// ---- outcome ---------------------------------------------------------------------------------

export interface AttemptRecord {
  deliveryId: string;
  endpointId: string;
  lease: string;
  /** The delivery's attempts when it was claimed (with the lease: this worker still holds it). */
  attemptsBefore: number;
  attemptedAt: Date;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  requestBody: string | null;
  responseBody: string | null;
  /** What becomes of the delivery. */
  status: 'succeeded' | 'pending' | 'failed';
  /** With 'pending': when to try again. */
  nextAttemptAt: Date | null;
}

/**
 * Writes the attempt (always: it happened) and, while this worker still holds the lease, the
 * delivery's new state, and the endpoint's failing_since (cleared by a success, started by a
 * failure). One statement.
 */
export async function recordAttempt(db: Tx, a: AttemptRecord): Promise<boolean> {
  const done = a.status !== 'pending';
  const rows = await queryRows<{ n: number }>(
    db,
    sql`WITH d AS (
          UPDATE webhook_deliveries SET
            attempts = attempts + 1,
            last_attempt_at = ${iso(a.attemptedAt)}::timestamptz,
            last_status_code = ${a.statusCode}::int,
            last_error = ${a.error}::text,
            leased_until = NULL,
            status = ${a.status},
            next_attempt_at = ${iso(a.nextAttemptAt ?? a.attemptedAt)}::timestamptz,
            completed_at = ${done ? iso(a.attemptedAt) : null}::timestamptz
          WHERE id = ${a.deliveryId}::uuid AND leased_until = ${a.lease}::timestamptz AND attempts = ${a.attemptsBefore}::int
          RETURNING id),
        a AS (
          INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status_code, duration_ms, error, request_body, response_body)
          VALUES (${a.deliveryId}::uuid, ${a.endpointId}::uuid, ${iso(a.attemptedAt)}::timestamptz, ${a.statusCode}::int,
                  ${Math.max(0, Math.round(a.durationMs))}::int, ${a.error}::text, ${a.requestBody}::text, ${a.responseBody}::text)
          RETURNING 1),
        e AS (
          ${
            a.status === 'succeeded'
              ? sql`UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ${a.endpointId}::uuid AND failing_since IS NOT NULL`
              : sql`UPDATE webhook_endpoints SET failing_since = ${iso(a.attemptedAt)}::timestamptz WHERE id = ${a.endpointId}::uuid AND failing_since IS NULL`
          }
          RETURNING 1)
        SELECT (SELECT count(*) FROM d)::int AS n, (SELECT count(*) FROM a)::int AS a, (SELECT count(*) FROM e)::int AS e`,
  );
  return Number(rows[0]?.n ?? 0) === 1;
}

/**
 * What a batch of outcomes does to each endpoint's failing_since, as if they were recorded one by
 * one in order: a success clears it, a failure starts it unless it is already running.
 */
function failingSinceChanges(records: readonly AttemptRecord[]): { id: string; mode: string; at: string | null }[] {
  const byEndpoint = new Map<string, { mode: 'clear' | 'set' | 'start'; at: string | null }>();
  for (const r of records) {
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
 * Records many outcomes in one statement: every attempt is written, each delivery's new state only
 * where this worker still holds its lease (the lease and attempt count it claimed with), and each
 * endpoint's failing_since as recordAttempt would leave it after recording them in order.
 *
 * With `handoff`, the same statement hands the slots it frees to the next due deliveries of the same
 * endpoints (leased until `handoff.now + leaseMs`, returned to be sent): a released lease is replaced
 * by at most one new one, so an endpoint's live leases never grow, and never beyond max_concurrency
 * as this statement sees it (a lowered limit shrinks them); no endpoint lock is needed for that.
 * Disabled endpoints get nothing. Rows another worker holds or is claiming are skipped.
 */
export async function recordAttempts(
  db: Tx,
  records: readonly AttemptRecord[],
  handoff?: { now: Date; leaseMs: number },
): Promise<ClaimedDelivery[]> {
  if (records.length === 0) return [];
  const now = handoff ? iso(handoff.now) : null;
  const lease = handoff ? iso(new Date(handoff.now.getTime() + handoff.leaseMs)) : null;
  const col = <T>(f: (r: AttemptRecord) => T) => sql.param(records.map(f));
  const endpoints = failingSinceChanges(records);
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`WITH v AS (
          SELECT * FROM unnest(
            ${col((r) => r.deliveryId)}::uuid[], ${col((r) => r.endpointId)}::uuid[], ${col((r) => r.lease)}::timestamptz[],
            ${col((r) => r.attemptsBefore)}::int[], ${col((r) => iso(r.attemptedAt))}::timestamptz[],
            ${col((r) => r.statusCode)}::int[], ${col((r) => Math.max(0, Math.round(r.durationMs)))}::int[],
            ${col((r) => r.error)}::text[], ${col((r) => r.requestBody)}::text[], ${col((r) => r.responseBody)}::text[],
            ${col((r) => r.status)}::text[], ${col((r) => iso(r.nextAttemptAt ?? r.attemptedAt))}::timestamptz[])
            WITH ORDINALITY AS v(id, endpoint_id, lease, attempts_before, attempted_at, status_code, duration_ms,
                                 error, request_body, response_body, status, next_attempt_at, n)),
        rec AS (
          UPDATE webhook_deliveries w SET
            attempts = w.attempts + 1,
            last_attempt_at = v.attempted_at,
            last_status_code = v.status_code,
            last_error = v.error,
            leased_until = NULL,
            status = v.status,
            next_attempt_at = v.next_attempt_at,
            completed_at = CASE WHEN v.status = 'pending' THEN NULL ELSE v.attempted_at END
          FROM v
          WHERE w.id = v.id AND w.leased_until = v.lease AND w.attempts = v.attempts_before
          RETURNING w.id, w.endpoint_id),
        att AS (
          INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status_code, duration_ms, error, request_body, response_body)
          SELECT id, endpoint_id, attempted_at, status_code, duration_ms, error, request_body, response_body FROM v ORDER BY n
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
          RETURNING 1),
        freed AS (
          SELECT endpoint_id, count(*)::int AS n FROM rec WHERE ${handoff ? sql`true` : sql`false`} GROUP BY endpoint_id),
        slots AS (
          -- live: this statement's snapshot, where the leases just released still count.
          SELECT f.endpoint_id, least(f.n, ep.max_concurrency - (live.n - f.n)) AS n
          FROM freed f
          JOIN webhook_endpoints ep ON ep.id = f.endpoint_id AND ep.enabled
          CROSS JOIN LATERAL (
            SELECT count(*)::int AS n FROM webhook_deliveries l
            WHERE l.endpoint_id = f.endpoint_id AND l.status = 'pending' AND l.leased_until > ${now}::timestamptz) live),
        picked AS (
          SELECT c.id, c.endpoint_id, c.event_id FROM slots s
          CROSS JOIN LATERAL (
            SELECT p.id, p.endpoint_id, p.event_id FROM webhook_deliveries p
            WHERE p.endpoint_id = s.endpoint_id AND p.status = 'pending' AND p.next_attempt_at <= ${now}::timestamptz
              AND (p.leased_until IS NULL OR p.leased_until <= ${now}::timestamptz)
            ORDER BY p.next_attempt_at
            LIMIT greatest(s.n, 0)
            FOR UPDATE SKIP LOCKED) c),
        handed AS (
          UPDATE webhook_deliveries d SET leased_until = ${lease}::timestamptz
          FROM picked p
            JOIN webhook_endpoints e ON e.id = p.endpoint_id
            LEFT JOIN events ev ON ev.id = p.event_id
          WHERE d.id = p.id AND d.status = 'pending'
            AND (d.leased_until IS NULL OR d.leased_until <= ${now}::timestamptz)
          RETURNING ${CLAIMED_COLUMNS})
        SELECT * FROM handed`,
  );
  return lease === null ? [] : rows.map((r) => claimedDelivery(r, lease));
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
        WHERE id IN (SELECT id FROM webhook_endpoints WHERE enabled AND failing_since < ${iso(cutoff)}::timestamptz
                     LIMIT 500 FOR UPDATE SKIP LOCKED)
        RETURNING id, account_id, url, disabled_reason, disabled_at`,
  );
  return rows.map(disabledRow);
}

/** Ends an endpoint's pending deliveries (it was disabled): status 'failed' with the reason. */
export async function failPendingDeliveries(tx: Tx, endpointId: string, at: Date, error: string): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    tx,
    sql`WITH f AS (
          UPDATE webhook_deliveries SET status = 'failed', completed_at = ${iso(at)}::timestamptz, last_error = ${error}
          WHERE endpoint_id = ${endpointId}::uuid AND status = 'pending'
          RETURNING 1)
        SELECT count(*)::int AS n FROM f`,
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

const DELIVERY_COLUMNS = sql`d.id, d.endpoint_id, d.event_id, ev.type AS event_type, d.status, d.trigger, d.attempts,
  d.next_attempt_at, d.leased_until, d.last_attempt_at, d.last_status_code, d.last_error, d.created_at, d.completed_at`;

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
    sql`SELECT ${DELIVERY_COLUMNS}
        FROM webhook_deliveries d LEFT JOIN events ev ON ev.id = d.event_id
        WHERE d.endpoint_id = ${q.endpointId}::uuid
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
    sql`SELECT ${DELIVERY_COLUMNS}
        FROM webhook_deliveries d LEFT JOIN events ev ON ev.id = d.event_id
        WHERE d.id = ${deliveryId}::uuid AND d.endpoint_id = ${endpointId}::uuid`,
  );
  return rows[0] ? deliveryRow(rows[0]) : null;
}

export interface AttemptRow {
  id: number;
  attempted_at: Date;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  request_body: string | null;
  response_body: string | null;
}

/** A delivery's attempts, oldest first (at most `limit`, the latest ones). */
export async function listAttempts(db: Tx, deliveryId: string, limit = 100): Promise<AttemptRow[]> {
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`SELECT * FROM (
          SELECT id, attempted_at, status_code, duration_ms, error, request_body, response_body
          FROM webhook_attempts WHERE delivery_id = ${deliveryId}::uuid ORDER BY id DESC LIMIT ${limit}) a
        ORDER BY id`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    attempted_at: toDate(r.attempted_at),
    status_code: r.status_code === null ? null : Number(r.status_code),
    duration_ms: Number(r.duration_ms),
    error: (r.error as string | null) ?? null,
    request_body: (r.request_body as string | null) ?? null,
    response_body: (r.response_body as string | null) ?? null,
  }));
}

/**
 * Makes a delivery due now (a manual retry: the same delivery, the same webhook-id), unless a
 * worker holds it. 'retried': done; 'in_flight': leased; null: no such delivery of the endpoint.
 */
export async function retryDelivery(
  db: Tx,
  endpointId: string,
  deliveryId: string,
  now: Date,
): Promise<'retried' | 'in_flight' | null> {
  const rows = await queryRows<{ id: string; leased: boolean }>(
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
        SELECT target.id, target.leased FROM target`,
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

/** New deliveries (trigger 'replay') of these events to one endpoint, due at `now`. */
export async function insertReplayDeliveries(
  db: Tx,
  endpoint: { id: string; account_id: string },
  eventIds: readonly string[],
  now: Date,
): Promise<number> {
  if (eventIds.length === 0) return 0;
  const rows = await queryRows<{ n: number }>(
    db,
    sql`WITH ins AS (
          INSERT INTO webhook_deliveries (endpoint_id, account_id, event_id, trigger, next_attempt_at, created_at)
          SELECT ${endpoint.id}::uuid, ${endpoint.account_id}::uuid, ev.id, 'replay', ${iso(now)}::timestamptz, ${iso(now)}::timestamptz
          FROM unnest(${sql.param([...eventIds])}::uuid[]) WITH ORDINALITY AS ev(id, n)
          ORDER BY ev.n
          RETURNING 1)
        SELECT count(*)::int AS n FROM ins`,
  );
  return Number(rows[0]?.n ?? 0);
}

// ---- housekeeping ----------------------------------------------------------------------------

/** Clears request and response bodies of attempts older than `before`; returns how many (one batch). */
export async function purgeAttemptBodies(db: Tx, before: Date, batch = 5_000): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    db,
    sql`WITH gone AS (
          UPDATE webhook_attempts SET request_body = NULL, response_body = NULL
          WHERE id IN (SELECT id FROM webhook_attempts
                       WHERE attempted_at < ${iso(before)}::timestamptz
                         AND (request_body IS NOT NULL OR response_body IS NOT NULL)
                       ORDER BY id LIMIT ${batch})
          RETURNING 1)
        SELECT count(*)::int AS n FROM gone`,
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
          WHERE id IN (SELECT id FROM webhook_deliveries
                       WHERE status <> 'pending' AND completed_at < ${iso(before)}::timestamptz
                       LIMIT ${batch})
          RETURNING 1)
        SELECT count(*)::int AS n FROM gone`,
  );
  return Number(rows[0]?.n ?? 0);
}

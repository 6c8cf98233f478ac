// Events in PostgreSQL. Written in the caller's transaction, read in commit-safe order.
//
// Order: events are read by (tx_id, position), and only those written by transactions older than
// every transaction still running (tx_id < the snapshot's xmin). An event written by a transaction
// that commits later therefore always sorts after everything a reader has already seen, so a
// consumer that pages with `after` never skips one (ordering by position alone would: positions are
// taken at insert, not at commit).
import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Tx } from '../../db/client.js';

export interface EventRow extends Record<string, unknown> {
  id: string;
  position: number;
  tx_id: number;
  type: string;
  account_id: string;
  object_type: string;
  object_id: string;
  object_sequence: number;
  data: unknown;
  created_at: Date;
}

export interface NewEvent {
  type: string;
  accountId: string;
  objectType: string;
  objectId: string;
  data: unknown;
}

/**
 * The statement that writes one event and takes the object's next sequence number (the counter row
 * is locked until the transaction ends, so two transactions about one object number in commit order).
 */
export const insertEventSql = (e: NewEvent): SQL => sql`
  WITH seq AS (
    INSERT INTO event_sequences (object_id, sequence) VALUES (${sequenceKey(e.objectType, e.objectId)}, 1)
    ON CONFLICT (object_id) DO UPDATE SET sequence = event_sequences.sequence + 1
    RETURNING sequence
  ), ev AS (
    INSERT INTO events (type, account_id, object_type, object_id, object_sequence, data)
    SELECT ${e.type}, ${e.accountId}::uuid, ${e.objectType}, ${e.objectId}, seq.sequence, ${JSON.stringify(e.data)}::json
    FROM seq
    RETURNING id, position, tx_id, type, account_id, object_type, object_id, object_sequence, data, created_at
  ), queued AS (
    INSERT INTO event_outbox (position, event_id) SELECT position, id FROM ev
  )
  SELECT * FROM ev`;

/** The sequence counter's key of an object: `<object type>:<object id>`. */
/** The key of an object's event sequence (object_sequence counts per key). */
export const sequenceKey = (objectType: string, objectId: string): string => `${objectType}:${objectId}`;

/**
 * The write of one event as three CTEs for a caller's own prepared statement (a hot path that is one
 * statement with no BEGIN/COMMIT, like a registration): `<prefix>_sequence` takes the object's next
 * sequence number, `<prefix>_insert` writes the event and `<prefix>_outbox` queues it for the
 * fan-out, all only when `when` holds (a condition on the caller's other CTEs, e.g.
 * `exists (select 1 from domain_insert)`). The values are the
 * placeholders of eventCteParams(prefix, e), so the statement can be prepared once. The same rows
 * as insertEventSql; several events in one statement need distinct prefixes and distinct objects.
 */
export function eventCtes(when: SQL, prefix = 'event'): SQL {
  const p = (name: string) => sql.placeholder(`${prefix}_${name}`);
  return sql`${sql.raw(prefix)}_sequence as (
      insert into event_sequences (object_id, sequence)
      select ${p('sequence_key')}::text, 1 where ${when}
      on conflict (object_id) do update set sequence = event_sequences.sequence + 1
      returning sequence),
    ${sql.raw(prefix)}_insert as (
      insert into events (type, account_id, object_type, object_id, object_sequence, data)
      select ${p('type')}::text, ${p('account')}::uuid, ${p('object_type')}::text, ${p('object_id')}::text, s.sequence, ${p('data')}::json
      from ${sql.raw(prefix)}_sequence s
      returning id, position),
    ${sql.raw(prefix)}_outbox as (
      insert into event_outbox (position, event_id) select position, id from ${sql.raw(prefix)}_insert)`;
}

// The placeholder names per prefix, made once: an object built with computed keys on every call
// measured 7 us per registration (bench/RESULTS.md, issue 13).
const placeholderNames = new Map<string, readonly string[]>();
const namesOf = (prefix: string): readonly string[] => {
  let names = placeholderNames.get(prefix);
  if (!names) {
    names = ['sequence_key', 'type', 'account', 'object_type', 'object_id', 'data'].map((n) => `${prefix}_${n}`);
    placeholderNames.set(prefix, names);
  }
  return names;
};

/** The placeholder values of eventCtes(when, prefix) for one event, added to `into` (a new object by default). */
export function eventCteParams(
  e: NewEvent,
  prefix = 'event',
  into: Record<string, unknown> = {},
): Record<string, unknown> {
  const [sequenceKeyName, type, account, objectType, objectId, data] = namesOf(prefix) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  into[sequenceKeyName] = sequenceKey(e.objectType, e.objectId);
  into[type] = e.type;
  into[account] = e.accountId;
  into[objectType] = e.objectType;
  into[objectId] = e.objectId;
  into[data] = JSON.stringify(e.data);
  return into;
}

/**
 * Events of one type about many distinct objects (a cascade: a reseller's 1,000 customers suspended
 * together) in one statement, in the order given: the same rows as insertEvent for each.
 */
export async function insertEvents(
  tx: Tx,
  type: string,
  objectType: string,
  events: { accountId: string; objectId: string; data: unknown }[],
): Promise<number> {
  if (events.length === 0) return 0;
  if (new Set(events.map((e) => e.objectId)).size !== events.length)
    throw new Error('insertEvents: one event per object in a statement');
  const input = JSON.stringify(
    events.map((e, ord) => ({
      ord,
      key: sequenceKey(objectType, e.objectId),
      account: e.accountId,
      object_id: e.objectId,
      data: e.data,
    })),
  );
  const [row] = await queryRows<{ n: number | string }>(
    tx,
    sql`WITH input AS (
          SELECT * FROM jsonb_to_recordset(${input}::jsonb) AS i(ord integer, key text, account uuid, object_id text, data jsonb)),
        ${eventsCtes('input', type, objectType)}
        SELECT count(*) AS n FROM events_insert`,
  );
  return Number(row!.n);
}

/**
 * Events of one type for many distinct objects as CTEs of a larger statement: `input` names a CTE
 * with columns ord (the order), key (eventSequenceKey of the object), account, object_id and data
 * (jsonb). Adds the CTEs events_sequence, events_insert (id, position) and events_outbox.
 */
export function eventsCtes(input: string, type: string | SQL, objectType: string | SQL): SQL {
  const from = sql.raw(input);
  return sql`events_sequence AS (
          INSERT INTO event_sequences (object_id, sequence) SELECT key, 1 FROM ${from}
          ON CONFLICT (object_id) DO UPDATE SET sequence = event_sequences.sequence + 1
          RETURNING object_id, sequence),
        events_insert AS (
          INSERT INTO events (type, account_id, object_type, object_id, object_sequence, data)
          SELECT ${type}, i.account, ${objectType}, i.object_id, s.sequence, i.data::json
          FROM ${from} i JOIN events_sequence s ON s.object_id = i.key ORDER BY i.ord
          RETURNING id, position),
        events_outbox AS (INSERT INTO event_outbox (position, event_id) SELECT position, id FROM events_insert)`;
}

export async function insertEvent(tx: Tx, e: NewEvent): Promise<EventRow> {
  const [row] = await queryRows<EventRow>(tx, insertEventSql(e));
  return normalise(row!);
}

/** Rows come back from pg and PGlite with bigints as strings or numbers, dates as strings or Dates. */
export const normalise = (r: EventRow): EventRow => ({
  ...r,
  position: Number(r.position),
  tx_id: Number(r.tx_id),
  object_sequence: Number(r.object_sequence),
  created_at: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
  data: typeof r.data === 'string' ? JSON.parse(r.data) : r.data,
});

export interface EventQuery {
  accountId: string;
  types?: string[] | undefined;
  objectId?: string | undefined;
  /** Events strictly after this (tx_id, position). */
  after?: { txId: number; position: number } | undefined;
  since: Date;
  limit: number;
}

/** The account's events in feed order, only those every older transaction has settled. */
export async function listEvents(tx: Tx, q: EventQuery): Promise<EventRow[]> {
  const rows = await queryRows<EventRow>(
    tx,
    sql`SELECT id, position, tx_id, type, account_id, object_type, object_id, object_sequence, data, created_at
        FROM events
        WHERE account_id = ${q.accountId}::uuid
          AND created_at >= ${q.since.toISOString()}::timestamptz
          AND tx_id < (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint
          ${q.types && q.types.length > 0 ? sql`AND type = ANY(${sql.param(q.types)}::text[])` : sql``}
          ${q.objectId !== undefined ? sql`AND object_id = ${q.objectId}` : sql``}
          ${q.after ? sql`AND (tx_id, position) > (${q.after.txId}::bigint, ${q.after.position}::bigint)` : sql``}
        ORDER BY tx_id, position
        LIMIT ${q.limit}`,
  );
  return rows.map(normalise);
}

export async function findEvent(tx: Tx, accountId: string | null, id: string): Promise<EventRow | undefined> {
  const rows = await queryRows<EventRow>(
    tx,
    sql`SELECT id, position, tx_id, type, account_id, object_type, object_id, object_sequence, data, created_at
        FROM events WHERE id = ${id}::uuid ${accountId ? sql`AND account_id = ${accountId}::uuid` : sql``}`,
  );
  return rows[0] ? normalise(rows[0]) : undefined;
}

/** The kept events among these ids (of any account), by id. */
export async function findEvents(tx: Tx, ids: readonly string[]): Promise<Map<string, EventRow>> {
  const found = new Map<string, EventRow>();
  if (ids.length === 0) return found;
  const rows = await queryRows<EventRow>(
    tx,
    // created_at as epoch milliseconds: a number is cheaper to read than a timestamp's text.
    sql`SELECT id, position, tx_id, type, account_id, object_type, object_id, object_sequence, data,
               (extract(epoch FROM created_at) * 1000)::float8 AS created_at
        FROM events WHERE id = ANY(${sql.param([...new Set(ids)])}::uuid[])`,
  );
  for (const r of rows) found.set(String(r.id), normalise(r));
  return found;
}

/** Deletes events older than `before` (the feed keeps 30 days); returns how many. */
export async function purgeEvents(tx: Tx, before: Date, batch = 5_000): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    tx,
    sql`WITH gone AS (
          DELETE FROM events WHERE id = ANY (ARRAY(
            SELECT e.id FROM events e WHERE e.created_at < ${before.toISOString()}::timestamptz
              AND NOT EXISTS (SELECT 1 FROM event_outbox o WHERE o.event_id = e.id) LIMIT ${batch}))
          RETURNING 1)
        SELECT count(*)::int AS n FROM gone`,
  );
  return Number(rows[0]?.n ?? 0);
}

-- webhook_claim(now, lease, limit): the webhook dispatcher's claim in one round trip (see
-- src/modules/webhooks/delivery-store.ts, claimDueDeliveries). It locks the endpoints with due work
-- (SKIP LOCKED: an endpoint another worker is claiming for is left to it), then, in a statement of
-- its own (so with a snapshot that sees every claim committed before the lock was taken), counts
-- each endpoint's live leases, chains and claimed deliveries alike, and leases the oldest due work
-- within max_concurrency: at most `lim` chains. A function also keeps both plans cached.
CREATE FUNCTION webhook_claim(p_now timestamptz, p_lease timestamptz, lim int)
RETURNS TABLE (kind text, trigger text, key text, endpoint_id uuid, account_id uuid, created_at timestamptz,
               delivery_ids uuid[], event_ids uuid[], attempts int, url text, secret_sealed text,
               previous_secret_sealed text, previous_secret_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_ids uuid[];
  v_maxc int[];
BEGIN
  SELECT array_agg(x.id), array_agg(x.max_concurrency) INTO v_ids, v_maxc FROM (
    SELECT e.id, e.max_concurrency FROM webhook_endpoints e
    WHERE e.enabled AND (
      e.id IN (SELECT d.endpoint_id FROM webhook_deliveries d
               WHERE d.status = 'pending' AND d.next_attempt_at <= p_now
                 AND (d.leased_until IS NULL OR d.leased_until <= p_now))
      OR e.id IN (SELECT q.endpoint_id FROM webhook_queue q
                  WHERE q.leased_until IS NULL OR q.leased_until <= p_now))
    LIMIT 500
    FOR NO KEY UPDATE OF e SKIP LOCKED) x;
  IF v_ids IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH ep AS (
      SELECT * FROM unnest(v_ids, v_maxc) AS ep(id, maxc)),
    live AS (
      SELECT l.endpoint_id, count(*)::int AS n FROM (
        SELECT d.endpoint_id FROM webhook_deliveries d
        WHERE d.endpoint_id = ANY(v_ids) AND d.status = 'pending' AND d.leased_until > p_now
        UNION ALL
        SELECT q.endpoint_id FROM webhook_queue q
        WHERE q.endpoint_id = ANY(v_ids) AND q.leased_until > p_now) l
      GROUP BY l.endpoint_id),
    room AS (
      SELECT ep.id, greatest(ep.maxc - coalesce(live.n, 0), 0) AS n FROM ep LEFT JOIN live ON live.endpoint_id = ep.id),
    -- Never waits on a row: one a worker is recording is left to it (recording does not take the
    -- endpoint lock first, so waiting here could deadlock).
    cd AS (
      SELECT c.* FROM room CROSS JOIN LATERAL (
        SELECT d.id, d.endpoint_id, d.next_attempt_at AS due FROM webhook_deliveries d
        WHERE d.endpoint_id = room.id AND d.status = 'pending' AND d.next_attempt_at <= p_now
          AND (d.leased_until IS NULL OR d.leased_until <= p_now)
        ORDER BY d.next_attempt_at LIMIT room.n
        FOR UPDATE SKIP LOCKED) c),
    cq AS (
      SELECT c.* FROM room CROSS JOIN LATERAL (
        SELECT q.id, q.endpoint_id, q.created_at AS due FROM webhook_queue q
        WHERE q.endpoint_id = room.id AND (q.leased_until IS NULL OR q.leased_until <= p_now)
        ORDER BY q.id LIMIT room.n
        FOR UPDATE SKIP LOCKED) c),
    picked AS (
      SELECT r.did, r.qid FROM (
        SELECT u.*, row_number() OVER (PARTITION BY u.endpoint_id ORDER BY u.due, u.qid NULLS FIRST) AS k, room.n AS room
        FROM (SELECT cd.id AS did, NULL::bigint AS qid, cd.endpoint_id, cd.due FROM cd
              UNION ALL SELECT NULL::uuid, cq.id, cq.endpoint_id, cq.due FROM cq) u
        JOIN room ON room.id = u.endpoint_id) r
      WHERE r.k <= r.room
      ORDER BY r.due
      LIMIT lim),
    ud AS (
      UPDATE webhook_deliveries d SET leased_until = p_lease
      FROM picked p
      WHERE d.id = p.did AND d.status = 'pending' AND (d.leased_until IS NULL OR d.leased_until <= p_now)
      RETURNING 'delivery'::text AS kind, d.trigger, d.id::text AS key, d.endpoint_id, d.account_id, d.created_at,
                ARRAY[d.id] AS delivery_ids, ARRAY[d.event_id] AS event_ids, d.attempts, d.next_attempt_at AS due),
    uq AS (
      UPDATE webhook_queue q SET leased_until = p_lease
      FROM picked p
      WHERE q.id = p.qid AND (q.leased_until IS NULL OR q.leased_until <= p_now)
      RETURNING 'queue'::text AS kind, q.trigger, q.id::text AS key, q.endpoint_id, q.account_id, q.created_at,
                q.delivery_ids, q.event_ids, 0 AS attempts, q.created_at AS due)
  SELECT u.kind, u.trigger, u.key, u.endpoint_id, u.account_id, u.created_at, u.delivery_ids, u.event_ids, u.attempts,
         e.url, e.secret_sealed, e.previous_secret_sealed, e.previous_secret_expires_at
  FROM (SELECT * FROM ud UNION ALL SELECT * FROM uq) u
  JOIN webhook_endpoints e ON e.id = u.endpoint_id
  ORDER BY u.due;
END
$$;

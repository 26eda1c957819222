/**
 * `webhook_deliveries` and `webhook_delivery_attempts` (tenant database; migrations/tenant/0015_webhooks.sql): one
 * delivery per (endpoint, event), every request made for it.
 */

export type DeliveryStatus = "pending" | "succeeded" | "failed";

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempt: number;
  next_attempt_at: string | null;
  claimed_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  dead_lettered_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  attempted_at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  response_body: string | null;
}

export interface NewDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
}

/** What a queue message of `uom-webhooks` names: one attempt of one delivery. */
export interface DueAttempt {
  id: string;
  attempt: number;
}

/**
 * Inserts the deliveries not made yet (UNIQUE (endpoint_id, event_id): a redelivered event adds none), due now, in
 * one statement; returns the ones it inserted.
 */
export async function insertDeliveries(
  db: D1Database,
  rows: readonly NewDelivery[],
  at: string,
): Promise<DueAttempt[]> {
  const { results } = await db
    .prepare(
      `INSERT OR IGNORE INTO webhook_deliveries
         (id, endpoint_id, event_id, event_type, status, attempt, next_attempt_at, created_at, updated_at)
       SELECT value ->> 'id', value ->> 'endpointId', value ->> 'eventId', value ->> 'eventType', 'pending', 1, ?2, ?2, ?2
       FROM json_each(?1)
       RETURNING id, attempt`,
    )
    .bind(JSON.stringify(rows), at)
    .all<DueAttempt>();
  return results;
}

/**
 * Takes attempt `attempt` of a delivery for this consumer, in the same round trip as what it needs: the delivery
 * (only while pending at that attempt and not taken by another consumer within `staleBefore`), its endpoint and its
 * event. A stale or duplicate message finds no delivery.
 */
export function claimStatements(db: D1Database, id: string, attempt: number, now: string, staleBefore: string) {
  return [
    db
      .prepare(
        `UPDATE webhook_deliveries SET claimed_at = ?3
         WHERE id = ?1 AND attempt = ?2 AND status = 'pending' AND (claimed_at IS NULL OR claimed_at < ?4)
         RETURNING *`,
      )
      .bind(id, attempt, now, staleBefore),
    db
      .prepare("SELECT e.* FROM webhook_endpoints e JOIN webhook_deliveries d ON d.endpoint_id = e.id WHERE d.id = ?")
      .bind(id),
    db
      .prepare(
        `SELECT o.id, o.type, o.subject_id, o.data, o.created_at, o.sequence
         FROM outbox_events o JOIN webhook_deliveries d ON d.event_id = o.id WHERE d.id = ?`,
      )
      .bind(id),
  ];
}

/** Gives a claimed attempt back (the consumer failed before recording it): the queue's retry takes it again. */
export function releaseClaim(db: D1Database, id: string, attempt: number) {
  return db
    .prepare("UPDATE webhook_deliveries SET claimed_at = NULL WHERE id = ? AND attempt = ? AND status = 'pending'")
    .bind(id, attempt);
}

export function insertAttempt(db: D1Database, attempt: AttemptRow) {
  return db
    .prepare(
      `INSERT OR IGNORE INTO webhook_delivery_attempts
         (delivery_id, attempt, attempted_at, status_code, error, duration_ms, response_body)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      attempt.delivery_id,
      attempt.attempt,
      attempt.attempted_at,
      attempt.status_code,
      attempt.error,
      attempt.duration_ms,
      attempt.response_body,
    );
}

export interface AttemptOutcome {
  status: DeliveryStatus;
  /** The number of the attempt due next, when retrying. */
  nextAttempt: number;
  nextAttemptAt: string | null;
  statusCode: number | null;
  error: string | null;
  at: string;
}

/** Records where the delivery stands after attempt `attempt`, unless it moved on meanwhile (a manual retry). */
export function settleDelivery(db: D1Database, id: string, attempt: number, outcome: AttemptOutcome) {
  return db
    .prepare(
      `UPDATE webhook_deliveries SET status = ?1, attempt = ?2, next_attempt_at = ?3, claimed_at = NULL,
         last_status_code = ?4, last_error = ?5, updated_at = ?6
       WHERE id = ?7 AND attempt = ?8 AND status = 'pending'`,
    )
    .bind(
      outcome.status,
      outcome.nextAttempt,
      outcome.nextAttemptAt,
      outcome.statusCode,
      outcome.error,
      outcome.at,
      id,
      attempt,
    );
}

/**
 * A new attempt of a delivery, due now, whatever its state (a manual retry): its number goes up, so a message of the
 * attempt it replaces is stale. Returns the new number, or null when the delivery is not the endpoint's.
 */
export async function restartDelivery(db: D1Database, endpointId: string, id: string, at: string) {
  return db
    .prepare(
      `UPDATE webhook_deliveries SET status = 'pending', attempt = attempt + 1, next_attempt_at = ?1, claimed_at = NULL,
         dead_lettered_at = NULL, updated_at = ?1
       WHERE id = ?2 AND endpoint_id = ?3
       RETURNING id, attempt`,
    )
    .bind(at, id, endpointId)
    .first<DueAttempt>();
}

/** The final failure, recorded by the dead-letter consumer (a no-op on a delivery that moved on). */
export function deadLetter(db: D1Database, id: string, attempt: number, at: string, reason: string) {
  return db
    .prepare(
      `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, claimed_at = NULL,
         last_error = coalesce(last_error, ?4), dead_lettered_at = coalesce(dead_lettered_at, ?3), updated_at = ?3
       WHERE id = ?1 AND attempt = ?2 AND status != 'succeeded'`,
    )
    .bind(id, attempt, at, reason);
}

/**
 * The sweeper's claim: pending deliveries whose attempt was due before `dueBefore` and that nobody is making (or
 * whose maker died: claimed before `staleBefore`). Their due time moves to now, so the next sweep leaves them alone
 * while the message it sends waits in the queue.
 */
export async function claimOverdue(db: D1Database, dueBefore: string, staleBefore: string, now: string, limit = 100) {
  const { results } = await db
    .prepare(
      `UPDATE webhook_deliveries SET next_attempt_at = ?3, claimed_at = NULL WHERE id IN (
         SELECT id FROM webhook_deliveries
         WHERE status = 'pending' AND next_attempt_at < ?1 AND (claimed_at IS NULL OR claimed_at < ?2)
         ORDER BY next_attempt_at LIMIT ?4)
       RETURNING id, attempt`,
    )
    .bind(dueBefore, staleBefore, now, limit)
    .all<DueAttempt>();
  return results;
}

export async function findDeliveryRow(db: D1Database, endpointId: string, id: string): Promise<DeliveryRow | null> {
  return db
    .prepare("SELECT * FROM webhook_deliveries WHERE id = ? AND endpoint_id = ?")
    .bind(id, endpointId)
    .first<DeliveryRow>();
}

/** Newest first by (created_at, id), before the cursor's position. */
export async function listDeliveryRows(
  db: D1Database,
  endpointId: string,
  filter: { status?: DeliveryStatus | undefined; before: { createdAt: string; id: string } | null },
  limit: number,
): Promise<DeliveryRow[]> {
  const where = ["endpoint_id = ?1"];
  if (filter.status) where.push("status = ?2");
  if (filter.before) where.push("(created_at < ?3 OR (created_at = ?3 AND id < ?4))");
  const { results } = await db
    .prepare(`SELECT * FROM webhook_deliveries WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT ?5`)
    .bind(endpointId, filter.status ?? null, filter.before?.createdAt ?? null, filter.before?.id ?? null, limit)
    .all<DeliveryRow>();
  return results;
}

/** The attempts of these deliveries, oldest first. */
export async function attemptsOf(db: D1Database, deliveryIds: readonly string[]): Promise<AttemptRow[]> {
  if (deliveryIds.length === 0) return [];
  const { results } = await db
    .prepare(
      `SELECT * FROM webhook_delivery_attempts WHERE delivery_id IN (SELECT value FROM json_each(?))
       ORDER BY attempted_at, attempt`,
    )
    .bind(JSON.stringify(deliveryIds))
    .all<AttemptRow>();
  return results;
}

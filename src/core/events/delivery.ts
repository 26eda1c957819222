/**
 * The bookkeeping both outboxes share (a tenant's `outbox_events`, the control database's `platform_events`): claim
 * rows and hand them to the EVENTS queue, count the hand-overs, give up after a cap, mark what the dead-letter queue
 * returns. docs/events.md, "Delivery".
 */

export type OutboxTable = "outbox_events" | "platform_events";

/** `sendBatch` takes at most 100 messages. */
export const SEND_PAGE = 100;
/** Sent but not acknowledged for this long: sent again (the send, or the consumer, failed). */
export const RESEND_AFTER_MS = 60_000;
/**
 * Hand-overs of one event to the EVENTS queue at most (the first send, then one per sweeper minute): an event still
 * unacknowledged a minute after the last one is marked dead (`dead_at`) and never sent again.
 */
export const EVENT_MAX_SENDS = 10;

/** How far an event got, as `GET /v1/events` shows it. */
export type Delivery = "pending" | "dispatched" | "dead";

export function deliveryOf(row: { dispatched_at?: string | null; dead_at?: string | null }): Delivery {
  if (row.dispatched_at) return "dispatched";
  return row.dead_at ? "dead" : "pending";
}

/** A structured log line of the event machinery, unless LOG_LEVEL is `silent`. */
export function logEvent(env: Env, level: "warn" | "error", msg: string, fields: Record<string, unknown>): void {
  if (env.LOG_LEVEL === "silent") return;
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === "error") console.error(line);
  else console.log(line);
}

/**
 * Claims the rows to send (sets `sent_at` and counts the send in one UPDATE … RETURNING, so two senders never claim
 * the same row in one round) and sends them to the EVENTS queue, oldest first, a page at a time. `resendBefore`:
 * also rows sent before that time and still not acknowledged, while they have sends left. A failed send leaves them
 * claimed; the sweeper sends them again a minute later.
 */
export async function claimAndSend<Row extends { id: string; created_at: string }>(
  env: Env,
  db: D1Database,
  table: OutboxTable,
  columns: string,
  toMessage: (row: Row) => unknown,
  resendBefore = "",
  now = () => new Date().toISOString(),
): Promise<number> {
  let sent = 0;
  for (;;) {
    const { results } = await db
      .prepare(
        `UPDATE ${table} SET sent_at = ?1, send_count = send_count + 1 WHERE id IN (
           SELECT id FROM ${table}
           WHERE dispatched_at IS NULL AND dead_at IS NULL AND send_count < ${EVENT_MAX_SENDS}
             AND (sent_at IS NULL OR sent_at < ?2)
           ORDER BY created_at, id LIMIT ${SEND_PAGE})
         RETURNING ${columns}`,
      )
      .bind(now(), resendBefore)
      .all<Row>();
    if (results.length === 0) return sent;
    const rows = results.sort((a, b) => (a.created_at + a.id < b.created_at + b.id ? -1 : 1));
    await env.EVENTS.sendBatch(rows.map((row) => ({ body: toMessage(row), contentType: "json" })));
    sent += rows.length;
    if (results.length < SEND_PAGE) return sent;
  }
}

/**
 * The sweeper's cap: rows sent `EVENT_MAX_SENDS` times whose last send is older than `resendBefore` and still not
 * acknowledged are marked dead, each logged. Returns their ids.
 */
export async function markExhausted(
  env: Env,
  db: D1Database,
  table: OutboxTable,
  tenantId: string,
  resendBefore: string,
  now = new Date().toISOString(),
): Promise<string[]> {
  const dead: string[] = [];
  for (;;) {
    const { results } = await db
      .prepare(
        `UPDATE ${table} SET dead_at = ?1 WHERE id IN (
           SELECT id FROM ${table}
           WHERE dispatched_at IS NULL AND dead_at IS NULL AND send_count >= ${EVENT_MAX_SENDS} AND sent_at < ?2
           LIMIT ${SEND_PAGE})
         RETURNING id, type`,
      )
      .bind(now, resendBefore)
      .all<{ id: string; type: string }>();
    for (const row of results) {
      logEvent(env, "error", "event dead: re-send cap reached", { tenantId, table, eventId: row.id, type: row.type });
      dead.push(row.id);
    }
    if (results.length < SEND_PAGE) return dead;
  }
}

/**
 * Acknowledged: `dispatched_at` set once (a redelivery changes nothing). An event marked dead meanwhile (its last
 * send was late, not lost) was delivered after all, so it is dispatched, not dead.
 */
export function markDispatchedStatement(db: D1Database, table: OutboxTable, ids: readonly string[], at: string) {
  return db
    .prepare(
      `UPDATE ${table} SET dispatched_at = ?1, dead_at = NULL
       WHERE dispatched_at IS NULL AND id IN (SELECT value FROM json_each(?2))`,
    )
    .bind(at, JSON.stringify(ids));
}

/** Given up (the dead-letter queue returned them): `dead_at` set once, never over an acknowledgement. */
export function markDeadStatement(db: D1Database, table: OutboxTable, ids: readonly string[], at: string) {
  return db
    .prepare(
      `UPDATE ${table} SET dead_at = ?1
       WHERE dispatched_at IS NULL AND dead_at IS NULL AND id IN (SELECT value FROM json_each(?2))`,
    )
    .bind(at, JSON.stringify(ids));
}

import { controlDb, tenantDatabases } from "../db/databases";
import { loggableError } from "../http/error-handler";
import { EVENT_CONSUMERS, type EventConsumer } from "./consumers";

/** What the EVENTS queue carries: the event as `GET /v1/events` shows it (the sealed secret stays in the outbox). */
export interface EventMessage {
  id: string;
  type: string;
  tenantId: string;
  occurredAt: string;
  sequence: number;
  subjectId: string | null;
  data: Record<string, unknown>;
}

export interface OutboxRow {
  id: string;
  type: string;
  subject_id: string | null;
  data: string;
  created_at: string;
  sequence: number | null;
}

/** `sendBatch` takes at most 100 messages. */
const SEND_PAGE = 100;
/** Sent but not acknowledged for this long: sent again (the send, or the consumer, failed). */
export const RESEND_AFTER_MS = 60_000;

export function toEventMessage(tenantId: string, row: OutboxRow): EventMessage {
  return {
    id: row.id,
    type: row.type,
    tenantId,
    occurredAt: row.created_at,
    sequence: row.sequence ?? 0,
    subjectId: row.subject_id,
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}

/**
 * Claims the rows to send (sets `sent_at` in one UPDATE … RETURNING, so two senders never claim the same row in one
 * round) and sends them to the EVENTS queue. `resendBefore`: also rows sent before that time and still not
 * acknowledged. A failed send leaves them claimed; the sweeper sends them again a minute later.
 */
export async function sendPendingEvents(
  env: Env,
  tenantId: string,
  db: D1Database,
  resendBefore = "",
  now = () => new Date().toISOString(),
): Promise<number> {
  let sent = 0;
  for (;;) {
    const { results } = await db
      .prepare(
        `UPDATE outbox_events SET sent_at = ?1 WHERE id IN (
           SELECT id FROM outbox_events
           WHERE dispatched_at IS NULL AND (sent_at IS NULL OR sent_at < ?2)
           ORDER BY created_at, id LIMIT ${SEND_PAGE})
         RETURNING id, type, subject_id, data, created_at, sequence`,
      )
      .bind(now(), resendBefore)
      .all<OutboxRow>();
    if (results.length === 0) return sent;
    const rows = results.sort((a, b) => (a.created_at + a.id < b.created_at + b.id ? -1 : 1));
    await env.EVENTS.sendBatch(rows.map((row) => ({ body: toEventMessage(tenantId, row), contentType: "json" })));
    sent += rows.length;
    if (results.length < SEND_PAGE) return sent;
  }
}

/** After a write request: send what it wrote (and anything else not yet sent) once the response is out. */
export async function sendAfterCommit(env: Env, tenant: { id: string; databaseBinding: string }): Promise<number> {
  return sendPendingEvents(env, tenant.id, await tenantDatabases.forTenant(env, tenant));
}

/** The cron sweeper's part for one tenant: rows never sent, and rows not acknowledged within a minute. */
export async function sweepOutbox(env: Env, tenantId: string, db: D1Database, now = Date.now()): Promise<number> {
  return sendPendingEvents(env, tenantId, db, new Date(now - RESEND_AFTER_MS).toISOString());
}

function isEventMessage(body: unknown): body is EventMessage {
  const b = body as Partial<EventMessage> | null;
  return typeof b === "object" && b !== null && typeof b.id === "string" && typeof b.tenantId === "string";
}

/**
 * The EVENTS consumer: hands each tenant's events to every consumer (webhooks, notifications, plugins), then marks
 * them acknowledged (`dispatched_at`), once — a redelivered event (at-least-once) is handed over again, and consumers
 * are idempotent by event id. Events of a tenant since deleted are acknowledged and dropped. A failure retries the
 * tenant's messages (the queue's backoff, then the dead-letter queue).
 */
export async function consumeEvents(
  env: Env,
  messages: readonly Message<unknown>[],
  consumers: readonly EventConsumer[] = EVENT_CONSUMERS,
): Promise<void> {
  const byTenant = new Map<string, Message<unknown>[]>();
  for (const message of messages) {
    if (!isEventMessage(message.body)) {
      if (env.LOG_LEVEL !== "silent") {
        console.log(JSON.stringify({ level: "warn", msg: "not an event message", id: message.id }));
      }
      message.ack();
      continue;
    }
    const list = byTenant.get(message.body.tenantId) ?? [];
    list.push(message);
    byTenant.set(message.body.tenantId, list);
  }
  if (byTenant.size === 0) return;
  const control = await controlDb(env);
  for (const [tenantId, list] of byTenant) {
    try {
      const tenant = await control
        .prepare("SELECT database_binding FROM tenants WHERE id = ?")
        .bind(tenantId)
        .first<{ database_binding: string }>();
      if (tenant) {
        const db = await tenantDatabases.forTenant(env, { databaseBinding: tenant.database_binding });
        const events = list.map((message) => message.body as EventMessage);
        for (const consumer of consumers) await consumer.consume({ env, tenantId, db }, events);
        const ids = events.map((event) => event.id);
        await db
          .prepare(
            "UPDATE outbox_events SET dispatched_at = ? WHERE dispatched_at IS NULL AND id IN (SELECT value FROM json_each(?))",
          )
          .bind(new Date().toISOString(), JSON.stringify(ids))
          .run();
      }
      for (const message of list) message.ack();
    } catch (error) {
      if (env.LOG_LEVEL !== "silent") {
        console.error(
          JSON.stringify({ level: "error", msg: "event consumer failed", tenantId, error: loggableError(error) }),
        );
      }
      for (const message of list) message.retry();
    }
  }
}

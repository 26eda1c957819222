import { controlDb, tenantDatabases } from "../db/databases";
import { loggableError } from "../http/error-handler";
import type { EventConsumer } from "./consumers";
import {
  claimAndSend,
  logEvent,
  markDeadStatement,
  markDispatchedStatement,
  markExhausted,
  RESEND_AFTER_MS,
} from "./delivery";
import { type EventMessage, OUTBOX_COLUMNS, type OutboxRow, toEventMessage } from "./message";

/**
 * Platform events: changes audited in the control database's trail (tenants, plans, a tenant's first API key) write
 * `platform_events` rows by a trigger (control migration 0008). They travel on the same EVENTS queue, marked
 * `source: "platform"`, and the consumer copies each into the log of the tenant it concerns and of that tenant's
 * parent. docs/events.md, "Platform events".
 */

/** The audit actions the `audit_events_platform_emit` trigger turns into platform events (it mirrors this list). */
export const PLATFORM_EVENT_ACTIONS: readonly string[] = [
  "tenant.created",
  "tenant.updated",
  "tenant.deleted",
  "tenant.data_key_rotated",
  "plan.change_requested",
  "plan.change_request_cancelled",
  "api_key.created",
];

interface PlatformRow extends OutboxRow {
  tenant_id: string;
  parent_id: string | null;
}

const PLATFORM_COLUMNS = "id, tenant_id, parent_id, type, subject_id, data, created_at, sequence";

export function isPlatformMessage(event: EventMessage): boolean {
  return event.source === "platform";
}

function toPlatformMessage(row: PlatformRow): EventMessage {
  return {
    id: row.id,
    type: row.type,
    tenantId: row.tenant_id,
    occurredAt: row.created_at,
    sequence: row.sequence ?? 0,
    subjectId: row.subject_id,
    data: JSON.parse(row.data) as Record<string, unknown>,
    source: "platform",
    parentId: row.parent_id,
  };
}

/** Sends the platform outbox's unsent rows (and, with `resendBefore`, unacknowledged ones) to the EVENTS queue. */
export function sendPlatformEvents(env: Env, control: D1Database, resendBefore = ""): Promise<number> {
  return claimAndSend<PlatformRow>(env, control, "platform_events", PLATFORM_COLUMNS, toPlatformMessage, resendBefore);
}

/** After a write to the control database (admin token, sub-accounts, plan change requests). */
export async function sendPlatformAfterCommit(env: Env): Promise<number> {
  return sendPlatformEvents(env, await controlDb(env));
}

/** The per-minute sweeper's part for the platform outbox, as `sweepOutbox` for a tenant's. */
export async function sweepPlatformOutbox(env: Env, control: D1Database, now = Date.now()): Promise<number> {
  const resendBefore = new Date(now - RESEND_AFTER_MS).toISOString();
  await markExhausted(env, control, "platform_events", "platform", resendBefore);
  return sendPlatformEvents(env, control, resendBefore);
}

export async function markPlatformDead(control: D1Database, ids: readonly string[], at: string): Promise<void> {
  await markDeadStatement(control, "platform_events", ids, at).run();
}

/** The tenant logs a platform event goes to: its tenant's (unless deleted with it) and its tenant's parent's. */
function logsOf(event: EventMessage): string[] {
  const logs = event.type === "tenant.deleted" ? [] : [event.tenantId];
  if (event.parentId && event.parentId !== event.tenantId) logs.push(event.parentId);
  return logs;
}

/**
 * The copy into a tenant's log: by id, so a redelivery inserts nothing. It takes the next number of its subject in
 * that log (a tenant's own events about itself, `tenant.security_policy_updated`, share the subject), and is
 * recorded as sent once: should the consumers fail below, the tenant's sweeper sends it again like any of its events.
 */
const COPY_EVENT = `INSERT OR IGNORE INTO outbox_events (id, type, subject_id, data, created_at, sequence, sent_at, send_count)
  SELECT ?1, ?2, ?3, ?4, ?5, (SELECT coalesce(max(sequence), 0) + 1 FROM outbox_events WHERE subject_id IS ?3), ?6, 1`;

/**
 * Copies platform events into the logs they belong to (`logsOf`), in the order they happened, hands the copies not
 * yet acknowledged to every consumer of that tenant and marks them dispatched, then marks the platform rows
 * dispatched and acks. A log whose tenant no longer exists is skipped; an event with no log left (`tenant.deleted`
 * of a top-level tenant) is acknowledged and dropped, logged. A log that cannot be written retries the events bound
 * for it (the copies are idempotent by id); a consumer failure leaves the copies to the tenant's sweeper.
 */
export async function consumePlatformEvents(
  env: Env,
  control: D1Database,
  messages: readonly Message<EventMessage>[],
  consumers: readonly EventConsumer[],
): Promise<void> {
  const ordered = [...messages].sort((a, b) => {
    const x = a.body;
    const y = b.body;
    if (x.occurredAt !== y.occurredAt) return x.occurredAt < y.occurredAt ? -1 : 1;
    return x.sequence - y.sequence || (x.id < y.id ? -1 : 1);
  });
  const byLog = new Map<string, Message<EventMessage>[]>();
  for (const message of ordered) {
    for (const log of logsOf(message.body)) byLog.set(log, [...(byLog.get(log) ?? []), message]);
  }
  const { results: tenants } = await control
    .prepare("SELECT id, database_binding FROM tenants WHERE id IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify([...byLog.keys()]))
    .all<{ id: string; database_binding: string }>();
  const bindings = new Map(tenants.map((t) => [t.id, t.database_binding]));
  const copied = new Set<Message<EventMessage>>();
  const failed = new Set<Message<EventMessage>>();
  for (const [tenantId, list] of byLog) {
    const binding = bindings.get(tenantId);
    if (!binding) continue;
    try {
      const db = await tenantDatabases.forTenant(env, { databaseBinding: binding });
      await copyInto(env, tenantId, db, list, consumers);
      for (const message of list) copied.add(message);
    } catch (error) {
      logEvent(env, "error", "platform event copy failed", { tenantId, error: loggableError(error) });
      for (const message of list) failed.add(message);
    }
  }
  const done = ordered.filter((message) => !failed.has(message));
  for (const message of done) {
    if (!copied.has(message)) {
      logEvent(env, "warn", "platform event dropped: no tenant log left", {
        tenantId: message.body.tenantId,
        eventId: message.body.id,
        type: message.body.type,
      });
    }
  }
  if (done.length > 0) {
    const ids = done.map((message) => message.body.id);
    await markDispatchedStatement(control, "platform_events", ids, new Date().toISOString()).run();
  }
  for (const message of done) message.ack();
  for (const message of failed) message.retry();
}

async function copyInto(
  env: Env,
  tenantId: string,
  db: D1Database,
  messages: readonly Message<EventMessage>[],
  consumers: readonly EventConsumer[],
): Promise<void> {
  const now = new Date().toISOString();
  const events = messages.map((message) => message.body);
  const ids = JSON.stringify(events.map((event) => event.id));
  const results = await db.batch([
    ...events.map((e) =>
      db.prepare(COPY_EVENT).bind(e.id, e.type, e.subjectId, JSON.stringify(e.data), e.occurredAt, now),
    ),
    db
      .prepare(
        `SELECT ${OUTBOX_COLUMNS} FROM outbox_events
         WHERE dispatched_at IS NULL AND id IN (SELECT value FROM json_each(?)) ORDER BY created_at, sequence, id`,
      )
      .bind(ids),
  ]);
  const pending = (results.at(-1)?.results ?? []) as OutboxRow[];
  if (pending.length === 0) return;
  const copies = pending.map((row) => toEventMessage(tenantId, row));
  try {
    for (const consumer of consumers) await consumer.consume({ env, tenantId, db }, copies);
    await markDispatchedStatement(
      db,
      "outbox_events",
      copies.map((event) => event.id),
      new Date().toISOString(),
    ).run();
  } catch (error) {
    // the copies are in the tenant's outbox, sent once: its sweeper hands them over again within a minute or two
    logEvent(env, "error", "event consumer failed", { tenantId, error: loggableError(error) });
  }
}

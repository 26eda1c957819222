import { controlDb, tenantDatabases } from "../db/databases";
import { loggableError } from "../http/error-handler";
import { EVENT_CONSUMERS, type EventConsumer } from "./consumers";
import {
  claimAndSend,
  logEvent,
  markDeadStatement,
  markDispatchedStatement,
  markExhausted,
  RESEND_AFTER_MS,
} from "./delivery";
import { type EventMessage, OUTBOX_COLUMNS, type OutboxRow, toEventMessage } from "./message";
import { consumePlatformEvents, isPlatformMessage, markPlatformDead } from "./platform";

export { RESEND_AFTER_MS } from "./delivery";
export { type EventMessage, type OutboxRow, toEventMessage } from "./message";

/**
 * Sends the tenant's unsent rows to the EVENTS queue (`claimAndSend`). `resendBefore`: also rows sent before that
 * time and still not acknowledged, while they have sends left.
 */
export function sendPendingEvents(
  env: Env,
  tenantId: string,
  db: D1Database,
  resendBefore = "",
  now = () => new Date().toISOString(),
): Promise<number> {
  return claimAndSend<OutboxRow>(
    env,
    db,
    "outbox_events",
    OUTBOX_COLUMNS,
    (row) => toEventMessage(tenantId, row),
    resendBefore,
    now,
  );
}

/** After a write request: send what it wrote (and anything else not yet sent) once the response is out. */
export async function sendAfterCommit(env: Env, tenant: { id: string; databaseBinding: string }): Promise<number> {
  return sendPendingEvents(env, tenant.id, await tenantDatabases.forTenant(env, tenant));
}

/**
 * The cron sweeper's part for one tenant: rows that used up their sends are marked dead, then rows never sent and
 * rows not acknowledged within a minute are sent.
 */
export async function sweepOutbox(env: Env, tenantId: string, db: D1Database, now = Date.now()): Promise<number> {
  const resendBefore = new Date(now - RESEND_AFTER_MS).toISOString();
  await markExhausted(env, db, "outbox_events", tenantId, resendBefore);
  return sendPendingEvents(env, tenantId, db, resendBefore);
}

function isEventMessage(body: unknown): body is EventMessage {
  const b = body as Partial<EventMessage> | null;
  return typeof b === "object" && b !== null && typeof b.id === "string" && typeof b.tenantId === "string";
}

/** Event messages by the tenant whose log holds them, and platform events apart; anything else is acked, logged. */
function sortMessages(env: Env, queue: string, messages: readonly Message<unknown>[]) {
  const byTenant = new Map<string, Message<EventMessage>[]>();
  const platform: Message<EventMessage>[] = [];
  for (const message of messages) {
    if (!isEventMessage(message.body)) {
      logEvent(env, "warn", "not an event message", { queue, id: message.id });
      message.ack();
      continue;
    }
    const event = message as Message<EventMessage>;
    if (isPlatformMessage(event.body)) {
      platform.push(event);
      continue;
    }
    const list = byTenant.get(event.body.tenantId) ?? [];
    list.push(event);
    byTenant.set(event.body.tenantId, list);
  }
  return { byTenant, platform };
}

async function databaseBindingOf(control: D1Database, tenantId: string): Promise<string | null> {
  const tenant = await control
    .prepare("SELECT database_binding FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ database_binding: string }>();
  return tenant?.database_binding ?? null;
}

/**
 * The EVENTS consumer: hands each tenant's events to every consumer (webhooks, notifications, plugins), then marks
 * them acknowledged (`dispatched_at`), once — a redelivered event (at-least-once) is handed over again, and consumers
 * are idempotent by event id. Events of a tenant since deleted are acknowledged and dropped. A failure retries the
 * tenant's messages (the queue's backoff, then the dead-letter queue). Platform events are copied into the logs of
 * the tenants they concern first (`consumePlatformEvents`).
 */
export async function consumeEvents(
  env: Env,
  messages: readonly Message<unknown>[],
  consumers: readonly EventConsumer[] = EVENT_CONSUMERS,
): Promise<void> {
  const { byTenant, platform } = sortMessages(env, "uom-events", messages);
  if (byTenant.size === 0 && platform.length === 0) return;
  const control = await controlDb(env);
  if (platform.length > 0) {
    try {
      await consumePlatformEvents(env, control, platform, consumers);
    } catch (error) {
      // the control database failed: these are retried, the tenants' events below go on
      logEvent(env, "error", "platform event consumer failed", { error: loggableError(error) });
      for (const message of platform) message.retry();
    }
  }
  for (const [tenantId, list] of byTenant) {
    try {
      const binding = await databaseBindingOf(control, tenantId);
      if (binding) {
        const db = await tenantDatabases.forTenant(env, { databaseBinding: binding });
        const events = list.map((message) => message.body);
        for (const consumer of consumers) await consumer.consume({ env, tenantId, db }, events);
        const ids = events.map((event) => event.id);
        await markDispatchedStatement(db, "outbox_events", ids, new Date().toISOString()).run();
      }
      for (const message of list) message.ack();
    } catch (error) {
      logEvent(env, "error", "event consumer failed", { tenantId, error: loggableError(error) });
      for (const message of list) message.retry();
    }
  }
}

/**
 * `uom-events-dlq`: events the EVENTS queue gave up on (every retry failed). Each is marked dead in its outbox, once
 * (one acknowledged meanwhile stays dispatched), logged, and acknowledged: the sweeper never sends it again, and
 * `GET /v1/events` shows it as `delivery: "dead"`.
 */
export async function consumeDeadLetters(env: Env, messages: readonly Message<unknown>[]): Promise<void> {
  const { byTenant, platform } = sortMessages(env, "uom-events-dlq", messages);
  if (byTenant.size === 0 && platform.length === 0) return;
  const control = await controlDb(env);
  const at = new Date().toISOString();
  const groups: [string | null, Message<EventMessage>[]][] = [...byTenant];
  if (platform.length > 0) groups.unshift([null, platform]);
  for (const [tenantId, list] of groups) {
    const ids = list.map((message) => message.body.id);
    try {
      if (tenantId === null) await markPlatformDead(control, ids, at);
      else {
        const binding = await databaseBindingOf(control, tenantId);
        if (binding) {
          const db = await tenantDatabases.forTenant(env, { databaseBinding: binding });
          await markDeadStatement(db, "outbox_events", ids, at).run();
        }
      }
      for (const message of list) {
        logEvent(env, "error", "event dead-lettered", {
          tenantId: message.body.tenantId,
          source: message.body.source ?? "tenant",
          eventId: message.body.id,
          type: message.body.type,
        });
        message.ack();
      }
    } catch (error) {
      logEvent(env, "error", "dead-letter consumer failed", { tenantId, error: loggableError(error) });
      for (const message of list) message.retry();
    }
  }
}

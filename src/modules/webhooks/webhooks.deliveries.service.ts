import type { z } from "@hono/zod-openapi";
import type { ServiceContext } from "../../core/context";
import { ApiError } from "../../core/errors";
import { eventRetentionDays } from "../../core/events/retention";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import { newId } from "../../core/ids";
import { PLAN_CONFIG } from "../../core/plans";
import {
  type AttemptRow,
  attemptsOf,
  type DeliveryRow,
  type DueAttempt,
  findDeliveryRow,
  insertDeliveries,
  listDeliveryRows,
  restartDelivery,
} from "./webhooks.deliveries.repo";
import { WebhookErrors } from "./webhooks.errors";
import { sqlMatchesAny, TEST_EVENT_TYPE } from "./webhooks.filters";
import { enqueueAttempts } from "./webhooks.queue";
import type { EndpointRow } from "./webhooks.repo";
import type { DeliveriesQuerySchema, Delivery } from "./webhooks.schema";
import { currentEndpoint } from "./webhooks.service";

/** A replay queues at most this many deliveries per call (then `nextSince` says where to go on). */
export const REPLAY_MAX_EVENTS = 10_000;
/** Rows per INSERT / UPDATE of a replay (one JSON parameter each). */
const REPLAY_PAGE = 500;
const DAY_MS = 24 * 60 * 60 * 1000;

function toDelivery(row: DeliveryRow, attempts: readonly AttemptRow[]): Delivery {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type,
    status: row.status,
    nextAttemptAt: row.status === "pending" ? row.next_attempt_at : null,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    deadLetteredAt: row.dead_lettered_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      attemptedAt: a.attempted_at,
      statusCode: a.status_code,
      error: a.error,
      durationMs: a.duration_ms,
      responseBody: a.response_body,
    })),
  };
}

async function withAttempts(db: D1Database, rows: readonly DeliveryRow[]): Promise<Map<string, AttemptRow[]>> {
  const byDelivery = new Map<string, AttemptRow[]>();
  for (const attempt of await attemptsOf(
    db,
    rows.map((row) => row.id),
  )) {
    const list = byDelivery.get(attempt.delivery_id) ?? [];
    list.push(attempt);
    byDelivery.set(attempt.delivery_id, list);
  }
  return byDelivery;
}

/** The endpoint's deliveries, newest first, each with every attempt made. */
export async function listDeliveries(
  ctx: ServiceContext,
  endpointId: string,
  query: z.infer<typeof DeliveriesQuerySchema>,
) {
  await currentEndpoint(ctx, endpointId);
  const kind = `webhook-deliveries:${query.status ?? "all"}`;
  const before = query.cursor ? decodeCursor(kind, query.cursor, ["string", "string"]) : null;
  const rows = await listDeliveryRows(
    ctx.db,
    endpointId,
    { status: query.status, before: before ? { createdAt: before[0], id: before[1] } : null },
    query.limit + 1,
  );
  const attempts = await withAttempts(ctx.db, rows.slice(0, query.limit));
  return pageOf(
    rows,
    query.limit,
    kind,
    (row) => [row.created_at, row.id],
    (row) => toDelivery(row, attempts.get(row.id) ?? []),
  );
}

async function deliveryOf(ctx: ServiceContext, endpointId: string, id: string): Promise<Delivery> {
  const row = await findDeliveryRow(ctx.db, endpointId, id);
  if (!row) throw notFound(endpointId, id);
  return toDelivery(row, (await withAttempts(ctx.db, [row])).get(row.id) ?? []);
}

function notFound(endpointId: string, id: string): ApiError {
  return new ApiError(WebhookErrors.WEBHOOK_DELIVERY_NOT_FOUND, {
    detail: `No delivery ${id} of webhook endpoint ${endpointId}.`,
  });
}

/** Retries, replays and test sends go to an enabled endpoint only (PATCH {status: "enabled"} first). */
async function enabledEndpoint(ctx: ServiceContext, id: string): Promise<EndpointRow> {
  const endpoint = await currentEndpoint(ctx, id);
  if (endpoint.status !== "enabled") {
    throw new ApiError(WebhookErrors.WEBHOOK_ENDPOINT_DISABLED, {
      detail: `Webhook endpoint ${id} is disabled (${endpoint.disabledReason}); enable it first (PATCH {"status": "enabled"}).`,
      extensions: { disabledReason: endpoint.disabledReason },
    });
  }
  return endpoint;
}

/**
 * A new attempt of one delivery, now, whatever its state (the same `webhook-id`: the receiver can tell it is the
 * same event). If it fails, the retry schedule goes on from there.
 */
export async function retryDelivery(ctx: ServiceContext, endpointId: string, id: string): Promise<Delivery> {
  await enabledEndpoint(ctx, endpointId);
  const due = await restartDelivery(ctx.db, endpointId, id, new Date().toISOString());
  if (!due) throw notFound(endpointId, id);
  await enqueueAttempts(ctx.env, ctx.scope, [due]);
  return deliveryOf(ctx, endpointId, id);
}

/**
 * Sends a `webhook.test` event to this endpoint only: the event is written to the event log with its delivery, in
 * one batch (the fan-out skips it, so no other endpoint receives it).
 */
export async function sendTestEvent(ctx: ServiceContext, endpointId: string): Promise<Delivery> {
  await enabledEndpoint(ctx, endpointId);
  const at = new Date().toISOString();
  const eventId = newId("evt");
  const deliveryId = newId("dlv");
  const data = { endpointId, requestId: ctx.request.requestId };
  await ctx.db.batch([
    ctx.db
      .prepare(
        `INSERT INTO outbox_events (id, type, subject_id, data, secret_sealed, created_at, sequence)
         SELECT ?1, ?2, ?3, ?4, NULL, ?5, (SELECT coalesce(max(sequence), 0) + 1 FROM outbox_events WHERE subject_id IS ?3)`,
      )
      .bind(eventId, TEST_EVENT_TYPE, endpointId, JSON.stringify(data), at),
    ctx.db
      .prepare(
        `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, status, attempt, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', 1, ?5, ?5, ?5)`,
      )
      .bind(deliveryId, endpointId, eventId, TEST_EVENT_TYPE, at),
  ]);
  await enqueueAttempts(ctx.env, ctx.scope, [{ id: deliveryId, attempt: 1 }]);
  return deliveryOf(ctx, endpointId, deliveryId);
}

/**
 * The oldest time a replay may start from: the event retention (EVENT_RETENTION_DAYS: older events are deleted),
 * within the plan's history window (auditRetentionDays).
 */
function replayFloor(ctx: ServiceContext, now: number): { days: number; floor: string } {
  const planDays = PLAN_CONFIG[ctx.tenant?.plan ?? "free"].quotas.auditRetentionDays;
  const days = Math.min(planDays, eventRetentionDays(ctx.env));
  return { days, floor: new Date(now - days * DAY_MS).toISOString() };
}

/**
 * Delivers again every event at or after `since` that the endpoint's filters match (test events aside), oldest
 * first, at most REPLAY_MAX_EVENTS per call: a delivery made before is started again (a new attempt, the same
 * `webhook-id`), a missing one is created; one still pending is left on its way.
 */
export async function replayEvents(
  ctx: ServiceContext,
  endpointId: string,
  sinceText: string,
): Promise<{ queued: number; nextSince: string | null }> {
  const endpoint = await enabledEndpoint(ctx, endpointId);
  const now = Date.now();
  const since = new Date(sinceText).toISOString();
  const { days, floor } = replayFloor(ctx, now);
  if (since < floor) {
    throw new ApiError(WebhookErrors.WEBHOOK_REPLAY_TOO_OLD, {
      detail: `A replay may start at most ${days} days back (the event retention): since ${floor} or later.`,
      extensions: { earliestSince: floor },
    });
  }
  const { results: events } = await ctx.db
    .prepare(
      `SELECT id, type, created_at FROM outbox_events o
       WHERE o.created_at >= ?1 AND o.type != ?2 AND ${sqlMatchesAny("o.type", "?3")}
       ORDER BY o.created_at, o.id LIMIT ?4`,
    )
    .bind(since, TEST_EVENT_TYPE, JSON.stringify(endpoint.events), REPLAY_MAX_EVENTS + 1)
    .all<{ id: string; type: string; created_at: string }>();
  const page = events.slice(0, REPLAY_MAX_EVENTS);
  const at = new Date(now).toISOString();
  const due: DueAttempt[] = [];
  for (let i = 0; i < page.length; i += REPLAY_PAGE) {
    const chunk = page.slice(i, i + REPLAY_PAGE);
    const restarted = await ctx.db
      .prepare(
        `UPDATE webhook_deliveries SET status = 'pending', attempt = attempt + 1, next_attempt_at = ?1,
             claimed_at = NULL, dead_lettered_at = NULL, updated_at = ?1
           WHERE endpoint_id = ?2 AND status != 'pending' AND event_id IN (SELECT value FROM json_each(?3))
           RETURNING id, attempt`,
      )
      .bind(at, endpointId, JSON.stringify(chunk.map((event) => event.id)))
      .all<DueAttempt>();
    due.push(...restarted.results);
    due.push(
      ...(await insertDeliveries(
        ctx.db,
        chunk.map((event) => ({ id: newId("dlv"), endpointId, eventId: event.id, eventType: event.type })),
        at,
      )),
    );
  }
  await enqueueAttempts(ctx.env, ctx.scope, due);
  const next = events[REPLAY_MAX_EVENTS];
  return { queued: due.length, nextSince: next ? next.created_at : null };
}

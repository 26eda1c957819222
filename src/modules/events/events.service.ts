import type { z } from "@hono/zod-openapi";
import type { ServiceContext } from "../../core/context";
import { deliveryOf } from "../../core/events/delivery";
import { type OutboxRow, toEventMessage } from "../../core/events/dispatch";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import type { EventsQuerySchema } from "./events.schema";

const DELIVERY_CONDITION = {
  pending: "dispatched_at IS NULL AND dead_at IS NULL",
  dispatched: "dispatched_at IS NOT NULL",
  dead: "dispatched_at IS NULL AND dead_at IS NOT NULL",
} as const;

/**
 * The tenant's event log, newest first (like the audit trail), by `(created_at, id)`. The sealed secret of an event
 * (a reset token) is never read here.
 */
export async function listEvents(ctx: ServiceContext, query: z.infer<typeof EventsQuerySchema>) {
  const { limit, cursor, type, since, delivery } = query;
  const where: string[] = [];
  const params: unknown[] = [];
  if (type?.endsWith(".*")) {
    // the family's prefix, its `_` escaped so that it matches itself only
    where.push("type LIKE ? ESCAPE '\\'");
    params.push(`${type.slice(0, -1).replaceAll("_", "\\_")}%`);
  } else if (type) {
    where.push("type = ?");
    params.push(type);
  }
  if (since) {
    where.push("created_at >= ?");
    params.push(new Date(since).toISOString());
  }
  if (delivery) where.push(DELIVERY_CONDITION[delivery]);
  if (cursor) {
    const [createdAt, id] = decodeCursor("events", cursor, ["string", "string"]);
    where.push("(created_at < ? OR (created_at = ? AND id < ?))");
    params.push(createdAt, createdAt, id);
  }
  const { results } = await ctx.db
    .prepare(
      `SELECT id, type, subject_id, data, created_at, sequence, dispatched_at, dead_at FROM outbox_events
       ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
    .bind(...params, limit + 1)
    .all<OutboxRow & { dispatched_at: string | null; dead_at: string | null }>();
  const tenantId = ctx.scope;
  return pageOf(
    results,
    limit,
    "events",
    (row) => [row.created_at, row.id],
    (row) => ({ ...toEventMessage(tenantId, row), delivery: deliveryOf(row) }),
  );
}

import type { z } from "@hono/zod-openapi";
import type { ServiceContext } from "../../core/context";
import { controlDb, tenantDatabases } from "../../core/db/databases";
import { ApiError } from "../../core/errors";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import { newId } from "../../core/ids";
import { auditStatement } from "../audit/audit.service";
import { UserErrors } from "../users/users.errors";
import { findUser } from "../users/users.repo";
import type { OptionalCategory } from "./catalogue";
import { NotificationErrors } from "./notifications.errors";
import { listNotificationRows, type NotificationRow } from "./notifications.repo";
import type { NotificationsQuerySchema } from "./notifications.schema";
import { addOptOut, optedOutOf, setOptedOut, verifyUnsubscribeToken } from "./preferences";

function toNotification(row: NotificationRow) {
  return {
    id: row.id,
    eventId: row.event_id,
    eventType: row.event_type,
    template: row.template,
    channel: row.channel,
    category: row.category,
    userId: row.user_id,
    status: row.status,
    attempts: row.attempts,
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    sentAt: row.sent_at,
  };
}

/** The log, newest first; it holds no address and no content, only what happened to each message. */
export async function listNotifications(ctx: ServiceContext, query: z.infer<typeof NotificationsQuerySchema>) {
  const before = query.cursor ? decodeCursor("notifications", query.cursor, ["string", "string"]) : undefined;
  const rows = await listNotificationRows(
    ctx.db,
    { userId: query.userId, status: query.status, channel: query.channel, before },
    query.limit,
  );
  return pageOf(rows, query.limit, "notifications", (row) => [row.created_at, row.id], toNotification);
}

async function assertUser(ctx: ServiceContext, userId: string): Promise<void> {
  const user = await findUser(ctx, userId);
  if (!user || user.status === "deleted")
    throw new ApiError(UserErrors.USER_NOT_FOUND, { detail: `No user ${userId}.` });
}

export async function getPreferences(ctx: ServiceContext, userId: string) {
  await assertUser(ctx, userId);
  return { userId, optedOut: await optedOutOf(ctx.db, userId), essential: ["security"] };
}

export async function putPreferences(ctx: ServiceContext, userId: string, optedOut: OptionalCategory[]) {
  await assertUser(ctx, userId);
  const before = await optedOutOf(ctx.db, userId);
  const at = new Date().toISOString();
  await ctx.db.batch([
    setOptedOut(ctx.db, userId, optedOut, at),
    await auditStatement(
      ctx,
      {
        action: "notification_preferences.updated",
        resource: { type: "user", id: userId },
        changes: { notificationOptOuts: { from: before, to: [...new Set(optedOut)].sort() } },
      },
      { at },
    ),
  ]);
  return getPreferences(ctx, userId);
}

/**
 * The one-click unsubscribe (RFC 8058): the token names tenant, user and category; it can only add an opt-out.
 * An unknown tenant or user answers like a bad token, so the link reveals nothing.
 */
export async function unsubscribe(env: Env, token: string, request: ServiceContext["request"]) {
  const claim = await verifyUnsubscribeToken(env, token);
  const refuse = () =>
    new ApiError(NotificationErrors.INVALID_UNSUBSCRIBE_TOKEN, { detail: "The link is damaged or no longer valid." });
  if (!claim) throw refuse();
  const tenant = await (await controlDb(env))
    .prepare("SELECT database_binding FROM tenants WHERE id = ?")
    .bind(claim.tenantId)
    .first<{ database_binding: string }>();
  if (!tenant) throw refuse();
  const db = await tenantDatabases.forTenant(env, { databaseBinding: tenant.database_binding });
  const ctx: ServiceContext = {
    env,
    db,
    scope: claim.tenantId,
    tenant: null,
    actor: { type: "user", id: claim.userId },
    request: { ...request, requestId: request.requestId || newId("req") },
    waitUntil: () => undefined,
  };
  const user = await findUser(ctx, claim.userId);
  if (!user || user.status === "deleted") throw refuse();
  const at = new Date().toISOString();
  await db.batch([
    addOptOut(db, claim.userId, claim.category, at),
    await auditStatement(
      ctx,
      {
        action: "notification_preferences.updated",
        resource: { type: "user", id: claim.userId },
        changes: { notificationOptOuts: { from: null, to: `+${claim.category}` } },
      },
      { at },
    ),
  ]);
  return { category: claim.category, unsubscribed: true as const };
}

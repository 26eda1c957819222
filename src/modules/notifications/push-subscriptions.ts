import type { ServiceContext } from "../../core/context";
import { sha256Hex } from "../../core/crypto/hash";
import { open, seal } from "../../core/crypto/sealed-box";
import { ApiError, CoreErrors } from "../../core/errors";
import { checkOutboundUrl } from "../../core/http/url-guard";
import { newId } from "../../core/ids";
import { UserErrors } from "../users/users.errors";
import { findUser } from "../users/users.repo";
import { NotificationErrors } from "./notifications.errors";
import type { PushTarget } from "./providers";

/**
 * A user's Web Push subscriptions (RFC 8030 §4, the browser's PushSubscription): the endpoint (a capability URL:
 * whoever holds it can push) and the keys, sealed together under MASTER_KEY; only a hash of the endpoint is
 * stored in the clear, to recognise the same subscription sent twice.
 */

const PURPOSE = "uom/push-subscription/v1";

export interface PushSubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

async function assertUser(ctx: ServiceContext, userId: string): Promise<void> {
  const user = await findUser(ctx, userId);
  if (!user || user.status === "deleted") {
    throw new ApiError(UserErrors.USER_NOT_FOUND, { detail: `No user ${userId}.` });
  }
}

export async function addPushSubscription(ctx: ServiceContext, userId: string, input: PushSubscriptionInput) {
  const verdict = checkOutboundUrl(input.endpoint, ctx.env);
  if (!verdict.ok) {
    throw new ApiError(NotificationErrors.OUTBOUND_URL_REFUSED, { detail: `endpoint: ${verdict.reason}.` });
  }
  await assertUser(ctx, userId);
  const id = newId("psh");
  const at = new Date().toISOString();
  const sealed = await seal(ctx.env.MASTER_KEY, PURPOSE, `${ctx.scope}/${id}`, JSON.stringify(input));
  const row = await ctx.db
    .prepare(
      `INSERT INTO push_subscriptions (id, user_id, endpoint_hash, sealed, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id, endpoint_hash) DO UPDATE SET sealed = excluded.sealed, id = excluded.id
       RETURNING id, created_at`,
    )
    .bind(id, userId, await sha256Hex(input.endpoint), sealed, at)
    .first<{ id: string; created_at: string }>();
  if (!row) throw new ApiError(CoreErrors.INTERNAL);
  return { id: row.id, createdAt: row.created_at };
}

export async function listPushSubscriptions(ctx: ServiceContext, userId: string) {
  await assertUser(ctx, userId);
  const { results } = await ctx.db
    .prepare("SELECT id, created_at FROM push_subscriptions WHERE user_id = ? ORDER BY created_at, id")
    .bind(userId)
    .all<{ id: string; created_at: string }>();
  return results.map((row) => ({ id: row.id, createdAt: row.created_at }));
}

export async function deletePushSubscription(ctx: ServiceContext, userId: string, id: string): Promise<void> {
  const result = await ctx.db
    .prepare("DELETE FROM push_subscriptions WHERE id = ? AND user_id = ?")
    .bind(id, userId)
    .run();
  if (!result.meta.changes) {
    throw new ApiError(CoreErrors.NOT_FOUND, { detail: `No push subscription ${id} for user ${userId}.` });
  }
}

/** The user's subscriptions, opened, for the sender. */
export async function pushTargetsOf(
  env: Env,
  tenantId: string,
  db: D1Database,
  userId: string,
): Promise<(PushTarget & { id: string })[]> {
  const { results } = await db
    .prepare("SELECT id, sealed FROM push_subscriptions WHERE user_id = ?")
    .bind(userId)
    .all<{ id: string; sealed: string }>();
  return Promise.all(
    results.map(async (row) => ({
      id: row.id,
      ...(JSON.parse(await open(env.MASTER_KEY, PURPOSE, `${tenantId}/${row.id}`, row.sealed)) as PushTarget),
    })),
  );
}

export function dropPushSubscription(db: D1Database, id: string): Promise<D1Result> {
  return db.prepare("DELETE FROM push_subscriptions WHERE id = ?").bind(id).run();
}

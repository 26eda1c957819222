import type { ServiceContext } from "../../core/context";
import { ApiError, CoreErrors, type FieldError } from "../../core/errors";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import { newId } from "../../core/ids";
import { PLAN_CONFIG } from "../../core/plans";
import { forgetCachedUsers } from "../users/users.cache";
import * as users from "../users/users.service";
import {
  type ActivityRow,
  activityStatements,
  knownClientEventIds,
  type LOGIN,
  type LOGIN_FAILED,
  listActivity,
  type StoredActivity,
} from "./activity.repo";
import type { Activity, ActivityBatch, ActivityBatchResult, ActivityQuery } from "./activity.schema";

/** How far ahead of the server's clock an event may be dated (clients' clocks drift). */
const FUTURE_SKEW_MS = 5 * 60_000;
const MAX_USER_AGENT = 512;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** A login's activity row (success or failure), for the login's own batch; `userId` null for an unknown identifier. */
export function loginActivity(
  ctx: ServiceContext,
  userId: string | null,
  type: typeof LOGIN | typeof LOGIN_FAILED,
  at: string,
): D1PreparedStatement[] {
  return activityStatements(ctx.db, [
    {
      id: newId("act"),
      userId,
      type,
      occurredAt: at,
      ip: ctx.request.ip,
      userAgent: ctx.request.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
      properties: null,
      clientEventId: null,
      receivedAt: at,
    },
  ]);
}

/** The tenant's raw activity retention: its plan's, in days. */
export function activityRetentionDays(ctx: Pick<ServiceContext, "tenant">): number {
  return PLAN_CONFIG[ctx.tenant?.plan ?? "free"].quotas.activityRetentionDays;
}

interface Resolved {
  byId: Map<string, string>;
  byExternalId: Map<string, string>;
  /** Each named user's `last_active_at` before this batch. */
  lastActive: Map<string, string | null>;
}

/** The live users the batch names, by id and by externalId, in queries of at most 90 names. */
async function resolveUsers(ctx: ServiceContext, ids: string[], externalIds: string[]): Promise<Resolved> {
  const resolved: Resolved = { byId: new Map(), byExternalId: new Map(), lastActive: new Map() };
  const lookups: [string, string[], Map<string, string>][] = [
    ["id", [...new Set(ids)], resolved.byId],
    ["external_id", [...new Set(externalIds)], resolved.byExternalId],
  ];
  for (const [column, names, into] of lookups) {
    for (let i = 0; i < names.length; i += 500) {
      const { results } = await ctx.db
        .prepare(
          `SELECT id, ${column} AS name, last_active_at FROM users
           WHERE ${column} IN (SELECT value FROM json_each(?)) AND status <> 'deleted'`,
        )
        .bind(JSON.stringify(names.slice(i, i + 500)))
        .all<{ id: string; name: string; last_active_at: string | null }>();
      for (const row of results) {
        into.set(row.name, row.id);
        resolved.lastActive.set(row.id, row.last_active_at);
      }
    }
  }
  return resolved;
}

/**
 * Records a batch of product activity (POST /v1/activity). All or nothing: an event naming no live user, dated in
 * the future or before the plan's retention, or typed as a login is refused with every such event listed, and nothing
 * is recorded. An event whose `id` was recorded before (or appears twice in the batch) is a duplicate and counted once.
 */
export async function recordActivity(ctx: ServiceContext, batch: ActivityBatch): Promise<ActivityBatchResult> {
  const now = Date.now();
  const oldest = now - activityRetentionDays(ctx) * DAY_MS;
  const resolved = await resolveUsers(
    ctx,
    batch.events.flatMap((e) => (e.userId ? [e.userId] : [])),
    batch.events.flatMap((e) => (e.externalId ? [e.externalId] : [])),
  );
  const errors: FieldError[] = [];
  const receivedAt = new Date(now).toISOString();
  const rows: ActivityRow[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  batch.events.forEach((event, index) => {
    const at = event.occurredAt === undefined ? now : Date.parse(event.occurredAt);
    const userId = event.userId ? resolved.byId.get(event.userId) : resolved.byExternalId.get(event.externalId ?? "");
    const field = (name: string) => `events[${index}].${name}`;
    if (!userId) {
      const name = event.userId ? "userId" : "externalId";
      errors.push({ field: field(name), code: "unknown_user", detail: `No live user has this ${name}.` });
    }
    if (at > now + FUTURE_SKEW_MS) {
      errors.push({ field: field("occurredAt"), code: "in_future", detail: "An event cannot be dated in the future." });
    } else if (at < oldest) {
      errors.push({
        field: field("occurredAt"),
        code: "beyond_retention",
        detail: `The plan keeps activity ${activityRetentionDays(ctx)} days; this event is older.`,
      });
    }
    if (!userId || errors.length > 0) return;
    if (event.id !== undefined) {
      if (seen.has(event.id)) {
        duplicates++;
        return;
      }
      seen.add(event.id);
    }
    rows.push({
      id: newId("act"),
      userId,
      type: event.type,
      occurredAt: new Date(at).toISOString(),
      ip: null,
      userAgent: null,
      properties: event.properties ?? null,
      clientEventId: event.id ?? null,
      receivedAt,
    });
  });
  if (errors.length > 0) {
    throw new ApiError(CoreErrors.VALIDATION_FAILED, {
      detail: `${errors.length} event(s) cannot be recorded; nothing was recorded.`,
      errors,
    });
  }
  const known = await knownClientEventIds(ctx.db, [...seen]);
  const fresh = rows.filter((row) => row.clientEventId === null || !known.has(row.clientEventId));
  duplicates += rows.length - fresh.length;
  if (fresh.length > 0) await ctx.db.batch(activityStatements(ctx.db, fresh));
  // last_active_at is part of the user's representation: the cached profiles of the users whose value moved go
  await forgetCachedUsers(ctx, movedLastActive(fresh, resolved.lastActive));
  return { received: batch.events.length, recorded: fresh.length, duplicates };
}

/**
 * The users whose `last_active_at` this batch moves (activity.repo.ts: at least an hour after the stored value, or on
 * a later day).
 */
function movedLastActive(rows: readonly ActivityRow[], before: ReadonlyMap<string, string | null>): string[] {
  const latest = new Map<string, string>();
  for (const row of rows) {
    const userId = row.userId as string;
    if (row.occurredAt > (latest.get(userId) ?? "")) latest.set(userId, row.occurredAt);
  }
  return [...latest]
    .filter(([userId, at]) => {
      const stored = before.get(userId);
      return !stored || Date.parse(at) >= Date.parse(stored) + HOUR_MS || at.slice(0, 10) > stored.slice(0, 10);
    })
    .map(([userId]) => userId);
}

function toActivity(row: StoredActivity): Activity {
  return {
    id: row.id,
    userId: row.user_id,
    type: row.type,
    occurredAt: row.occurred_at,
    ip: row.ip,
    userAgent: row.user_agent,
    properties: row.properties === null ? null : (JSON.parse(row.properties) as Record<string, unknown>),
    eventId: row.client_event_id,
  };
}

/** A user's activity, newest first (GET /v1/users/{id}/activity); 404 when the caller may not see the user. */
export async function userActivity(ctx: ServiceContext, userId: string, query: ActivityQuery) {
  await users.getUser(ctx, userId, true);
  const after = query.cursor ? decodeCursor("activity", query.cursor, ["string", "string"] as const) : null;
  const iso = (t: string | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
  const rows = await listActivity(ctx.db, userId, {
    ...(query.type ? { type: query.type } : {}),
    ...(query.from ? { from: iso(query.from) } : {}),
    ...(query.to ? { to: iso(query.to) } : {}),
    after,
    limit: query.limit,
  });
  return pageOf(rows, query.limit, "activity", (row) => [row.occurred_at, row.id], toActivity);
}

import type { Category, Channel } from "./catalogue";

/** The `notifications` table: one row per message (the log), and the sender's claim on it. */

export type NotificationStatus = "queued" | "sent" | "failed" | "suppressed";

export interface NotificationRow {
  id: string;
  event_id: string;
  event_type: string;
  template: string;
  channel: Channel;
  category: Category;
  user_id: string;
  status: NotificationStatus;
  attempts: number;
  error: string | null;
  claimed_at: string | null;
  created_at: string;
  updated_at: string;
  sent_at: string | null;
  due_at: string | null;
}

export type NewNotification = Pick<
  NotificationRow,
  "id" | "event_id" | "event_type" | "template" | "channel" | "category" | "user_id"
>;

/** Idempotent by (event, channel, template): a redelivered event inserts nothing. */
export function insertNotification(db: D1Database, row: NewNotification, at: string): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO notifications (id, event_id, event_type, template, channel, category, user_id, status, created_at, updated_at, due_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?8, ?8)
       ON CONFLICT (event_id, channel, template) DO NOTHING`,
    )
    .bind(row.id, row.event_id, row.event_type, row.template, row.channel, row.category, row.user_id, at);
}

/**
 * The messages of these events due to be sent (the ones just written, or left by an earlier failed enqueue); not one
 * waiting for a delayed retry.
 */
export async function queuedOf(db: D1Database, eventIds: readonly string[], now: string): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT id FROM notifications
       WHERE status = 'queued' AND (due_at IS NULL OR due_at <= ?2) AND event_id IN (SELECT value FROM json_each(?1))
       ORDER BY id`,
    )
    .bind(JSON.stringify(eventIds), now)
    .all<{ id: string }>();
  return results.map((row) => row.id);
}

/**
 * Takes a queued message for one send attempt (counts it), unless another sender holds it: a claim older than
 * `staleBefore` is taken over (that sender died). Null: nothing to do for this queue message.
 */
export async function claimNotification(
  db: D1Database,
  id: string,
  now: string,
  staleBefore: string,
): Promise<NotificationRow | null> {
  return db
    .prepare(
      `UPDATE notifications SET claimed_at = ?1, attempts = attempts + 1, updated_at = ?1
       WHERE id = ?2 AND status = 'queued' AND (claimed_at IS NULL OR claimed_at < ?3)
       RETURNING *`,
    )
    .bind(now, id, staleBefore)
    .first<NotificationRow>();
}

/** The end of an attempt: `queued` again (with the error, and when the retry is due), or a final status. */
export function finishNotification(
  db: D1Database,
  id: string,
  outcome: { status: NotificationStatus; error: string | null; dueAt?: string },
  at: string,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE notifications SET status = ?1, error = ?2, claimed_at = NULL, updated_at = ?3, due_at = ?4,
         sent_at = CASE WHEN ?1 = 'sent' THEN ?3 ELSE sent_at END
       WHERE id = ?5`,
    )
    .bind(outcome.status, outcome.error, at, outcome.status === "queued" ? (outcome.dueAt ?? at) : null, id);
}

/**
 * Queued messages overdue since before `overdueBefore` and held by no sender (or by one that died before
 * `staleBefore`): their queue message was lost. They are due again at `now` (so the next sweep waits as long again)
 * and returned, at most 100.
 */
export async function claimOverdueNotifications(
  db: D1Database,
  overdueBefore: string,
  staleBefore: string,
  now: string,
): Promise<string[]> {
  const { results } = await db
    .prepare(
      `UPDATE notifications SET due_at = ?3 WHERE id IN (
         SELECT id FROM notifications
         WHERE status = 'queued' AND coalesce(due_at, updated_at) < ?1 AND (claimed_at IS NULL OR claimed_at < ?2)
         ORDER BY due_at LIMIT 100)
       RETURNING id`,
    )
    .bind(overdueBefore, staleBefore, now)
    .all<{ id: string }>();
  return results.map((row) => row.id);
}

/** Deletes at most `limit` settled messages (sent, failed, suppressed) created before `before`; returns how many. */
export async function purgeSettledNotifications(db: D1Database, before: string, limit: number): Promise<number> {
  const result = await db
    .prepare(
      `DELETE FROM notifications WHERE id IN (
         SELECT id FROM notifications WHERE created_at < ? AND status != 'queued' ORDER BY created_at LIMIT ?)`,
    )
    .bind(before, limit)
    .run();
  return result.meta.changes ?? 0;
}

export interface NotificationFilter {
  userId?: string | undefined;
  status?: NotificationStatus | undefined;
  channel?: Channel | undefined;
  before?: readonly [string, string] | undefined;
}

export async function listNotificationRows(
  db: D1Database,
  filter: NotificationFilter,
  limit: number,
): Promise<NotificationRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.userId) {
    where.push("user_id = ?");
    params.push(filter.userId);
  }
  if (filter.status) {
    where.push("status = ?");
    params.push(filter.status);
  }
  if (filter.channel) {
    where.push("channel = ?");
    params.push(filter.channel);
  }
  if (filter.before) {
    where.push("(created_at < ? OR (created_at = ? AND id < ?))");
    params.push(filter.before[0], filter.before[0], filter.before[1]);
  }
  const { results } = await db
    .prepare(
      `SELECT * FROM notifications ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
    .bind(...params, limit + 1)
    .all<NotificationRow>();
  return results;
}

export async function findNotificationRow(db: D1Database, id: string): Promise<NotificationRow | null> {
  return db.prepare("SELECT * FROM notifications WHERE id = ?").bind(id).first<NotificationRow>();
}

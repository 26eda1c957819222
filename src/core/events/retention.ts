import type { OutboxTable } from "./delivery";

/** Rows deleted per statement, and statements per table per daily run: a backlog is worked off over several days. */
const PURGE_PAGE = 500;
const PURGE_PAGES_PER_RUN = 20;
const DAY_MS = 24 * 60 * 60 * 1000;

function days(value: string | undefined): number {
  const parsed = Number(value ?? 30);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : 30;
}

/** EVENT_RETENTION_DAYS ([vars]; 30 days by default, like Stripe's event log). */
export function eventRetentionDays(env: Env): number {
  return days(env.EVENT_RETENTION_DAYS);
}

/**
 * The instant before which settled delivery records go (webhook deliveries with their attempts, the notification
 * log): DELIVERY_LOG_RETENTION_DAYS ([vars]; 30 days by default).
 */
export function deliveryLogCutoff(env: Env, now: number): string {
  return new Date(now - days(env.DELIVERY_LOG_RETENTION_DAYS) * DAY_MS).toISOString();
}

/**
 * Deletes outbox rows delivered (or dead) before the retention window, in bounded pages, and keeps each subject's
 * newest row whatever its age: the next event of that subject then continues its `sequence` (max + 1) instead of
 * starting again at 1. Pending rows are never deleted. Each page starts after the last row the previous one deleted
 * (every older row left was kept on purpose), so the kept rows are read once per run, not once per page. Returns the
 * number of rows deleted.
 */
export async function purgeOldEvents(env: Env, db: D1Database, table: OutboxTable, now = Date.now()): Promise<number> {
  const before = new Date(now - eventRetentionDays(env) * DAY_MS).toISOString();
  const page = db.prepare(
    `DELETE FROM ${table} WHERE id IN (
       SELECT o.id FROM ${table} o
       WHERE o.created_at < ?1 AND (o.created_at > ?2 OR (o.created_at = ?2 AND o.id > ?3))
         AND (o.dispatched_at IS NOT NULL OR o.dead_at IS NOT NULL)
         AND EXISTS (SELECT 1 FROM ${table} n WHERE n.subject_id IS o.subject_id AND n.sequence > o.sequence)
       ORDER BY o.created_at, o.id LIMIT ${PURGE_PAGE})
     RETURNING created_at, id`,
  );
  let deleted = 0;
  let after = { created_at: "", id: "" };
  for (let n = 0; n < PURGE_PAGES_PER_RUN; n++) {
    const { results } = await page.bind(before, after.created_at, after.id).all<{ created_at: string; id: string }>();
    deleted += results.length;
    if (results.length < PURGE_PAGE) break;
    for (const row of results) {
      if (row.created_at > after.created_at || (row.created_at === after.created_at && row.id > after.id)) after = row;
    }
  }
  return deleted;
}

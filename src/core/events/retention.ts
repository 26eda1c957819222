import type { OutboxTable } from "./delivery";

/** Rows deleted per statement, and statements per table per daily run: a backlog is worked off over several days. */
const PURGE_PAGE = 500;
const PURGE_PAGES_PER_RUN = 20;
const DAY_MS = 24 * 60 * 60 * 1000;

/** EVENT_RETENTION_DAYS ([vars]; 30 days by default, like Stripe's event log). */
export function eventRetentionDays(env: Env): number {
  const days = Number(env.EVENT_RETENTION_DAYS ?? 30);
  return Number.isFinite(days) && days > 0 ? days : 30;
}

/**
 * Deletes outbox rows delivered (or dead) before the retention window, in bounded pages, and keeps each subject's
 * newest row whatever its age: the next event of that subject then continues its `sequence` (max + 1) instead of
 * starting again at 1. Pending rows are never deleted. Returns the number of rows deleted.
 */
export async function purgeOldEvents(env: Env, db: D1Database, table: OutboxTable, now = Date.now()): Promise<number> {
  const before = new Date(now - eventRetentionDays(env) * DAY_MS).toISOString();
  const statement = db
    .prepare(
      `DELETE FROM ${table} WHERE id IN (
         SELECT o.id FROM ${table} o
         WHERE o.created_at < ?1 AND (o.dispatched_at IS NOT NULL OR o.dead_at IS NOT NULL)
           AND EXISTS (SELECT 1 FROM ${table} n WHERE n.subject_id IS o.subject_id AND n.sequence > o.sequence)
         ORDER BY o.created_at, o.id LIMIT ${PURGE_PAGE})`,
    )
    .bind(before);
  let deleted = 0;
  for (let page = 0; page < PURGE_PAGES_PER_RUN; page++) {
    const { meta } = await statement.run();
    deleted += meta.changes;
    if (meta.changes < PURGE_PAGE) break;
  }
  return deleted;
}

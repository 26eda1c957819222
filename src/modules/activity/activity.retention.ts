import { PLAN_CONFIG, type Plan } from "../../core/plans";

/** Daily rollups outlive the raw events on every plan: the insights' history and the churn model's training data. */
export const ACTIVITY_ROLLUP_RETENTION_DAYS = 1_095;
const DAY_MS = 86_400_000;
/** Rows per delete, so one tenant's backlog never makes one long write. */
const PURGE_CHUNK = 5_000;

/** Daily: raw activity past the plan's retention, and rollups past ACTIVITY_ROLLUP_RETENTION_DAYS. */
export async function purgeActivity(db: D1Database, plan: Plan, now = Date.now()): Promise<void> {
  const rawCutoff = new Date(now - PLAN_CONFIG[plan].quotas.activityRetentionDays * DAY_MS).toISOString();
  const purge = db.prepare(
    "DELETE FROM activity_events WHERE id IN (SELECT id FROM activity_events WHERE occurred_at < ? LIMIT ?)",
  );
  for (;;) {
    const { meta } = await purge.bind(rawCutoff, PURGE_CHUNK).run();
    if (meta.changes < PURGE_CHUNK) break;
  }
  const rollupCutoff = new Date(now - ACTIVITY_ROLLUP_RETENTION_DAYS * DAY_MS).toISOString().slice(0, 10);
  await db.prepare("DELETE FROM activity_daily WHERE day < ?").bind(rollupCutoff).run();
}

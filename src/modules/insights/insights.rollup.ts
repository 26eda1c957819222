import { ACTIVITY_ROLLUP_RETENTION_DAYS } from "../activity/activity.retention";
import { addDays, dayOf, daysBetween } from "./insights.days";
import { rollUpPeriods } from "./insights.periods";

/** A day's figures: what a day's rollup row holds. */
export interface DayFigures {
  day: string;
  signups: number;
  deletions: number;
  activeUsers: number;
}

// One day's figures from the live tables, for each day of a JSON list: the cron's rollup and the reads of days not
// rolled up run this same SQL, so a rolled-up day and a live one cannot disagree. Each figure is a range count on an
// index (users_created_idx, users_deleted_at_idx, activity_daily_day_idx).
export const LIVE_DAY_FIGURES = `
  SELECT m.value AS day,
    (SELECT count(*) FROM users WHERE created_at >= m.value AND created_at < date(m.value, '+1 day')) AS signups,
    (SELECT count(*) FROM users WHERE deleted_at >= m.value AND deleted_at < date(m.value, '+1 day')) AS deletions,
    (SELECT count(*) FROM activity_daily WHERE day = m.value AND (events > 0 OR logins > 0)) AS activeUsers
  FROM json_each(?1) AS m`;

/**
 * Each day's figures from `firstDay` to `lastDay`: the rolled-up days from insights_daily, the others (today, days
 * not rolled up yet, days whose row a late change deleted) live.
 */
export async function dayFigures(
  db: D1Database,
  firstDay: string,
  lastDay: string,
  useRollups = true,
): Promise<DayFigures[]> {
  const { results: rolled } = useRollups
    ? await db
        .prepare(
          `SELECT day, signups, deletions, active_users AS activeUsers FROM insights_daily
           WHERE day >= ? AND day <= ?`,
        )
        .bind(firstDay, lastDay)
        .all<DayFigures>()
    : { results: [] };
  const byDay = new Map(rolled.map((row) => [row.day, row]));
  const missing = daysBetween(firstDay, lastDay).filter((day) => !byDay.has(day));
  if (missing.length > 0) {
    const { results } = await db.prepare(LIVE_DAY_FIGURES).bind(JSON.stringify(missing)).all<DayFigures>();
    for (const row of results) byDay.set(row.day, row);
  }
  return daysBetween(firstDay, lastDay).map(
    (day) => byDay.get(day) ?? { day, signups: 0, deletions: 0, activeUsers: 0 },
  );
}

/**
 * Daily (dailyMaintenance): rolls up every closed day (before today, UTC) that has no row, from the tenant's first
 * sign-up or activity on, within the activity rollups' retention. One statement reads and writes, so activity that
 * lands meanwhile either is counted or deletes the row it made stale (the triggers of 0026_insights_rollups.sql).
 * Then the closed weeks and months (insights.periods.ts).
 */
export async function rollUpInsights(
  _env: Env,
  _tenantId: string,
  db: D1Database,
  now = Date.now(),
): Promise<{ rolledUp: number; periods: number }> {
  const today = dayOf(now);
  const oldest = addDays(today, -ACTIVITY_ROLLUP_RETENTION_DAYS);
  const first = await db
    .prepare(
      `SELECT min((SELECT substr(min(created_at), 1, 10) FROM users),
                  coalesce((SELECT min(day) FROM activity_daily), '9999-12-31')) AS day`,
    )
    .first<{ day: string | null }>();
  if (!first?.day || first.day >= today) return { rolledUp: 0, periods: 0 };
  const [start = oldest] = [first.day, oldest].sort().reverse(); // the later of the two days
  const days = daysBetween(start, addDays(today, -1));
  const { meta } = await db
    .prepare(
      `INSERT INTO insights_daily (day, signups, deletions, active_users, rolled_up_at)
       SELECT live.day, live.signups, live.deletions, live.activeUsers, ?2 FROM (${LIVE_DAY_FIGURES}) AS live
       WHERE NOT EXISTS (SELECT 1 FROM insights_daily i WHERE i.day = live.day)`,
    )
    .bind(JSON.stringify(days), new Date(now).toISOString())
    .run();
  // rows past the rollups' retention go with the activity they summed (the activity_daily delete trigger)
  const periods = await rollUpPeriods(db, start, today, new Date(now).toISOString());
  return { rolledUp: meta.changes, periods };
}

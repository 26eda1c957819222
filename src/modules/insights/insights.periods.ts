import { addDays, dayOf, mondayOf } from "./insights.days";

/**
 * The figures of closed ISO weeks and calendar months (UTC), rolled up in `insights_periods` by the daily cron
 * (migrations/tenant/0027_insights_periods.sql, docs/insights.md): distinct users active in the period, how many of
 * them were active on no day of the next one, and for weeks the active users by sign-up week. A figure missing (not
 * rolled up yet, or deleted by a trigger because its inputs changed) is computed live with the same SQL.
 */

export type Period = "week" | "month";

export interface PeriodFigures {
  start: string;
  activeUsers: number;
  /** Of `activeUsers`, those not active in the next period; null while the next period is open. */
  churned: number | null;
  /** Weeks: cohort Monday → active users of that sign-up week; null for months. */
  cohorts: Record<string, number> | null;
}

const ACTIVE = "(events > 0 OR logins > 0)";

export function periodStart(period: Period, day: string): string {
  return period === "week" ? mondayOf(day) : `${day.slice(0, 7)}-01`;
}

export function nextPeriod(period: Period, start: string): string {
  if (period === "week") return addDays(start, 7);
  const date = new Date(`${start}T00:00:00Z`);
  return dayOf(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1));
}

export function previousPeriod(period: Period, start: string): string {
  if (period === "week") return addDays(start, -7);
  const date = new Date(`${start}T00:00:00Z`);
  return dayOf(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() - 1, 1));
}

/**
 * One period's figures from activity_daily: ?1 its start, ?2 the next period's start, ?3 the one after; `churned`
 * only when ?4 (the next period is closed), `cohorts` only when ?5 (a week).
 */
export const LIVE_PERIOD = `
  SELECT
    (SELECT count(DISTINCT user_id) FROM activity_daily WHERE day >= ?1 AND day < ?2 AND ${ACTIVE}) AS active_users,
    CASE WHEN ?4 THEN (
      SELECT count(*) FROM (SELECT DISTINCT user_id FROM activity_daily WHERE day >= ?1 AND day < ?2 AND ${ACTIVE}) a
      WHERE NOT EXISTS (SELECT 1 FROM activity_daily n
                        WHERE n.user_id = a.user_id AND n.day >= ?2 AND n.day < ?3 AND (n.events > 0 OR n.logins > 0))
    ) END AS churned,
    CASE WHEN ?5 THEN (
      SELECT json_group_object(cohort, n) FROM (
        SELECT date(substr(u.created_at, 1, 10), '-6 days', 'weekday 1') AS cohort, count(*) AS n FROM users u
        WHERE u.id IN (SELECT user_id FROM activity_daily WHERE day >= ?1 AND day < ?2 AND ${ACTIVE})
        GROUP BY cohort)
    ) END AS cohorts`;

/** LIVE_PERIOD written as the row of the period (?6 its kind, ?7 the time). */
const WRITE_PERIOD = `INSERT OR REPLACE INTO insights_periods (period, start, active_users, churned, cohorts, rolled_up_at)
  SELECT ?6, ?1, active_users, churned, cohorts, ?7 FROM (${LIVE_PERIOD})`;

interface PeriodRow {
  start: string;
  active_users: number;
  churned: number | null;
  cohorts: string | null;
}

/** LIVE_PERIOD's parameters for the period starting `start`. */
function liveParams(period: Period, start: string, today: string): unknown[] {
  const next = nextPeriod(period, start);
  const afterNext = nextPeriod(period, next);
  return [start, next, afterNext, afterNext <= today ? 1 : 0, period === "week" ? 1 : 0];
}

const figuresOf = (row: PeriodRow): PeriodFigures => ({
  start: row.start,
  activeUsers: row.active_users,
  churned: row.churned,
  cohorts: row.cohorts === null ? null : (JSON.parse(row.cohorts) as Record<string, number>),
});

/**
 * The figures of periods `starts`: rolled up where a row is, live otherwise. A row whose `churned` is null while the
 * next period is closed too is computed again. What is computed for a closed period is stored as the cron would
 * (read-through: a large tenant's first read before the cron pays once, not every read).
 */
export async function periodFigures(
  db: D1Database,
  period: Period,
  starts: readonly string[],
  today: string,
  useRollups = true,
): Promise<Map<string, PeriodFigures>> {
  const figures = new Map<string, PeriodFigures>();
  if (starts.length === 0) return figures;
  const { results } = !useRollups
    ? { results: [] }
    : await db
        .prepare(
          `SELECT start, active_users, churned, cohorts FROM insights_periods
       WHERE period = ?1 AND start IN (SELECT value FROM json_each(?2))`,
        )
        .bind(period, JSON.stringify(starts))
        .all<PeriodRow>();
  for (const row of results) {
    if (row.churned !== null || nextPeriod(period, nextPeriod(period, row.start)) > today) {
      figures.set(row.start, figuresOf(row));
    }
  }
  const missing = starts.filter((start) => !figures.has(start));
  if (missing.length > 0) {
    const now = new Date().toISOString();
    const live = await db.batch(
      missing.map((start) =>
        useRollups && nextPeriod(period, start) <= today
          ? db
              .prepare(`${WRITE_PERIOD} RETURNING start, active_users, churned, cohorts`)
              .bind(...liveParams(period, start, today), period, now)
          : db.prepare(`SELECT ?1 AS start, * FROM (${LIVE_PERIOD})`).bind(...liveParams(period, start, today)),
      ),
    );
    for (const result of live) {
      const row = result.results[0] as PeriodRow;
      figures.set(row.start, figuresOf(row));
    }
  }
  return figures;
}

/** Rows written per period kind and cron run at most, newest first: a large tenant's history fills over a few days. */
const ROLLUP_LIMIT = 60;

/**
 * Daily (dailyMaintenance): writes the row of every closed week and month from `firstDay` on that has none, and
 * rewrites the rows whose `churned` can now be known. One statement per period reads and writes, so activity landing
 * meanwhile is either counted or deletes the row (the triggers of 0027_insights_periods.sql).
 */
export async function rollUpPeriods(db: D1Database, firstDay: string, today: string, now: string): Promise<number> {
  let written = 0;
  for (const period of ["week", "month"] as const) {
    const starts: string[] = [];
    for (let start = periodStart(period, firstDay); nextPeriod(period, start) <= today; ) {
      starts.push(start);
      start = nextPeriod(period, start);
    }
    const { results } = await db
      .prepare("SELECT start, churned FROM insights_periods WHERE period = ?")
      .bind(period)
      .all<{ start: string; churned: number | null }>();
    const rows = new Map(results.map((row) => [row.start, row.churned]));
    const due = starts
      .filter((start) => {
        if (!rows.has(start)) return true;
        return rows.get(start) === null && nextPeriod(period, nextPeriod(period, start)) <= today;
      })
      .reverse()
      .slice(0, ROLLUP_LIMIT);
    if (due.length === 0) continue;
    for (const start of due) {
      const { meta } = await db
        .prepare(WRITE_PERIOD)
        .bind(...liveParams(period, start, today), period, now)
        .run();
      written += meta.changes;
    }
  }
  return written;
}

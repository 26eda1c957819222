// The insights' SQL (docs/insights.md). Every query is a range over an index: users by (status, created_at),
// created_at or deleted_at; activity_daily by (day, user_id) or by its primary key (user_id, day). None reads every
// user per day (test/insights/plans.test.ts checks the plans).

/** activity_daily rows that make a user active that day: a login or a product event (failed logins do not). */
const ACTIVE = "(events > 0 OR logins > 0)";

export interface StatusCounts {
  active: number;
  disabled: number;
  deleted: number;
}

/** Users signed up before `to`, by their status now. */
export function statusCountsStatement(db: D1Database, to: string): D1PreparedStatement {
  return db
    .prepare(
      `SELECT (SELECT count(*) FROM users WHERE status = 'active' AND created_at < ?1) AS active,
              (SELECT count(*) FROM users WHERE status = 'disabled' AND created_at < ?1) AS disabled,
              (SELECT count(*) FROM users WHERE status = 'deleted' AND created_at < ?1) AS deleted`,
    )
    .bind(to);
}

/** Users created, and users deleted (and not restored), within [from, to). */
export function createdAndDeletedStatement(db: D1Database, from: string, to: string): D1PreparedStatement {
  return db
    .prepare(
      `SELECT (SELECT count(*) FROM users WHERE created_at >= ?1 AND created_at < ?2) AS created,
              (SELECT count(*) FROM users WHERE deleted_at >= ?1 AND deleted_at < ?2) AS deleted`,
    )
    .bind(from, to);
}

/** Users signed up before `to`, not deleted, with an active day from `firstDay` to `lastDay`. */
export function activeCurrentUsersStatement(
  db: D1Database,
  firstDay: string,
  lastDay: string,
  to: string,
): D1PreparedStatement {
  return db
    .prepare(
      `SELECT count(*) AS users FROM users
       WHERE id IN (SELECT user_id FROM activity_daily WHERE day >= ?1 AND day <= ?2 AND ${ACTIVE})
         AND status <> 'deleted' AND created_at < ?3`,
    )
    .bind(firstDay, lastDay, to);
}

/** Distinct users active from `firstDay` to `lastDay` (deleted since or not: they were active then). */
export function activeUsersStatement(db: D1Database, firstDay: string, lastDay: string): D1PreparedStatement {
  return db
    .prepare(`SELECT count(DISTINCT user_id) AS users FROM activity_daily WHERE day >= ?1 AND day <= ?2 AND ${ACTIVE}`)
    .bind(firstDay, lastDay);
}

/**
 * Users signed up before `to`, not deleted, by tenure: the bounds are the sign-up instants 7, 30, 90 and 365 days
 * before `to`. A covered range on users_status_created_idx.
 */
export function tenureStatement(db: D1Database, to: string, bounds: readonly string[]): D1PreparedStatement {
  return db
    .prepare(
      `SELECT sum(created_at >= ?2) AS b0, sum(created_at < ?2 AND created_at >= ?3) AS b1,
              sum(created_at < ?3 AND created_at >= ?4) AS b2, sum(created_at < ?4 AND created_at >= ?5) AS b3,
              sum(created_at < ?5) AS b4
       FROM users WHERE status IN ('active', 'disabled') AND created_at < ?1`,
    )
    .bind(to, ...bounds);
}

/** Of the users signed up before `to` and not deleted: how many had 1, 2–4, 5–9 and 10+ logins in the days. */
export function loginFrequencyStatement(
  db: D1Database,
  firstDay: string,
  lastDay: string,
  to: string,
): D1PreparedStatement {
  return db
    .prepare(
      `SELECT coalesce(sum(n = 1), 0) AS b1, coalesce(sum(n BETWEEN 2 AND 4), 0) AS b2,
              coalesce(sum(n BETWEEN 5 AND 9), 0) AS b3, coalesce(sum(n >= 10), 0) AS b4
       FROM (SELECT user_id, sum(logins) AS n FROM activity_daily
             WHERE day >= ?1 AND day <= ?2 AND logins > 0 GROUP BY user_id) AS l
       JOIN users u ON u.id = l.user_id
       WHERE u.status <> 'deleted' AND u.created_at < ?3`,
    )
    .bind(firstDay, lastDay, to);
}

const PERIOD_START = {
  week: (day: string) => `date(${day}, '-6 days', 'weekday 1')`,
  month: (day: string) => `date(${day}, 'start of month')`,
};
const NEXT_PERIOD = { week: "'+7 days'", month: "'+1 month'" };

/**
 * Per period P−1 starting from `firstStart` and before `lastStart`: its active users (base) and how many of them
 * were not active in P (churned). Activity is read from `firstStart` to `lastDay`. One pass: each user's active
 * periods in order, a user churned after P−1 when their next active period is not P.
 */
export function churnStatement(
  db: D1Database,
  period: "week" | "month",
  firstStart: string,
  lastStart: string,
  lastDay: string,
): D1PreparedStatement {
  return db
    .prepare(
      `WITH a AS (
         SELECT DISTINCT user_id, ${PERIOD_START[period]("day")} AS p FROM activity_daily
         WHERE day >= ?1 AND day <= ?3 AND ${ACTIVE}
       ), b AS (
         SELECT p, lead(p) OVER (PARTITION BY user_id ORDER BY p) AS next FROM a
       )
       SELECT p AS start, count(*) AS base,
              sum(next IS NULL OR next <> date(p, ${NEXT_PERIOD[period]})) AS churned
       FROM b WHERE p < ?2 GROUP BY p`,
    )
    .bind(firstStart, lastStart, lastDay);
}

/** The sizes of the sign-up week cohorts of [from, to), by the cohort week's Monday. */
export function cohortSizesStatement(db: D1Database, from: string, to: string): D1PreparedStatement {
  return db
    .prepare(
      `SELECT ${PERIOD_START.week("substr(created_at, 1, 10)")} AS week, count(*) AS size FROM users
       WHERE created_at >= ?1 AND created_at < ?2 GROUP BY week`,
    )
    .bind(from, to);
}

/** Per cohort week and week offset: the cohort's users active that week (up to `lastDay`). */
export function cohortActivityStatement(
  db: D1Database,
  from: string,
  to: string,
  lastDay: string,
): D1PreparedStatement {
  return db
    .prepare(
      `WITH c AS MATERIALIZED (
         SELECT id, ${PERIOD_START.week("substr(created_at, 1, 10)")} AS week FROM users
         WHERE created_at >= ?1 AND created_at < ?2
       )
       SELECT c.week AS week,
              CAST(round((julianday(${PERIOD_START.week("d.day")}) - julianday(c.week)) / 7) AS INTEGER) AS week_offset,
              count(DISTINCT d.user_id) AS users
       FROM c JOIN activity_daily d ON d.user_id = c.id AND d.day >= c.week AND d.day <= ?3
       WHERE (d.events > 0 OR d.logins > 0)
       GROUP BY c.week, week_offset`,
    )
    .bind(from, to, lastDay);
}

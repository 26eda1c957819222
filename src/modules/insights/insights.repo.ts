// The insights' SQL (docs/insights.md). Every query is a range over an index: users by (status, created_at),
// (last_active_at, …), created_at or deleted_at; activity_daily by (day, user_id), its login days or its primary
// key (user_id, day). None reads every user per day (test/insights/plans.test.ts checks the plans).

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
 * before `to`. Five covered range counts on users_status_created_idx (counting, not evaluating each row).
 */
export function tenureStatement(db: D1Database, to: string, bounds: readonly string[]): D1PreparedStatement {
  const current = "SELECT count(*) FROM users WHERE status IN ('active', 'disabled')";
  return db
    .prepare(
      `SELECT (${current} AND created_at >= ?2 AND created_at < ?1) AS b0,
              (${current} AND created_at >= ?3 AND created_at < ?2) AS b1,
              (${current} AND created_at >= ?4 AND created_at < ?3) AS b2,
              (${current} AND created_at >= ?5 AND created_at < ?4) AS b3,
              (${current} AND created_at < ?5) AS b4`,
    )
    .bind(to, ...bounds);
}

const USER_ORDER_AFTER_DAYS = 90;

/**
 * Of the users signed up before `to` and not deleted: how many had 1, 2–4, 5–9 and 10+ logins in the days. Every
 * user's logins, from the covering activity_daily_logins_idx, less those of the few users left out (deleted, or
 * signed up since `to`): cheaper than joining every user to check its status. The login days come from a day range
 * over up to USER_ORDER_AFTER_DAYS days (sorted by user after), from every login day in user order over more (no sort:
 * cheaper once the range holds most of them). INDEXED BY: without statistics the planner picks neither.
 */
export function loginFrequencyStatement(
  db: D1Database,
  firstDay: string,
  lastDay: string,
  to: string,
): D1PreparedStatement {
  const days = (Date.parse(lastDay) - Date.parse(firstDay)) / 86_400_000 + 1;
  const index = days > USER_ORDER_AFTER_DAYS ? "activity_daily_user_logins_idx" : "activity_daily_logins_idx";
  return db
    .prepare(
      `SELECT coalesce(sum(s * (n = 1)), 0) AS b1, coalesce(sum(s * (n BETWEEN 2 AND 4)), 0) AS b2,
              coalesce(sum(s * (n BETWEEN 5 AND 9)), 0) AS b3, coalesce(sum(s * (n >= 10)), 0) AS b4
       FROM (
         SELECT sum(logins) AS n, 1 AS s FROM activity_daily INDEXED BY ${index}
         WHERE day >= ?1 AND day <= ?2 AND logins > 0 GROUP BY user_id
         UNION ALL
         SELECT (SELECT sum(d.logins) FROM activity_daily d WHERE d.user_id = u.id AND d.day >= ?1 AND d.day <= ?2),
                -1 AS s
         FROM users u WHERE u.status = 'deleted' OR u.created_at >= ?3
       )`,
    )
    .bind(firstDay, lastDay, to);
}

// The open path (docs/insights.md): when nobody was active after a window's last day, the users active in the window
// are those whose latest active day (users.last_active_at, exact to the day: docs/activity.md) is in it. Each figure is
// then a range of users_last_active_idx (last_active_at, id, status, created_at), which covers it.

/** The tenant's latest active day: the latest `last_active_at` of its users (one index seek). */
export function latestActiveDayStatement(db: D1Database): D1PreparedStatement {
  return db.prepare("SELECT substr(max(last_active_at), 1, 10) AS day FROM users");
}

/** Users active since `firstDay` (deleted since or not). */
export function activeSinceStatement(db: D1Database, firstDay: string): D1PreparedStatement {
  return db.prepare("SELECT count(*) AS users FROM users WHERE last_active_at >= ?1").bind(firstDay);
}

/** Users active since `firstDay`, signed up before `to` and not deleted. */
export function activeCurrentSinceStatement(db: D1Database, firstDay: string, to: string): D1PreparedStatement {
  return db
    .prepare(
      // +created_at: a sign-up bound must not lure the planner off the last_active_at range
      "SELECT count(*) AS users FROM users WHERE last_active_at >= ?1 AND status <> 'deleted' AND +created_at < ?2",
    )
    .bind(firstDay, to);
}

/** Users whose latest active day is within [firstDay, endDay): active then, and on no day since. */
export function lastActiveWithinStatement(db: D1Database, firstDay: string, endDay: string): D1PreparedStatement {
  return db
    .prepare("SELECT count(*) AS users FROM users WHERE last_active_at >= ?1 AND last_active_at < ?2")
    .bind(firstDay, endDay);
}

/** Users signed up within [from, to) and active since `firstDay`, by sign-up week (its Monday). */
export function cohortsActiveSinceStatement(
  db: D1Database,
  firstDay: string,
  from: string,
  to: string,
): D1PreparedStatement {
  return db
    .prepare(
      `SELECT date(substr(created_at, 1, 10), '-6 days', 'weekday 1') AS cohort, count(*) AS users FROM users
       WHERE last_active_at >= ?1 AND +created_at >= ?2 AND +created_at < ?3 GROUP BY cohort`,
    )
    .bind(firstDay, from, to);
}

// The live path: what the open path and the rollups (insights.periods.ts) stand for, read from activity_daily.

/** Of the users active from `firstDay` to before `startDay`: those active on no day from `startDay` to `lastDay`. */
export function churnedStatement(
  db: D1Database,
  firstDay: string,
  startDay: string,
  lastDay: string,
): D1PreparedStatement {
  return db
    .prepare(
      `SELECT count(*) AS users
       FROM (SELECT DISTINCT user_id FROM activity_daily WHERE day >= ?1 AND day < ?2 AND ${ACTIVE}) AS a
       WHERE NOT EXISTS (SELECT 1 FROM activity_daily n WHERE n.user_id = a.user_id AND n.day >= ?2 AND n.day <= ?3
                           AND (n.events > 0 OR n.logins > 0))`,
    )
    .bind(firstDay, startDay, lastDay);
}

/** Users signed up within [from, to) and active on some day from `firstDay` to `lastDay`, by sign-up week. */
export function cohortsActiveStatement(
  db: D1Database,
  firstDay: string,
  lastDay: string,
  from: string,
  to: string,
): D1PreparedStatement {
  return db
    .prepare(
      `SELECT date(substr(created_at, 1, 10), '-6 days', 'weekday 1') AS cohort, count(*) AS users FROM users
       WHERE created_at >= ?3 AND created_at < ?4
         AND id IN (SELECT user_id FROM activity_daily WHERE day >= ?1 AND day <= ?2 AND ${ACTIVE})
       GROUP BY cohort`,
    )
    .bind(firstDay, lastDay, from, to);
}

/**
 * One sign-up cohort, the users signed up within [from, to): how many, and of them the active per week up to
 * `lastDay`. CROSS JOIN keeps the cohort's users first: a few days of sign-ups, each a primary-key range of its days,
 * never every active day of the weeks.
 */
export function cohortStatement(
  db: D1Database,
  monday: string,
  lastDay: string,
  from: string,
  to: string,
): D1PreparedStatement {
  return db
    .prepare(
      `SELECT NULL AS week, count(*) AS users FROM users WHERE created_at >= ?3 AND created_at < ?4
       UNION ALL
       SELECT date(d.day, '-6 days', 'weekday 1') AS week, count(DISTINCT d.user_id) AS users
       FROM users u CROSS JOIN activity_daily d ON d.user_id = u.id AND d.day >= ?1 AND d.day <= ?2
       WHERE u.created_at >= ?3 AND u.created_at < ?4 AND (d.events > 0 OR d.logins > 0)
       GROUP BY week`,
    )
    .bind(monday, lastDay, from, to);
}

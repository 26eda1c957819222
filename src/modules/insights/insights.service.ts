import { addDays, dayOf, isoWeekOf, mondayOf, periodDays } from "./insights.days";
import {
  activeCurrentUsersStatement,
  activeUsersStatement,
  churnStatement,
  cohortActivityStatement,
  cohortSizesStatement,
  createdAndDeletedStatement,
  loginFrequencyStatement,
  type StatusCounts,
  statusCountsStatement,
  tenureStatement,
} from "./insights.repo";
import { dayFigures } from "./insights.rollup";
import {
  type ActivityInsightsQuery,
  DAY_MS,
  type InsightsActivity,
  type InsightsRetention,
  type InsightsSummary,
  type RetentionQuery,
  resolvePeriod,
  type SummaryQuery,
} from "./insights.schema";

/** "Active" in the summary: a login or product activity in this many days up to `to` (API.md). */
const ACTIVE_DAYS = 30;
const iso = (ms: number) => new Date(ms).toISOString();
const rate = (part: number, whole: number) => (whole === 0 ? null : part / whole);

async function rows<T>(statements: D1PreparedStatement[], db: D1Database): Promise<T[]> {
  const results = await db.batch(statements);
  return results.map((result) => result.results[0] as T);
}

/** Totals by status, active and inactive users as of `to`, sign-ups and deletions within [from, to). */
export async function insightsSummary(db: D1Database, query: SummaryQuery, now = Date.now()): Promise<InsightsSummary> {
  const { from, to } = resolvePeriod(query, now);
  const { lastDay } = periodDays(from, to);
  const toIso = iso(to);
  const [status, changes, active, notInactive] = await rows<Record<string, number>>(
    [
      statusCountsStatement(db, toIso),
      createdAndDeletedStatement(db, iso(from), toIso),
      activeCurrentUsersStatement(db, addDays(lastDay, 1 - ACTIVE_DAYS), lastDay, toIso),
      activeCurrentUsersStatement(db, addDays(lastDay, 1 - query.inactiveDays), lastDay, toIso),
    ],
    db,
  );
  const byStatus = status as unknown as StatusCounts;
  const totalUsers = byStatus.active + byStatus.disabled;
  // inactive = no active day in the window, so not active since the window's first midnight (lastActiveAt is the
  // latest activity, accurate to the hour: docs/activity.md)
  const since = `${addDays(lastDay, 1 - query.inactiveDays)}T00:00:00.000Z`;
  const inactiveFilter = `lastActiveAt lt "${since}" or not (lastActiveAt pr)`;
  return {
    from: iso(from),
    to: toIso,
    totalUsers,
    activeUsers: active?.users ?? 0,
    inactiveUsers: totalUsers - (notInactive?.users ?? 0),
    newUsers: changes?.created ?? 0,
    deletedUsers: changes?.deleted ?? 0,
    byStatus,
    inactiveDays: query.inactiveDays,
    inactiveFilter,
    inactiveUsersLink: `/v1/users?filter=${encodeURIComponent(inactiveFilter)}`,
  };
}

const TENURE_BUCKETS = ["<7d", "7-30d", "30-90d", "90-365d", ">=365d"];
const TENURE_BOUNDS_DAYS = [7, 30, 90, 365];
const LOGIN_BUCKETS = ["0", "1", "2-4", "5-9", "10+"];

/** Sign-ups, active users, tenure, login frequency and churn over a period. */
export async function insightsActivity(
  db: D1Database,
  query: ActivityInsightsQuery,
  now = Date.now(),
): Promise<InsightsActivity> {
  const { from, to } = resolvePeriod(query, now);
  const { firstDay, lastDay } = periodDays(from, to);
  const toIso = iso(to);
  const start = periodStart(query.period);
  const firstPeriod = start(firstDay);
  const lastPeriod = start(lastDay);
  const [days, [wau, mau, tenure, logins], churnRows] = await Promise.all([
    dayFigures(db, firstDay, lastDay),
    rows<Record<string, number | null>>(
      [
        activeUsersStatement(db, addDays(lastDay, -6), lastDay),
        activeUsersStatement(db, addDays(lastDay, -29), lastDay),
        tenureStatement(
          db,
          toIso,
          TENURE_BOUNDS_DAYS.map((d) => iso(to - d * DAY_MS)),
        ),
        loginFrequencyStatement(db, firstDay, lastDay, toIso),
      ],
      db,
    ),
    churnStatement(db, query.period, previousPeriod(query.period, firstPeriod), lastPeriod, lastDay)
      .all<{ start: string; base: number; churned: number }>()
      .then((result) => result.results),
  ]);
  const tenureCounts = [0, 1, 2, 3, 4].map((i) => Number(tenure?.[`b${i}`] ?? 0));
  const totalUsers = tenureCounts.reduce((a, b) => a + b, 0);
  const loginCounts = [1, 2, 3, 4].map((i) => Number(logins?.[`b${i}`] ?? 0));
  const withLogins = loginCounts.reduce((a, b) => a + b, 0);
  const averageDau = days.reduce((sum, d) => sum + d.activeUsers, 0) / days.length;
  const mauCount = Number(mau?.users ?? 0);
  const churnByPrevious = new Map(churnRows.map((row) => [row.start, row]));
  const periods = [];
  for (let p = firstPeriod; p <= lastPeriod; p = nextPeriod(query.period, p)) {
    const prev = churnByPrevious.get(previousPeriod(query.period, p));
    const base = prev?.base ?? 0;
    const churned = prev?.churned ?? 0;
    const complete = Date.parse(`${nextPeriod(query.period, p)}T00:00:00Z`) <= to;
    periods.push({ start: p, complete, base, churned, rate: rate(churned, base) });
  }
  return {
    from: iso(from),
    to: toIso,
    signupsByDay: days.map(({ day, signups, deletions }) => ({ day, signups, deletions })),
    signupsByWeek: byWeek(days),
    dailyActiveUsers: days.map(({ day, activeUsers }) => ({ day, activeUsers })),
    dau: days.at(-1)?.activeUsers ?? 0,
    wau: Number(wau?.users ?? 0),
    mau: mauCount,
    averageDau,
    stickiness: rate(averageDau, mauCount),
    tenure: TENURE_BUCKETS.map((bucket, i) => ({ bucket, users: tenureCounts[i] ?? 0 })),
    loginFrequency: LOGIN_BUCKETS.map((bucket, i) => ({
      bucket,
      users: i === 0 ? totalUsers - withLogins : (loginCounts[i - 1] ?? 0),
    })),
    churn: { period: query.period, periods },
  };
}

function byWeek(days: { day: string; signups: number }[]): InsightsActivity["signupsByWeek"] {
  const weeks = new Map<string, number>();
  for (const { day, signups } of days) {
    const monday = mondayOf(day);
    weeks.set(monday, (weeks.get(monday) ?? 0) + signups);
  }
  return [...weeks].map(([start, signups]) => ({ week: isoWeekOf(start), start, signups }));
}

const periodStart = (period: "week" | "month") => (day: string) =>
  period === "week" ? mondayOf(day) : `${day.slice(0, 7)}-01`;

function nextPeriod(period: "week" | "month", start: string): string {
  if (period === "week") return addDays(start, 7);
  const date = new Date(`${start}T00:00:00Z`);
  return dayOf(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1));
}

function previousPeriod(period: "week" | "month", start: string): string {
  if (period === "week") return addDays(start, -7);
  const date = new Date(`${start}T00:00:00Z`);
  return dayOf(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() - 1, 1));
}

/** Weekly sign-up cohorts of [from, to), each with the share of it active in each week since. */
export async function insightsRetention(
  db: D1Database,
  query: RetentionQuery,
  now = Date.now(),
): Promise<InsightsRetention> {
  const { from, to } = resolvePeriod(query, now);
  const { lastDay } = periodDays(from, to);
  const lastMonday = mondayOf(lastDay);
  const [sizes, activity] = await db.batch([
    cohortSizesStatement(db, iso(from), iso(to)),
    cohortActivityStatement(db, iso(from), iso(to), lastDay),
  ]);
  const active = new Map<string, number>();
  for (const row of (activity?.results ?? []) as { week: string; week_offset: number; users: number }[]) {
    active.set(`${row.week}+${row.week_offset}`, row.users);
  }
  const cohorts = ((sizes?.results ?? []) as { week: string; size: number }[])
    .sort((a, b) => a.week.localeCompare(b.week))
    .map(({ week, size }) => {
      const weeks = Math.round((Date.parse(lastMonday) - Date.parse(week)) / (7 * DAY_MS));
      return {
        week: isoWeekOf(week),
        start: week,
        size,
        retention: Array.from({ length: weeks + 1 }, (_, offset) => {
          const activeUsers = active.get(`${week}+${offset}`) ?? 0;
          return { week: offset, activeUsers, rate: rate(activeUsers, size) };
        }),
      };
    });
  return { from: iso(from), to: iso(to), cohorts };
}

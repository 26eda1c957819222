import { addDays, dayOf, isoWeekOf, mondayOf, periodDays } from "./insights.days";
import { nextPeriod, type Period, periodFigures, periodStart, previousPeriod } from "./insights.periods";
import {
  activeCurrentSinceStatement,
  activeCurrentUsersStatement,
  activeSinceStatement,
  activeUsersStatement,
  churnedStatement,
  createdAndDeletedStatement,
  lastActiveWithinStatement,
  latestActiveDayStatement,
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
  type InsightsSummary,
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

export interface InsightsOptions {
  now?: number;
  /** Every figure from activity_daily, neither rollups nor the open path: what they must equal (tests). */
  live?: boolean;
}

/**
 * Whether the open path holds for windows ending on `lastDay`: nobody was active after it, so the users active in a
 * window are those whose latest active day is in it (docs/insights.md).
 */
export async function openPath(db: D1Database, lastDay: string, options: InsightsOptions): Promise<boolean> {
  if (options.live) return false;
  const latest = await latestActiveDayStatement(db).first<{ day: string | null }>();
  return latest?.day == null || latest.day <= lastDay;
}

/** Totals by status, active and inactive users as of `to`, sign-ups and deletions within [from, to). */
export async function insightsSummary(
  db: D1Database,
  query: SummaryQuery,
  options: InsightsOptions = {},
): Promise<InsightsSummary> {
  const { from, to } = resolvePeriod(query, options.now ?? Date.now());
  const { lastDay } = periodDays(from, to);
  const toIso = iso(to);
  const open = await openPath(db, lastDay, options);
  const activeSince = (firstDay: string) =>
    open ? activeCurrentSinceStatement(db, firstDay, toIso) : activeCurrentUsersStatement(db, firstDay, lastDay, toIso);
  const [status, changes, active, notInactive] = await rows<Record<string, number>>(
    [
      statusCountsStatement(db, toIso),
      createdAndDeletedStatement(db, iso(from), toIso),
      activeSince(addDays(lastDay, 1 - ACTIVE_DAYS)),
      activeSince(addDays(lastDay, 1 - query.inactiveDays)),
    ],
    db,
  );
  const byStatus = status as unknown as StatusCounts;
  const totalUsers = byStatus.active + byStatus.disabled;
  // inactive = no active day in the window, so not active since the window's first midnight (lastActiveAt is the
  // latest activity, exact to the day: docs/activity.md)
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
  options: InsightsOptions = {},
): Promise<InsightsActivity> {
  const now = options.now ?? Date.now();
  const { from, to } = resolvePeriod(query, now);
  const { firstDay, lastDay } = periodDays(from, to);
  const toIso = iso(to);
  const open = await openPath(db, lastDay, options);
  const activeSince = (day: string) => (open ? activeSinceStatement(db, day) : activeUsersStatement(db, day, lastDay));
  const [days, [wau, mau, tenure, logins], periods] = await Promise.all([
    dayFigures(db, firstDay, lastDay, !options.live),
    rows<Record<string, number | null>>(
      [
        activeSince(addDays(lastDay, -6)),
        activeSince(addDays(lastDay, -29)),
        tenureStatement(
          db,
          toIso,
          TENURE_BOUNDS_DAYS.map((d) => iso(to - d * DAY_MS)),
        ),
        loginFrequencyStatement(db, firstDay, lastDay, toIso),
      ],
      db,
    ),
    churnPeriods(db, query.period, { firstDay, lastDay, to, today: dayOf(now), open, live: options.live === true }),
  ]);
  const tenureCounts = [0, 1, 2, 3, 4].map((i) => Number(tenure?.[`b${i}`] ?? 0));
  const totalUsers = tenureCounts.reduce((a, b) => a + b, 0);
  const loginCounts = [1, 2, 3, 4].map((i) => Number(logins?.[`b${i}`] ?? 0));
  const withLogins = loginCounts.reduce((a, b) => a + b, 0);
  const averageDau = days.reduce((sum, d) => sum + d.activeUsers, 0) / days.length;
  const mauCount = Number(mau?.users ?? 0);
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

interface ChurnWindow {
  firstDay: string;
  lastDay: string;
  to: number;
  today: string;
  open: boolean;
  live: boolean;
}

/**
 * Per period P the days touch: P−1's active users (base), and of them those active on no day of P up to the last day
 * (churned). P−1's figures are rolled up once it is closed; P's churned too once P is, when P is whole. The last P,
 * cut short or open, is read on the open path (those whose latest active day is in P−1), or live.
 */
async function churnPeriods(db: D1Database, period: Period, w: ChurnWindow) {
  const starts: string[] = [];
  for (let p = periodStart(period, w.firstDay); p <= w.lastDay; p = nextPeriod(period, p)) starts.push(p);
  const figures = await periodFigures(
    db,
    period,
    starts.map((p) => previousPeriod(period, p)),
    w.today,
    !w.live,
  );
  const last = starts.at(-1);
  const pending: { start: string; statement: D1PreparedStatement }[] = [];
  const churned = new Map<string, number>();
  for (const p of starts) {
    const before = previousPeriod(period, p);
    const rolled = figures.get(before)?.churned;
    const complete = Date.parse(`${nextPeriod(period, p)}T00:00:00Z`) <= w.to;
    if (complete && rolled != null) churned.set(p, rolled);
    else if (w.open && p === last) pending.push({ start: p, statement: lastActiveWithinStatement(db, before, p) });
    else {
      const end = complete ? addDays(nextPeriod(period, p), -1) : w.lastDay;
      pending.push({ start: p, statement: churnedStatement(db, before, p, end) });
    }
  }
  if (pending.length > 0) {
    const counts = await rows<{ users: number }>(
      pending.map((x) => x.statement),
      db,
    );
    for (const [i, x] of pending.entries()) churned.set(x.start, counts[i]?.users ?? 0);
  }
  return starts.map((start) => {
    const base = figures.get(previousPeriod(period, start))?.activeUsers ?? 0;
    const lost = churned.get(start) ?? 0;
    const complete = Date.parse(`${nextPeriod(period, start)}T00:00:00Z`) <= w.to;
    return { start, complete, base, churned: lost, rate: rate(lost, base) };
  });
}

function byWeek(days: { day: string; signups: number }[]): InsightsActivity["signupsByWeek"] {
  const weeks = new Map<string, number>();
  for (const { day, signups } of days) {
    const monday = mondayOf(day);
    weeks.set(monday, (weeks.get(monday) ?? 0) + signups);
  }
  return [...weeks].map(([start, signups]) => ({ week: isoWeekOf(start), start, signups }));
}

import { addDays, dayOf, isoWeekOf, mondayOf, periodDays } from "./insights.days";
import { periodFigures } from "./insights.periods";
import { cohortStatement, cohortsActiveSinceStatement, cohortsActiveStatement } from "./insights.repo";
import { dayFigures } from "./insights.rollup";
import { DAY_MS, type InsightsRetention, type RetentionQuery, resolvePeriod } from "./insights.schema";
import { type InsightsOptions, openPath } from "./insights.service";

const iso = (ms: number) => new Date(ms).toISOString();
const midnight = (day: string) => Date.parse(`${day}T00:00:00Z`);

/**
 * Weekly sign-up cohorts of [from, to), each with the share of it active in each week since. A cohort whose whole
 * week is within [from, to) is read from the rollups: its size from the days' sign-ups, its actives per closed week
 * from that week's row, the open week's from the users' latest active day. The edge cohorts (the week `from` cuts,
 * the week `to` cuts) are a few days of sign-ups, read live.
 */
export async function insightsRetention(
  db: D1Database,
  query: RetentionQuery,
  options: InsightsOptions = {},
): Promise<InsightsRetention> {
  const now = options.now ?? Date.now();
  const { from, to } = resolvePeriod(query, now);
  const { firstDay, lastDay } = periodDays(from, to);
  const lastMonday = mondayOf(lastDay);
  const mondays: string[] = [];
  for (let m = mondayOf(firstDay); m <= lastMonday; m = addDays(m, 7)) mondays.push(m);
  const whole = mondays.filter((m) => midnight(m) >= from && midnight(addDays(m, 7)) <= to);
  const edges = mondays.filter((m) => !whole.includes(m));

  const sizes = new Map<string, number>();
  const active = new Map<string, number>(); // `${cohort}+${week}` → users
  const [edgeRows, wholeActive] = await Promise.all([
    edges.length === 0
      ? []
      : db.batch(
          edges.map((m) =>
            cohortStatement(
              db,
              m,
              lastDay,
              iso(Math.max(from, midnight(m))),
              iso(Math.min(to, midnight(addDays(m, 7)))),
            ),
          ),
        ),
    wholeCohortActivity(db, whole, { lastDay, today: dayOf(now), options }),
  ]);
  edges.forEach((m, i) => {
    for (const row of (edgeRows[i]?.results ?? []) as { week: string | null; users: number }[]) {
      if (row.week === null) sizes.set(m, row.users);
      else active.set(`${m}+${row.week}`, row.users);
    }
  });
  if (whole.length > 0) {
    const days = await dayFigures(db, whole[0] as string, addDays(whole.at(-1) as string, 6), !options.live);
    for (const { day, signups } of days) sizes.set(mondayOf(day), (sizes.get(mondayOf(day)) ?? 0) + signups);
    for (const [key, users] of wholeActive) active.set(key, users);
  }

  const cohorts = mondays
    .filter((m) => (sizes.get(m) ?? 0) > 0)
    .map((m) => {
      const size = sizes.get(m) ?? 0;
      const weeks = Math.round((midnight(lastMonday) - midnight(m)) / (7 * DAY_MS));
      return {
        week: isoWeekOf(m),
        start: m,
        size,
        retention: Array.from({ length: weeks + 1 }, (_, offset) => {
          const activeUsers = active.get(`${m}+${addDays(m, 7 * offset)}`) ?? 0;
          return { week: offset, activeUsers, rate: activeUsers / size };
        }),
      };
    });
  return { from: iso(from), to: iso(to), cohorts };
}

/**
 * The active users of the whole cohorts (`mondays`, consecutive) per week up to the last day, as `${cohort}+${week}`:
 * closed whole weeks from their rollup row, the open week on the open path, any other week live.
 */
async function wholeCohortActivity(
  db: D1Database,
  mondays: string[],
  { lastDay, today, options }: { lastDay: string; today: string; options: InsightsOptions },
): Promise<Map<string, number>> {
  const active = new Map<string, number>();
  const first = mondays[0];
  const last = mondays.at(-1);
  if (first === undefined || last === undefined) return active;
  const cohortFrom = `${first}T00:00:00.000Z`;
  const cohortTo = `${addDays(last, 7)}T00:00:00.000Z`;
  const weeks: string[] = [];
  for (let w = first; w <= lastDay; w = addDays(w, 7)) weeks.push(w);
  const closed = weeks.filter((w) => addDays(w, 6) <= lastDay && addDays(w, 7) <= today);
  const others = weeks.filter((w) => !closed.includes(w));
  const open = others.length > 0 && (await openPath(db, lastDay, options));
  const [rolled, live] = await Promise.all([
    periodFigures(db, "week", closed, today, !options.live),
    others.length === 0
      ? []
      : db.batch(
          others.map((w) =>
            open && w === mondayOf(lastDay)
              ? cohortsActiveSinceStatement(db, w, cohortFrom, cohortTo)
              : cohortsActiveStatement(db, w, [addDays(w, 6), lastDay].sort()[0] as string, cohortFrom, cohortTo),
          ),
        ),
  ]);
  const inWhole = (cohort: string, week: string) => cohort >= first && cohort <= last && cohort <= week;
  for (const w of closed) {
    for (const [cohort, users] of Object.entries(rolled.get(w)?.cohorts ?? {})) {
      if (inWhole(cohort, w)) active.set(`${cohort}+${w}`, users);
    }
  }
  others.forEach((w, i) => {
    for (const row of (live[i]?.results ?? []) as { cohort: string; users: number }[]) {
      if (inWhole(row.cohort, w)) active.set(`${row.cohort}+${w}`, row.users);
    }
  });
  return active;
}

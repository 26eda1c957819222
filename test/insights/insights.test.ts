import { describe, expect, it } from "vitest";
import { isoWeekOf } from "../../src/modules/insights/insights.days";
import type {
  InsightsActivity as ActivityInsights,
  InsightsRetention as Retention,
  InsightsSummary as Summary,
} from "../../src/modules/insights/insights.schema";
import { call } from "../helpers/api";
import { buildFixture, getInsight } from "./fixture";

// The fixture (fixture.ts): T a Monday, the period [T−28 days, T), so its last day is D1 and its weeks whole.
describe("summary", () => {
  it("counts by status, active and inactive users as of `to`, sign-ups and deletions within the period", async () => {
    const f = await buildFixture();
    const summary = await getInsight<Summary>(f.tenant, "summary", { from: f.day(28), to: f.to });
    expect(summary).toMatchObject({
      from: `${f.day(28)}T00:00:00.000Z`,
      to: `${f.to}T00:00:00.000Z`,
      byStatus: { active: 4, disabled: 1, deleted: 1 },
      totalUsers: 5,
      activeUsers: 3, // u1, u2, u3 (u6 is deleted, u5 last active D50, u4 never)
      inactiveUsers: 2, // u4, u5
      newUsers: 3, // u3, u4, u6
      deletedUsers: 1, // u6
      inactiveDays: 30,
      inactiveFilter: `lastActiveAt lt "${f.day(30)}T00:00:00.000Z" or not (lastActiveAt pr)`,
    });

    // inactive over 7 days: u1 (last active D15) joins u4 and u5; "active" stays the 30-day figure
    const week = await getInsight<Summary>(f.tenant, "summary", { from: f.day(28), to: f.to, inactiveDays: "7" });
    expect(week).toMatchObject({ activeUsers: 3, inactiveUsers: 3, inactiveDays: 7 });
    expect(week.inactiveFilter).toBe(`lastActiveAt lt "${f.day(7)}T00:00:00.000Z" or not (lastActiveAt pr)`);

    // a date-time `to` within the period: u4 (created D2 09:00) and u6's deletion (D4 18:00) fall after D4 12:00
    const earlier = await getInsight<Summary>(f.tenant, "summary", {
      from: `${f.day(28)}T00:00:00Z`,
      to: `${f.day(4)}T12:00:00Z`,
    });
    expect(earlier).toMatchObject({ newUsers: 2, deletedUsers: 0, byStatus: { active: 3, disabled: 1, deleted: 1 } });
  });

  it("the inactive users' link lists exactly the inactive users", async () => {
    const f = await buildFixture();
    const summary = await getInsight<Summary>(f.tenant, "summary"); // default: the last 30 days up to now
    expect(summary.inactiveUsers).toBe(2);
    expect(summary.inactiveUsersLink).toBe(`/v1/users?filter=${encodeURIComponent(summary.inactiveFilter)}`);
    const listed = await call("GET", summary.inactiveUsersLink, { token: f.tenant.key });
    expect(listed.status).toBe(200);
    const page = (await listed.json()) as { data: { id: string }[] };
    expect(page.data.map((u) => u.id).sort()).toEqual([f.users.u4, f.users.u5].sort());
  });
});

describe("activity", () => {
  it("sign-ups, DAU/WAU/MAU, stickiness, tenure, login frequency and weekly churn", async () => {
    const f = await buildFixture();
    const a = await getInsight<ActivityInsights>(f.tenant, "activity", { from: f.day(28), to: f.to, period: "week" });
    expect(a.signupsByDay).toHaveLength(28);
    expect(a.signupsByDay[0]).toEqual({ day: f.day(28), signups: 0, deletions: 0 });
    expect(a.signupsByDay.filter((d) => d.signups > 0 || d.deletions > 0)).toEqual([
      { day: f.day(10), signups: 1, deletions: 0 },
      { day: f.day(5), signups: 1, deletions: 0 },
      { day: f.day(4), signups: 0, deletions: 1 },
      { day: f.day(2), signups: 1, deletions: 0 },
    ]);
    expect(a.signupsByWeek.map((w) => [w.start, w.signups])).toEqual([
      [f.day(28), 0],
      [f.day(21), 0],
      [f.day(14), 1],
      [f.day(7), 2],
    ]);
    expect(a.signupsByWeek[3]?.week).toBe(isoWeekOf(f.day(7)));
    expect(a.dailyActiveUsers.filter((d) => d.activeUsers > 0)).toEqual([
      { day: f.day(20), activeUsers: 1 },
      { day: f.day(15), activeUsers: 1 },
      { day: f.day(10), activeUsers: 1 },
      { day: f.day(4), activeUsers: 1 },
      { day: f.day(3), activeUsers: 1 },
      { day: f.day(2), activeUsers: 1 },
      { day: f.day(1), activeUsers: 2 },
    ]);
    expect({ dau: a.dau, wau: a.wau, mau: a.mau }).toEqual({ dau: 2, wau: 3, mau: 4 });
    expect(a.averageDau).toBeCloseTo(8 / 28, 12);
    expect(a.stickiness).toBeCloseTo(8 / 28 / 4, 12);
    expect(a.tenure).toEqual([
      { bucket: "<7d", users: 1 },
      { bucket: "7-30d", users: 1 },
      { bucket: "30-90d", users: 1 },
      { bucket: "90-365d", users: 1 },
      { bucket: ">=365d", users: 1 },
    ]);
    expect(a.loginFrequency).toEqual([
      { bucket: "0", users: 2 }, // u4, u5
      { bucket: "1", users: 2 }, // u1, u3
      { bucket: "2-4", users: 0 },
      { bucket: "5-9", users: 1 }, // u2
      { bucket: "10+", users: 0 },
    ]);
    expect(a.churn).toEqual({
      period: "week",
      periods: [
        { start: f.day(28), complete: true, base: 0, churned: 0, rate: null },
        { start: f.day(21), complete: true, base: 0, churned: 0, rate: null },
        { start: f.day(14), complete: true, base: 1, churned: 1, rate: 1 }, // u1 active week D21, not D14
        { start: f.day(7), complete: true, base: 1, churned: 0, rate: 0 }, // u3 active both weeks
      ],
    });
  });

  it("monthly churn: calendar months, the one `to` cuts short marked incomplete", async () => {
    const f = await buildFixture();
    const a = await getInsight<ActivityInsights>(f.tenant, "activity", { from: f.day(28), to: f.to });
    expect(a.churn.period).toBe("month");
    const months = [...new Set([f.day(28), f.day(1)].map((d) => `${d.slice(0, 7)}-01`))];
    expect(a.churn.periods.map((p) => p.start)).toEqual(months);
    const last = a.churn.periods.at(-1);
    // the last month ends after D1 unless T is the first of a month
    expect(last?.complete).toBe(f.to.endsWith("-01"));
    for (const p of a.churn.periods) expect(p.rate).toBe(p.base === 0 ? null : p.churned / p.base);
  });
});

describe("retention", () => {
  it("weekly sign-up cohorts with the share active each week since", async () => {
    const f = await buildFixture();
    const r = await getInsight<Retention>(f.tenant, "retention", { from: f.day(28), to: f.to });
    expect(r.cohorts).toEqual([
      {
        week: isoWeekOf(f.day(14)),
        start: f.day(14),
        size: 1, // u3
        retention: [
          { week: 0, activeUsers: 1, rate: 1 },
          { week: 1, activeUsers: 1, rate: 1 },
        ],
      },
      {
        week: isoWeekOf(f.day(7)),
        start: f.day(7),
        size: 2, // u4, u6
        retention: [{ week: 0, activeUsers: 1, rate: 0.5 }],
      },
    ]);
  });

  it("ISO week labels", () => {
    expect(isoWeekOf("2026-11-23")).toBe("2026-W48");
    expect(isoWeekOf("2021-01-04")).toBe("2021-W01");
    expect(isoWeekOf("2020-12-28")).toBe("2020-W53");
    expect(isoWeekOf("2024-12-30")).toBe("2025-W01");
  });
});

import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addDays, mondayOf } from "../../src/modules/insights/insights.days";
import { previousPeriod } from "../../src/modules/insights/insights.periods";
import { insightsRetention } from "../../src/modules/insights/insights.retention";
import { rollUpInsights } from "../../src/modules/insights/insights.rollup";
import {
  ActivityInsightsQuerySchema,
  type InsightsActivity,
  RetentionQuerySchema,
  SummaryQuerySchema,
} from "../../src/modules/insights/insights.schema";
import { insightsActivity, insightsSummary } from "../../src/modules/insights/insights.service";
import { call } from "../helpers/api";
import { count, runCron, tenantDatabase } from "../helpers/db";
import { buildFixture, type Fixture, getInsight } from "./fixture";

const DAILY_CRON = "17 3 * * *";
const previousMonth = (day: string) => previousPeriod("month", `${day.slice(0, 7)}-01`);

/**
 * Every insight of the fixture: over its own period (weekly and monthly churn), over 400 days, and over the default
 * 30 days up to an instant of today (today is never rolled up).
 */
function queries(f: Fixture, now: string) {
  const period = { from: f.day(28), to: f.to };
  const long = { from: f.day(399), to: f.to };
  const recent = { to: now };
  // a period `to` cuts mid-week and mid-day, with activity after it (no open path)
  const cut = { from: f.day(45), to: `${f.day(3)}T15:00:00.000Z` };
  return [
    ["summary", period],
    ["summary", recent],
    ["summary", cut],
    ["activity", { ...period, period: "week" }],
    ["activity", long],
    ["activity", { ...long, period: "week" }],
    ["activity", recent],
    ["activity", { ...recent, period: "week" }],
    ["activity", { ...cut, period: "week" }],
    ["retention", period],
    ["retention", long],
    ["retention", recent],
    ["retention", cut],
  ] as const;
}

async function everyInsight(f: Fixture, now: string) {
  return Promise.all(queries(f, now).map(([path, query]) => getInsight(f.tenant, path, query)));
}

/** The same figures computed from activity_daily alone: no rollup, no open path (what both must equal). */
async function everyInsightLive(f: Fixture, now: string) {
  const db = await tenantDatabase(f.tenant.id);
  const options = { live: true, now: Date.parse(now) };
  const answers = [];
  for (const [path, query] of queries(f, now)) {
    const answer =
      path === "summary"
        ? await insightsSummary(db, SummaryQuerySchema.parse(query), options)
        : path === "activity"
          ? await insightsActivity(db, ActivityInsightsQuerySchema.parse(query), options)
          : await insightsRetention(db, RetentionQuerySchema.parse(query), options);
    answers.push(JSON.parse(JSON.stringify(answer)));
  }
  return answers;
}

async function dailyActive(f: Fixture, day: string) {
  const a = await getInsight<InsightsActivity>(f.tenant, "activity", { from: f.day(28), to: f.to });
  return a.dailyActiveUsers.find((d) => d.day === day)?.activeUsers;
}

describe("daily rollups", () => {
  it("the daily cron rolls up every closed day, and the answers are the same with or without them", async () => {
    const f = await buildFixture();
    const now = new Date().toISOString();
    const db = await tenantDatabase(f.tenant.id);
    expect(await count(db, "insights_daily")).toBe(0);
    const live = await everyInsight(f, now);
    expect(live).toEqual(await everyInsightLive(f, now));
    // what a read computed for a closed week or month, it stored (read-through)
    expect(await count(db, "insights_periods")).toBeGreaterThan(0);

    await runCron(DAILY_CRON);
    const today = new Date().toISOString().slice(0, 10);
    // from the first sign-up (u5, D400) to yesterday, and not today, which is still open
    const days = (Date.parse(today) - Date.parse(f.day(400))) / 86_400_000;
    expect(await count(db, "insights_daily")).toBe(days);
    expect(await count(db, "insights_daily", "day = ?", today)).toBe(0);
    const row = (day: string) =>
      db.prepare("SELECT signups, deletions, active_users FROM insights_daily WHERE day = ?").bind(day).first();
    expect(await row(f.day(1))).toEqual({ signups: 0, deletions: 0, active_users: 2 });
    expect(await row(f.day(4))).toEqual({ signups: 0, deletions: 1, active_users: 1 });
    expect(await row(f.day(10))).toEqual({ signups: 1, deletions: 0, active_users: 1 });

    // every closed week and month from the first sign-up on, the churn of each known but the last's
    const periods = (period: string) =>
      db
        .prepare("SELECT start, active_users, churned FROM insights_periods WHERE period = ? ORDER BY start")
        .bind(period)
        .all<{ start: string; active_users: number; churned: number | null }>()
        .then((r) => r.results);
    const weeks = await periods("week");
    expect(weeks[0]?.start).toBe(mondayOf(f.day(400)));
    expect(weeks.at(-1)?.start).toBe(addDays(mondayOf(today), -7));
    expect(weeks.at(-1)?.churned).toBeNull();
    expect(weeks.slice(0, -1).every((w) => w.churned !== null)).toBe(true);
    // the week of D14–D8 (u3 on D10) and the one before (u1 on D20, D15): u1 churned
    expect(weeks.find((w) => w.start === f.day(14))).toMatchObject({ active_users: 1, churned: 0 });
    expect(weeks.find((w) => w.start === f.day(21))).toMatchObject({ active_users: 1, churned: 1 });
    expect((await periods("month")).at(-1)?.start).toBe(previousMonth(today));

    expect(await everyInsight(f, now)).toEqual(live);
    // a second run has nothing left to do
    expect(await rollUpInsights(env, f.tenant.id, db)).toEqual({ rolledUp: 0, periods: 0 });

    // the rolled-up rows are what is read: a row changed behind the API shows (then goes, and the day is live again)
    await db
      .prepare("UPDATE insights_periods SET churned = 7, active_users = 9 WHERE period = 'week' AND start = ?")
      .bind(f.day(21))
      .run();
    const weekly = await getInsight<InsightsActivity>(f.tenant, "activity", {
      from: f.day(28),
      to: f.to,
      period: "week",
    });
    expect(weekly.churn.periods.find((p) => p.start === f.day(14))).toMatchObject({ base: 9, churned: 7 });
    await db.prepare("DELETE FROM insights_periods").run();
    await db.prepare("UPDATE insights_daily SET active_users = 99 WHERE day = ?").bind(f.day(20)).run();
    expect(await dailyActive(f, f.day(20))).toBe(99);
    await db.prepare("DELETE FROM insights_daily WHERE day = ?").bind(f.day(20)).run();
    expect(await dailyActive(f, f.day(20))).toBe(1);
  });

  it("late activity, a restore or a purge deletes the rows it makes stale; the next cron rolls them up again", async () => {
    const f = await buildFixture();
    const now = new Date().toISOString();
    const db = await tenantDatabase(f.tenant.id);
    await rollUpInsights(env, f.tenant.id, db);
    const rolled = await count(db, "insights_daily");
    const rolledPeriods = await count(db, "insights_periods");

    // activity sent late for D3 (u4's first)
    const late = await call("POST", "/v1/activity", {
      token: f.tenant.key,
      body: { events: [{ userId: f.users.u4, type: "page.view", occurredAt: `${f.day(3)}T08:00:00Z` }] },
    });
    expect(late.status).toBe(200);
    expect(await count(db, "insights_daily", "day = ?", f.day(3))).toBe(0);
    expect(await dailyActive(f, f.day(3))).toBe(2);
    // its week's row goes, and the week before forgets its churn
    const week = (start: string) =>
      db.prepare("SELECT churned FROM insights_periods WHERE period = 'week' AND start = ?").bind(start).first();
    expect(await week(mondayOf(f.day(3)))).toBeNull();
    expect(await week(addDays(mondayOf(f.day(3)), -7))).toEqual({ churned: null });

    // u6 restored: its deletion day's row goes
    expect((await call("POST", `/v1/users/${f.users.u6}/restore`, { token: f.tenant.key })).status).toBe(200);
    expect(await count(db, "insights_daily", "day = ?", f.day(4))).toBe(0);
    // u3 purged for good: its sign-up day's row and its active days' rows go
    expect((await call("DELETE", `/v1/users/${f.users.u3}?permanent=true`, { token: f.tenant.key })).status).toBe(204);
    expect(await count(db, "insights_daily", "day = ?", f.day(10))).toBe(0);

    // and its activity went with it
    expect(await count(db, "activity_daily", "user_id = ?", f.users.u3)).toBe(0);
    expect(await count(db, "activity_events", "user_id = ?", f.users.u3)).toBe(0);

    const mixed = await everyInsight(f, now);
    expect(mixed).toEqual(await everyInsightLive(f, now));
    await db.prepare("DELETE FROM insights_daily").run();
    await db.prepare("DELETE FROM insights_periods").run();
    expect(await everyInsight(f, now)).toEqual(mixed);

    await rollUpInsights(env, f.tenant.id, db);
    expect(await count(db, "insights_daily")).toBe(rolled);
    // the cron fills what the reads (read-through) did not
    expect(await count(db, "insights_periods")).toBeGreaterThanOrEqual(rolledPeriods);
    expect(await everyInsight(f, now)).toEqual(mixed);
  });
});

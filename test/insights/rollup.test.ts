import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { rollUpInsights } from "../../src/modules/insights/insights.rollup";
import type { InsightsActivity } from "../../src/modules/insights/insights.schema";
import { call } from "../helpers/api";
import { count, runCron, tenantDatabase } from "../helpers/db";
import { buildFixture, type Fixture, getInsight } from "./fixture";

const DAILY_CRON = "17 3 * * *";

/**
 * Every insight of the fixture: over its own period (weekly and monthly churn), over 400 days, and over the default
 * 30 days up to an instant of today (today is never rolled up).
 */
async function everyInsight(f: Fixture, now: string) {
  const period = { from: f.day(28), to: f.to };
  const long = { from: f.day(399), to: f.to };
  const recent = { to: now };
  return Promise.all([
    getInsight(f.tenant, "summary", period),
    getInsight(f.tenant, "summary", recent),
    getInsight(f.tenant, "activity", { ...period, period: "week" }),
    getInsight(f.tenant, "activity", long),
    getInsight(f.tenant, "activity", recent),
    getInsight(f.tenant, "retention", period),
    getInsight(f.tenant, "retention", long),
  ]);
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

    expect(await everyInsight(f, now)).toEqual(live);
    // a second run has nothing left to do
    expect(await rollUpInsights(env, f.tenant.id, db)).toEqual({ rolledUp: 0 });

    // the rolled-up rows are what is read: a row changed behind the API shows (then goes, and the day is live again)
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

    // activity sent late for D3 (u4's first)
    const late = await call("POST", "/v1/activity", {
      token: f.tenant.key,
      body: { events: [{ userId: f.users.u4, type: "page.view", occurredAt: `${f.day(3)}T08:00:00Z` }] },
    });
    expect(late.status).toBe(200);
    expect(await count(db, "insights_daily", "day = ?", f.day(3))).toBe(0);
    expect(await dailyActive(f, f.day(3))).toBe(2);

    // u6 restored: its deletion day's row goes
    expect((await call("POST", `/v1/users/${f.users.u6}/restore`, { token: f.tenant.key })).status).toBe(200);
    expect(await count(db, "insights_daily", "day = ?", f.day(4))).toBe(0);
    // u3 purged for good: its sign-up day's row and its active days' rows go
    expect((await call("DELETE", `/v1/users/${f.users.u3}?permanent=true`, { token: f.tenant.key })).status).toBe(204);
    expect(await count(db, "insights_daily", "day = ?", f.day(10))).toBe(0);

    const mixed = await everyInsight(f, now);
    await db.prepare("DELETE FROM insights_daily").run();
    expect(await everyInsight(f, now)).toEqual(mixed);

    await rollUpInsights(env, f.tenant.id, db);
    expect(await count(db, "insights_daily")).toBe(rolled);
    expect(await everyInsight(f, now)).toEqual(mixed);
  });
});

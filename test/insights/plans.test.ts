import { describe, expect, it } from "vitest";
import { LIVE_PERIOD } from "../../src/modules/insights/insights.periods";
import * as repo from "../../src/modules/insights/insights.repo";
import { LIVE_DAY_FIGURES } from "../../src/modules/insights/insights.rollup";
import { createTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";

interface PlanRow {
  detail: string;
}

/** The query plan's lines of a statement (`EXPLAIN QUERY PLAN` of its SQL with its bound values). */
async function planOf(db: D1Database, statement: D1PreparedStatement): Promise<string[]> {
  const { statement: sql, params } = statement as unknown as { statement?: string; params?: unknown[] };
  // D1's prepared statement keeps its SQL and bindings on these fields; read them rather than repeat every query
  if (typeof sql !== "string") throw new Error("cannot read the statement's SQL");
  const { results } = await db
    .prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...(params ?? []))
    .all<PlanRow>();
  return results.map((row) => row.detail);
}

describe("query plans", () => {
  it("every insight query reads users and activity_daily through an index, never a full scan", async () => {
    const tenant = await createTenant();
    const db = await tenantDatabase(tenant.id);
    const [from, to, day1, day2] = ["2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z", "2026-01-01", "2026-01-31"];
    const statements: Record<string, D1PreparedStatement> = {
      status: repo.statusCountsStatement(db, to),
      createdAndDeleted: repo.createdAndDeletedStatement(db, from, to),
      activeCurrent: repo.activeCurrentUsersStatement(db, day1, day2, to),
      active: repo.activeUsersStatement(db, day1, day2),
      tenure: repo.tenureStatement(db, to, [to, to, to, to]),
      logins: repo.loginFrequencyStatement(db, day1, day2, to),
      loginsLong: repo.loginFrequencyStatement(db, "2025-01-01", day2, to),
      latest: repo.latestActiveDayStatement(db),
      activeSince: repo.activeSinceStatement(db, day1),
      activeCurrentSince: repo.activeCurrentSinceStatement(db, day1, to),
      lastActiveWithin: repo.lastActiveWithinStatement(db, day1, day2),
      cohortsActiveSince: repo.cohortsActiveSinceStatement(db, day1, from, to),
      churned: repo.churnedStatement(db, day1, day2, day2),
      cohortsActive: repo.cohortsActiveStatement(db, day1, day2, from, to),
      cohort: repo.cohortStatement(db, day1, day2, from, to),
      period: db.prepare(LIVE_PERIOD).bind(day1, day2, day2, 1, 1),
      days: db.prepare(LIVE_DAY_FIGURES).bind(JSON.stringify([day1, day2])),
    };
    const plans: Record<string, string[]> = {};
    for (const [name, statement] of Object.entries(statements)) plans[name] = await planOf(db, statement);
    // the plans that were slow at 100,000 users with another choice (bench/insights.mjs)
    expect(plans.logins).toContain(
      "SEARCH activity_daily USING COVERING INDEX activity_daily_logins_idx (day>? AND day<?)",
    );
    expect(plans.loginsLong).toContain("SCAN activity_daily USING COVERING INDEX activity_daily_user_logins_idx");
    expect(plans.loginsLong).not.toContain("USE TEMP B-TREE FOR GROUP BY");
    expect(plans.cohort).toContain("SEARCH d USING PRIMARY KEY (user_id=? AND day>? AND day<?)");
    expect(plans.cohortsActiveSince?.[0]).toMatch(/users_last_active_idx/);
    for (const [name, lines] of Object.entries(plans)) {
      // (a long period's login frequency reads every login day, and only those: a partial index, read whole)
      const scans = lines.filter(
        (line) =>
          /^SCAN (users|activity_daily|u|d|cur)\b/.test(line) &&
          !line.endsWith("COVERING INDEX activity_daily_user_logins_idx"),
      );
      expect({ name, scans, lines }).toEqual({ name, scans: [], lines });
      // and each reads one of the two tables at least once, through a named index or the primary key
      expect(
        lines.some((line) => /^SEARCH (users|activity_daily|u|d)\b/.test(line)),
        `${name}: ${lines}`,
      ).toBe(true);
    }
  });
});

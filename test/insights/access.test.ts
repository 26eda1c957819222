import { describe, expect, it } from "vitest";
import { call, createKey, createTenant, createUser, expectProblem, json } from "../helpers/api";
import { count, tenantDatabase } from "../helpers/db";

const PATHS = ["summary", "activity", "retention"];
const DAY_MS = 86_400_000;

describe("bad input", () => {
  it("bad dates, from >= to, a span over 400 days, unknown parameters: 400 problems, nothing written", async () => {
    const tenant = await createTenant();
    const db = await tenantDatabase(tenant.id);
    const bad: [string, string][] = [
      ["from=yesterday", "from"],
      ["to=2026-13-01", "to"],
      ["from=2026-02-30", "from"],
      ["from=2026-03-01T10:00:00", "from"], // no offset
      ["from=2026-03-01&to=2026-03-01", "from"],
      ["from=2026-03-02&to=2026-03-01", "from"],
      ["from=2025-01-01&to=2026-02-06", "from"], // 401 days
      [`to=${new Date(Date.now() - 500 * DAY_MS).toISOString()}&from=2020-01-01`, "from"],
      ["limit=10", "limit"],
    ];
    for (const path of PATHS) {
      for (const [query, field] of bad) {
        const problem = await expectProblem(
          await call("GET", `/v1/insights/${path}?${query}`, { token: tenant.key }),
          400,
          "VALIDATION_FAILED",
        );
        expect(problem.errors?.map((e) => e.field)).toContain(field);
      }
    }
    for (const query of ["inactiveDays=0", "inactiveDays=366", "inactiveDays=seven"]) {
      await expectProblem(await call("GET", `/v1/insights/summary?${query}`, { token: tenant.key }), 400);
    }
    await expectProblem(await call("GET", "/v1/insights/activity?period=year", { token: tenant.key }), 400);
    await expectProblem(await call("GET", "/v1/insights/retention?inactiveDays=3", { token: tenant.key }), 400);
    // exactly 400 days is fine
    expect(
      (await call("GET", "/v1/insights/activity?from=2025-01-01&to=2026-02-05", { token: tenant.key })).status,
    ).toBe(200);
    expect(await count(db, "insights_daily")).toBe(0);
  });
});

describe("access", () => {
  it("insights:read: the manager role has it, an end user's key does not", async () => {
    const tenant = await createTenant();
    const manager = await createKey(tenant, ["manager"]);
    const basic = await createKey(tenant, ["basic"]);
    for (const path of PATHS) {
      expect((await call("GET", `/v1/insights/${path}`, { token: manager.secret })).status).toBe(200);
      await expectProblem(await call("GET", `/v1/insights/${path}`, { token: basic.secret }), 403, "FORBIDDEN");
      await expectProblem(await call("GET", `/v1/insights/${path}`), 401);
    }
  });

  it("premium: a free tenant gets 403 FEATURE_NOT_IN_PLAN", async () => {
    const tenant = await createTenant({ plan: "free" });
    for (const path of PATHS) {
      await expectProblem(await call("GET", `/v1/insights/${path}`, { token: tenant.key }), 403, "FEATURE_NOT_IN_PLAN");
    }
  });

  it("a tenant sees its own users only", async () => {
    const mine = await createTenant();
    const theirs = await createTenant();
    await createUser(theirs);
    await createUser(theirs);
    const other = await createUser(theirs);
    const sent = await call("POST", "/v1/activity", {
      token: theirs.key,
      body: { events: [{ userId: other.id, type: "page.view" }] },
    });
    expect(sent.status).toBe(200);
    const summary = await json<{ totalUsers: number; newUsers: number; activeUsers: number }>(
      await call("GET", "/v1/insights/summary", { token: mine.key }),
    );
    expect(summary).toMatchObject({ totalUsers: 0, newUsers: 0, activeUsers: 0 });
    const theirSummary = await json<{ totalUsers: number; activeUsers: number }>(
      await call("GET", "/v1/insights/summary", { token: theirs.key }),
    );
    expect(theirSummary).toMatchObject({ totalUsers: 3, activeUsers: 1 });
    const activity = await json<{ mau: number; signupsByDay: { signups: number }[] }>(
      await call("GET", "/v1/insights/activity", { token: mine.key }),
    );
    expect(activity.mau).toBe(0);
    expect(activity.signupsByDay.reduce((sum, d) => sum + d.signups, 0)).toBe(0);
    const retention = await json<{ cohorts: unknown[] }>(
      await call("GET", "/v1/insights/retention", { token: mine.key }),
    );
    expect(retention.cohorts).toEqual([]);
  });
});

describe("OpenAPI", () => {
  it("documents the three routes, their parameters, permission and plan feature", async () => {
    const response = await call("GET", "/v1/openapi.json");
    expect(response.status).toBe(200);
    const doc = await json<{
      paths: Record<string, { get?: { parameters?: { name: string; in: string }[]; [key: string]: unknown } }>;
      components: { schemas: Record<string, unknown> };
    }>(response);
    const params = (path: string) =>
      (doc.paths[path]?.get?.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
    expect(params("/v1/insights/summary")).toEqual(expect.arrayContaining(["from", "to", "inactiveDays"]));
    expect(params("/v1/insights/activity")).toEqual(expect.arrayContaining(["from", "to", "period"]));
    expect(params("/v1/insights/retention")).toEqual(expect.arrayContaining(["from", "to"]));
    for (const path of PATHS) expect(doc.paths[`/v1/insights/${path}`]?.get?.["x-plan-feature"]).toBe("insights");
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["InsightsSummary", "InsightsActivity", "InsightsRetention"]),
    );
  });
});

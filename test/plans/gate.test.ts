import { describe, expect, it } from "vitest";
import { FEATURES, isFeature, PLAN_CONFIG } from "../../src/core/plans";
import { call, createTenant, expectProblem, json } from "../helpers/api";

interface Operation {
  "x-credential"?: string[];
  "x-plan-feature"?: string;
}

describe("the plan gate", () => {
  it("a free tenant on a premium route: 403 FEATURE_NOT_IN_PLAN naming the feature and the plan that has it", async () => {
    const tenant = await createTenant({ name: "Free gate", plan: "free" });
    const problem = await expectProblem(
      await call("GET", "/v1/audit-events", { token: tenant.key }),
      403,
      "FEATURE_NOT_IN_PLAN",
    );
    expect(problem).toMatchObject({ feature: "audit-api", plan: "free", requiredPlan: "pro" });
    expect(problem.detail).toContain(FEATURES["audit-api"]);
    // SCIM answers it as a SCIM error
    const scim = await call("GET", "/scim/v2/Users", { token: tenant.key });
    expect(scim.status).toBe(403);
    expect(await json(scim)).toMatchObject({ status: "403" });
    // what free includes answers
    expect((await call("GET", "/v1/users", { token: tenant.key })).status).toBe(200);
    expect((await call("GET", "/v1/plan", { token: tenant.key })).status).toBe(200);
  });

  it("every tenant route declares a known feature (x-plan-feature), and every feature is in some plan", async () => {
    const doc = await json<{ paths: Record<string, Record<string, Operation>> }>(await call("GET", "/v1/openapi.json"));
    const problems: string[] = [];
    let checked = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!op["x-credential"]?.includes("tenant")) continue;
        checked++;
        const feature = op["x-plan-feature"];
        if (!feature || !isFeature(feature)) problems.push(`${method.toUpperCase()} ${path}: ${feature}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(30);
    for (const feature of Object.keys(FEATURES)) {
      expect(Object.values(PLAN_CONFIG).some((plan) => plan.features.includes(feature as never))).toBe(true);
    }
  });
});

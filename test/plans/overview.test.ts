import { describe, expect, it } from "vitest";
import { FEATURES, PLAN_CONFIG, PLANS } from "../../src/core/plans";
import { monthOf } from "../../src/core/usage/monthly-requests";
import { ADMIN_TOKEN, call, createTenant, createUser } from "../helpers/api";
import { planOf } from "./support";

describe("GET /v1/plan", () => {
  it("shows the plan's features, quotas with their usage, and rate-limit bounds", async () => {
    const parent = await createTenant({ name: "Plan parent", plan: "pro" });
    await createUser(parent);
    await createUser(parent);
    const child = await call("POST", "/v1/tenants", {
      token: ADMIN_TOKEN,
      body: { name: "Plan child", plan: "free", parentId: parent.id },
    });
    expect(child.status).toBe(201);

    const overview = await planOf(parent);
    expect(overview.plan).toBe("pro");
    expect(overview.features.map((f) => f.name)).toEqual(Object.keys(FEATURES));
    expect(overview.features.every((f) => f.included)).toBe(true);
    expect(overview.features.find((f) => f.name === "audit-api")).toMatchObject({
      included: true,
      requiredPlan: "pro",
      description: FEATURES["audit-api"],
    });
    const quotas = PLAN_CONFIG.pro.quotas;
    expect(overview.quotas).toEqual({
      maxUsers: { limit: quotas.maxUsers, used: 2 },
      requestsPerMonth: {
        limit: quotas.requestsPerMonth,
        used: expect.any(Number),
        period: monthOf(),
      },
      subAccounts: { limit: quotas.subAccounts, used: 1 },
      webhookEndpoints: { limit: quotas.webhookEndpoints, used: 0 },
      auditRetentionDays: { limit: quotas.auditRetentionDays },
    });
    expect(overview.quotas.requestsPerMonth.period).toMatch(/^\d{4}-\d{2}$/);
    expect(overview.rateLimits).toEqual(PLAN_CONFIG.pro.rateLimits);
    expect(overview.pendingChangeRequest).toBeNull();
  });

  it("on free: premium features are not included and name pro; enterprise shows unlimited quotas as null", async () => {
    const free = await createTenant({ name: "Plan free", plan: "free" });
    const overview = await planOf(free);
    expect(overview.plan).toBe("free");
    for (const feature of overview.features) {
      expect(feature.included).toBe(PLAN_CONFIG.free.features.includes(feature.name as never));
      expect(PLANS).toContain(feature.requiredPlan);
    }
    expect(overview.features.find((f) => f.name === "custom-roles")).toMatchObject({
      included: false,
      requiredPlan: "pro",
    });
    expect(overview.quotas.maxUsers).toEqual({ limit: 1000, used: 0 });

    const enterprise = await createTenant({ name: "Plan enterprise" });
    const big = await planOf(enterprise);
    expect(big.quotas.maxUsers.limit).toBeNull();
    expect(big.quotas.requestsPerMonth.limit).toBeNull();
  });
});

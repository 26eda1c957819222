import { describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, uniqueEmail } from "../helpers/api";
import type { AuditEvent } from "../helpers/audit";
import { count, tenantDatabase } from "../helpers/db";
import { bulkCreate, planOf, setPlan } from "./support";

describe("a downgrade keeps the data and disables what the smaller plan lacks", () => {
  it("pro → free: the audit API is 403 FEATURE_NOT_IN_PLAN, users above maxUsers stay but no new ones; back on pro all is there", async () => {
    const tenant = await createTenant({ name: "Downgraded", plan: "pro" });
    const db = await tenantDatabase(tenant.id);
    const started = Date.now();
    expect((await bulkCreate(tenant, 1000, "pro")).every((r) => r.status === 201)).toBe(true);
    const last = await createUser(tenant);
    expect(Date.now() - started).toBeLessThan(20_000);
    const auditOnPro = await call("GET", "/v1/audit-events?limit=1000", { token: tenant.key });
    expect(auditOnPro.status).toBe(200);
    const eventIds = (await json<{ data: AuditEvent[] }>(auditOnPro)).data.map((e) => e.id);
    expect(eventIds).toHaveLength(1000); // the newest page of the 1,001 user.created events

    await setPlan(tenant, "free");

    // a premium route: refused, naming the feature and the plan that has it
    const refused = await expectProblem(
      await call("GET", "/v1/audit-events", { token: tenant.key }),
      403,
      "FEATURE_NOT_IN_PLAN",
    );
    expect(refused).toMatchObject({ feature: "audit-api", plan: "free", requiredPlan: "pro" });
    // 1,001 users stay readable and changeable; a new one is over free's 1,000
    const listed = await call("GET", "/v1/users?limit=1&count=true", { token: tenant.key });
    expect(await json(listed)).toMatchObject({ total: 1001 });
    const renamed = await call("PATCH", `/v1/users/${last.id}`, { token: tenant.key, body: { name: "Kept" } });
    expect(renamed.status).toBe(200);
    const over = await expectProblem(
      await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail("free") } }),
      403,
      "QUOTA_EXCEEDED",
    );
    expect(over).toMatchObject({ quota: "maxUsers", plan: "free", limit: 1000, used: 1001 });
    expect((await planOf(tenant)).quotas.maxUsers).toEqual({ limit: 1000, used: 1001 });
    expect(await count(db, "users")).toBe(1001);

    // back on pro: the trail is whole and creating works again
    await setPlan(tenant, "pro");
    const auditBack = await call("GET", "/v1/audit-events?limit=1000", { token: tenant.key });
    const idsBack = (await json<{ data: AuditEvent[] }>(auditBack)).data.map((e) => e.id);
    expect(idsBack.slice(1)).toEqual(eventIds.slice(0, 999)); // and one newer: user.updated (the rename)
    expect((await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail("pro") } })).status).toBe(
      201,
    );
  }, 60_000);
});

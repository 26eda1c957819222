import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { monthOf } from "../../src/core/usage/monthly-requests";
import { ADMIN_TOKEN, call, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { sleep } from "../helpers/db";
import { planOf, setPlan } from "./support";

/** The tenant's USAGE object, called the way the worker calls it (RPC on its stub). */
function meterOf(tenant: TestTenant) {
  return env.USAGE.get(env.USAGE.idFromName(tenant.id));
}

/** Retries `probe` until it returns true; isolates flush their counts every USAGE_FLUSH_SECONDS (1 s in tests). */
async function eventually(probe: () => Promise<boolean>, timeoutMs = 8_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error("not within the flush window");
    await sleep(200);
  }
}

describe("requestsPerMonth", () => {
  it("counts a tenant's requests in its USAGE object, which GET /v1/plan then shows", async () => {
    const tenant = await createTenant({ name: "Counted" });
    for (let i = 0; i < 5; i++) expect((await call("GET", "/v1/users", { token: tenant.key })).status).toBe(200);
    // a request that fails after the credential checks (a bad body) counts too
    await expectProblem(await call("POST", "/v1/users", { token: tenant.key, body: {} }), 400);
    let shown = 0;
    await eventually(async () => {
      shown = (await planOf(tenant)).quotas.requestsPerMonth.used ?? 0;
      return shown >= 6;
    });
    expect(await meterOf(tenant).requestsIn(monthOf())).toBeGreaterThanOrEqual(shown);

    // the admin token's requests are nobody's, nor are unauthenticated ones
    await sleep(1_500); // the plan reads above are flushed
    const before = await meterOf(tenant).requestsIn(monthOf());
    expect((await call("GET", `/v1/tenants/${tenant.id}`, { token: ADMIN_TOKEN })).status).toBe(200);
    expect((await call("GET", "/v1/users")).status).toBe(401);
    await sleep(1_500);
    expect(await meterOf(tenant).requestsIn(monthOf())).toBe(before);
  });

  it("at the limit, the tenant's requests are 403 QUOTA_EXCEEDED, but its plan and change requests still answer", async () => {
    const tenant = await createTenant({ name: "Used up", plan: "free" });
    // 99,999 of free's 100,000 requests already counted this month (by other isolates, say)
    expect(await meterOf(tenant).record(monthOf(), 99_999)).toBe(99_999);

    // this isolate does not know yet: the request passes, and its count tells the isolate the month's total
    expect((await call("GET", "/v1/users", { token: tenant.key })).status).toBe(200);
    let refused: Response | undefined;
    await eventually(async () => {
      const response = await call("GET", "/v1/users", { token: tenant.key });
      if (response.status === 200) return false;
      refused = response;
      return true;
    });
    const problem = await expectProblem(refused as Response, 403, "QUOTA_EXCEEDED");
    expect(problem).toMatchObject({ quota: "requestsPerMonth", plan: "free", limit: 100_000 });
    expect((problem as unknown as { used: number }).used).toBeGreaterThanOrEqual(100_000);
    // writes too, and nothing is written
    await expectProblem(
      await call("POST", "/v1/users", { token: tenant.key, body: { email: "late@example.com" } }),
      403,
      "QUOTA_EXCEEDED",
    );

    // the plan's own routes answer: the tenant sees why and asks for more
    const overview = await planOf(tenant);
    expect(overview.quotas.requestsPerMonth).toMatchObject({ limit: 100_000, period: monthOf() });
    expect(overview.quotas.requestsPerMonth.used).toBeGreaterThanOrEqual(100_000);
    const asked = await call("POST", "/v1/plan/change-requests", { token: tenant.key, body: { plan: "pro" } });
    expect(asked.status).toBe(201);
    expect((await call("GET", "/v1/plan/change-requests", { token: tenant.key })).status).toBe(200);

    // upgraded (5,000,000 a month on pro): the requests answer again at once in this isolate
    await setPlan(tenant, "pro");
    expect((await call("GET", "/v1/users", { token: tenant.key })).status).toBe(200);
    expect(await json(await call("GET", "/v1/plan/change-requests", { token: tenant.key }))).toMatchObject({
      data: [{ status: "applied" }],
    });
  });

  it("the USAGE object keeps months apart", async () => {
    const tenant = await createTenant({ name: "Meter months", plan: "free" });
    expect(await meterOf(tenant).requestsIn("2001-01")).toBe(0);
    expect(await meterOf(tenant).record("2001-01", 7)).toBe(7);
    expect(await meterOf(tenant).record("2001-02", 2)).toBe(2);
    expect(await meterOf(tenant).record("2001-01", 1)).toBe(8);
    expect(await meterOf(tenant).requestsIn("2001-01")).toBe(8);
  });
});

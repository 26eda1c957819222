import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { emptyHistogram } from "../../src/core/usage/histogram";
import { monthOf } from "../../src/core/usage/monthly-requests";
import { ADMIN_TOKEN, call, createKey, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { sleep } from "../helpers/db";
import { planOf, setPlan } from "./support";

/** The tenant's USAGE object, called the way the worker calls it (RPC on its stub). */
function meterOf(tenant: TestTenant) {
  return env.USAGE.get(env.USAGE.idFromName(tenant.id));
}

/** What other isolates' flushes would add: `n` requests of the month counted against requestsPerMonth. */
async function recordQuota(tenant: TestTenant, month: string, n: number): Promise<number | undefined> {
  const totals = await meterOf(tenant).recordUsage([
    {
      hour: month === monthOf() ? new Date().toISOString().slice(0, 13) : `${month}-01T00`,
      route: "/v1/users",
      method: "GET",
      statusClass: "2xx",
      credential: "key_elsewhere",
      requests: n,
      quotaRequests: n,
      latencyMsSum: 0,
      histogram: emptyHistogram(),
    },
  ]);
  return totals[month];
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
    expect(await recordQuota(tenant, monthOf(), 99_999)).toBe(99_999);

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

  it("the quota reads the usage analytics: months apart, refused requests not counted", async () => {
    const tenant = await createTenant({ name: "Meter months", plan: "free" });
    const lastMonth = monthOf(Date.now() - 40 * 86_400_000);
    expect(await meterOf(tenant).requestsIn(lastMonth)).toBe(0);
    expect(await recordQuota(tenant, lastMonth, 7)).toBe(7);
    expect(await recordQuota(tenant, lastMonth, 1)).toBe(8);
    expect(await meterOf(tenant).requestsIn(lastMonth)).toBe(8);
    expect(await meterOf(tenant).requestsIn(monthOf())).toBe(0);
    // a refusal of the credential's rights is counted by the analytics, not against the quota
    const basic = await createKey(tenant, ["basic"]);
    await expectProblem(await call("GET", "/v1/users", { token: basic.secret }), 403, "FORBIDDEN");
    expect((await call("GET", "/v1/users", { token: tenant.key })).status).toBe(200);
    await eventually(async () => (await meterOf(tenant).requestsIn(monthOf())) >= 2);
    await sleep(1_500);
    // the key's creation and the list; not the refusal
    expect(await meterOf(tenant).requestsIn(monthOf())).toBe(2);
    const usage = await meterOf(tenant).usage({
      from: new Date(Date.now() - 3_600_000).toISOString(),
      to: new Date(Date.now() + 3_600_000).toISOString(),
      granularity: "hour",
      groupBy: "status",
    });
    expect(usage.totals.requests).toBeGreaterThanOrEqual(2);
  });
});

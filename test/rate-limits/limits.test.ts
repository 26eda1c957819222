import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { PLAN_CONFIG } from "../../src/core/plans";
import { call, createKey, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { burstOf, limitedKey, putRateLimit, rateLimitFields } from "./support";

/** Rate limits through the API: policies, the RateLimit fields, 429, exactness under concurrency. */

let acme: TestTenant;
beforeAll(async () => {
  acme = await createTenant({ name: "Acme" });
});

describe("RateLimit fields", () => {
  it("every authenticated response carries them, errors included, and they count down", async () => {
    const key = await createKey(acme, ["admin"]);
    const first = await call("GET", "/v1/me", { token: key.secret });
    const second = await call("GET", "/v1/users/usr_00000000000000000000000000", { token: key.secret });
    expect(first.status).toBe(200);
    expect(second.status).toBe(404);
    const { max, default: plan } = PLAN_CONFIG.enterprise.rateLimits;
    expect(max.burst).toBeGreaterThan(plan.burst);
    const a = rateLimitFields(first);
    const b = rateLimitFields(second);
    expect(a.policy).toEqual({ name: "plan", q: plan.burst, w: Math.round(plan.burst / plan.ratePerSecond) });
    expect(a.state.name).toBe("plan");
    expect(a.state.r).toBe(plan.burst - 1);
    // a second later at most the refill is back
    expect(b.state.r).toBeLessThanOrEqual(plan.burst - 1);
    expect(b.state.r).toBeGreaterThanOrEqual(plan.burst - 2);
    expect(second.headers.get("content-type")).toMatch(/problem\+json/);
  });

  it("responses without a tenant credential carry none; the admin token is not limited", async () => {
    expect((await call("GET", "/health")).headers.get("ratelimit")).toBeNull();
    const admin = await call("GET", "/v1/tenants", { token: "test-admin-token-0123456789abcdef" });
    expect(admin.status).toBe(200);
    expect(admin.headers.get("ratelimit")).toBeNull();
  });
});

describe("429 RATE_LIMITED", () => {
  it("of 40 concurrent requests against a burst of 10 exactly 10 pass; the rest are 429 with Retry-After", async () => {
    const key = await limitedKey(acme, { burst: 10, ratePerSecond: 0.001 });
    const responses = await burstOf(key.secret, 40);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(10);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(30);
    const problem = await expectProblem(refused[0] as Response, 429, "RATE_LIMITED");
    expect(problem).toMatchObject({
      policy: { name: "api-key", algorithm: "token-bucket", burst: 10, ratePerSecond: 0.001 },
    });
    const retryAfter = Number(refused[0]?.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(999);
    expect(retryAfter).toBeLessThanOrEqual(1000);
    expect(rateLimitFields(refused[0] as Response).state.r).toBe(0);
  });

  it("a sliding window admits exactly its burst per window under concurrency too", async () => {
    const key = await limitedKey(acme, { algorithm: "sliding-window", burst: 12, ratePerSecond: 0.01 });
    const responses = await burstOf(key.secret, 50);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(12);
    const refused = responses.find((r) => r.status === 429) as Response;
    expect(rateLimitFields(refused).policy).toEqual({ name: "api-key", q: 12, w: 1200 });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("the token bucket refills at its rate", async () => {
    const key = await limitedKey(acme, { burst: 2, ratePerSecond: 4 });
    const first = await burstOf(key.secret, 4);
    expect(first.filter((r) => r.status === 200)).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const later = await burstOf(key.secret, 4);
    expect(later.filter((r) => r.status === 200)).toHaveLength(2);
  });

  it("a revoked key is 401, not 429, and takes nothing from the bucket", async () => {
    const key = await limitedKey(acme, { burst: 1, ratePerSecond: 0.001 });
    expect((await call("DELETE", `/v1/api-keys/${key.id}`, { token: acme.key })).status).toBe(204);
    const refused = await call("GET", "/v1/me", { token: key.secret });
    await expectProblem(refused, 401);
    expect(refused.headers.get("ratelimit")).toBeNull();
  });

  it("every credential has its own bucket: one key's exhaustion does not touch another's", async () => {
    const spent = await limitedKey(acme, { burst: 1, ratePerSecond: 0.001 });
    const other = await limitedKey(acme, { burst: 1, ratePerSecond: 0.001 });
    expect((await call("GET", "/v1/me", { token: spent.secret })).status).toBe(200);
    expect((await call("GET", "/v1/me", { token: spent.secret })).status).toBe(429);
    expect((await call("GET", "/v1/me", { token: other.secret })).status).toBe(200);
  });

  it("refused requests are counted in the usage analytics", async () => {
    const tenant = await createTenant({ name: "Counted" });
    const key = await limitedKey(tenant, { burst: 1, ratePerSecond: 0.001 });
    await burstOf(key.secret, 3);
    await expect
      .poll(
        async () => {
          const usage = await json<{ series: { group: string; requests: number }[] }>(
            await call("GET", "/v1/usage?groupBy=status", { token: tenant.key }),
          );
          return usage.series.find((step) => step.group === "4xx")?.requests ?? 0;
        },
        { timeout: 10_000, interval: 500 },
      )
      .toBeGreaterThanOrEqual(2);
  });
});

describe("GET/PUT/DELETE /v1/rate-limits", () => {
  it("the tenant's policy: the plan's default until set, then its own; DELETE goes back", async () => {
    const tenant = await createTenant({ name: "Policies", plan: "pro" });
    const { default: plan, max } = PLAN_CONFIG.pro.rateLimits;
    const initial = await json(await call("GET", "/v1/rate-limits", { token: tenant.key }));
    expect(initial).toMatchObject({
      scope: "tenant",
      apiKeyId: null,
      algorithm: "token-bucket",
      ...plan,
      source: "plan",
      effective: { algorithm: "token-bucket", ...plan },
      bounds: { default: plan, max },
      boost: null,
    });
    const put = await putRateLimit(tenant, { algorithm: "sliding-window", burst: 300, ratePerSecond: 60 });
    expect(put.status).toBe(200);
    expect(await json(put)).toMatchObject({ source: "tenant", algorithm: "sliding-window", burst: 300 });
    // this isolate applies it at once: the next response shows the tenant's policy
    const next = await call("GET", "/v1/rate-limits", { token: tenant.key });
    expect(rateLimitFields(next).policy).toEqual({ name: "tenant", q: 300, w: 5 });
    const reset = await call("DELETE", "/v1/rate-limits", { token: tenant.key });
    expect(await json(reset)).toMatchObject({ source: "plan", ...plan });
  });

  it("a key's own policy wins over the tenant's; a key without one inherits the tenant's", async () => {
    const tenant = await createTenant({ name: "Keys" });
    await putRateLimit(tenant, { burst: 500, ratePerSecond: 100 });
    const own = await limitedKey(tenant, { burst: 30, ratePerSecond: 3 });
    const plain = await createKey(tenant, ["admin"]);
    expect(own.view).toMatchObject({ scope: "apiKey", apiKeyId: own.id, source: "apiKey", burst: 30 });
    const inherited = await json(
      await call("GET", `/v1/rate-limits?scope=apiKey&apiKeyId=${plain.id}`, { token: tenant.key }),
    );
    expect(inherited).toMatchObject({ scope: "apiKey", apiKeyId: plain.id, source: "tenant", burst: 500 });
    expect(rateLimitFields(await call("GET", "/v1/me", { token: own.secret })).policy.q).toBe(30);
    expect(rateLimitFields(await call("GET", "/v1/me", { token: plain.secret })).policy.q).toBe(500);
    await call("DELETE", `/v1/rate-limits?scope=apiKey&apiKeyId=${own.id}`, { token: tenant.key });
    expect(rateLimitFields(await call("GET", "/v1/me", { token: own.secret })).policy).toMatchObject({
      name: "tenant",
      q: 500,
    });
  });

  it("refuses what the plan does not allow and bad input, changing nothing", async () => {
    const tenant = await createTenant({ name: "Bounds", plan: "free" });
    const { max } = PLAN_CONFIG.free.rateLimits;
    const over = await putRateLimit(tenant, { burst: max.burst + 1, ratePerSecond: max.ratePerSecond + 1 });
    const problem = await expectProblem(over, 400, "VALIDATION_FAILED");
    expect(problem.errors?.map((e) => [e.field, e.code])).toEqual([
      ["burst", "above_plan_maximum"],
      ["ratePerSecond", "above_plan_maximum"],
    ]);
    for (const body of [
      { burst: 0, ratePerSecond: 1 },
      { burst: 1.5, ratePerSecond: 1 },
      { burst: 5, ratePerSecond: 0 },
      { burst: 5, ratePerSecond: 1, algorithm: "leaky" },
      { burst: 5, ratePerSecond: 1, scope: "apiKey" },
      { burst: 5, ratePerSecond: 1, scope: "tenant", apiKeyId: "key_x" },
    ]) {
      await expectProblem(await call("PUT", "/v1/rate-limits", { token: tenant.key, body }), 400);
    }
    await expectProblem(
      await putRateLimit(tenant, {
        scope: "apiKey",
        apiKeyId: "key_00000000000000000000000000",
        burst: 5,
        ratePerSecond: 1,
      }),
      404,
    );
    expect(await json(await call("GET", "/v1/rate-limits", { token: tenant.key }))).toMatchObject({ source: "plan" });
  });

  it("another tenant's key is 404", async () => {
    const other = await createTenant({ name: "Other" });
    const response = await call("GET", `/v1/rate-limits?scope=apiKey&apiKeyId=${other.keyId}`, { token: acme.key });
    await expectProblem(response, 404);
  });

  it("needs plan:write to change and plan:read to read", async () => {
    const viewer = await createKey(acme, ["basic"]);
    await expectProblem(await call("GET", "/v1/rate-limits", { token: viewer.secret }), 403, "FORBIDDEN");
    const manager = await createKey(acme, ["manager"]);
    expect((await call("GET", "/v1/rate-limits", { token: manager.secret })).status).toBe(200);
    await expectProblem(
      await call("PUT", "/v1/rate-limits", { token: manager.secret, body: { burst: 5, ratePerSecond: 1 } }),
      403,
      "FORBIDDEN",
    );
  });

  it("a downgrade's bounds apply at once to a policy set under the larger plan", async () => {
    const tenant = await createTenant({ name: "Downgrade" });
    expect((await putRateLimit(tenant, { burst: 10_000, ratePerSecond: 2_000 })).status).toBe(200);
    const patched = await call("PATCH", `/v1/tenants/${tenant.id}`, {
      token: "test-admin-token-0123456789abcdef",
      body: { plan: "free" },
    });
    expect(patched.status).toBe(200);
    const { max } = PLAN_CONFIG.free.rateLimits;
    const view = await json(await call("GET", "/v1/rate-limits", { token: tenant.key }));
    expect(view).toMatchObject({
      burst: 10_000,
      source: "tenant",
      effective: { burst: max.burst, ratePerSecond: max.ratePerSecond },
    });
  });

  it("changes are audited", async () => {
    const tenant = await createTenant({ name: "Audited" });
    await putRateLimit(tenant, { burst: 100, ratePerSecond: 10 });
    const key = await limitedKey(tenant, { burst: 5, ratePerSecond: 1 });
    const events = await json<{ data: { action: string; resource: { id: string }; changes: unknown }[] }>(
      await call("GET", "/v1/audit-events", { token: tenant.key }),
    );
    const tenantChange = events.data.find((e) => e.action === "tenant.rate_limits_updated");
    expect(tenantChange).toMatchObject({
      resource: { id: tenant.id },
      changes: {
        "policy.algorithm": { from: null, to: "token-bucket" },
        "policy.burst": { from: null, to: 100 },
        "policy.ratePerSecond": { from: null, to: 10 },
      },
    });
    expect(events.data.find((e) => e.action === "api_key.rate_limit_updated")).toMatchObject({
      resource: { id: key.id },
      changes: { "rateLimit.burst": { from: null, to: 5 } },
    });
  });
});

describe("campaign boost", () => {
  it("multiplies the limits for its hours, beyond the plan's maximum; one at a time; ends early", async () => {
    const tenant = await createTenant({ name: "Campaign", plan: "free" });
    const { max } = PLAN_CONFIG.free.rateLimits;
    await putRateLimit(tenant, { burst: max.burst, ratePerSecond: max.ratePerSecond });
    const started = await call("POST", "/v1/rate-limits/boost", {
      token: tenant.key,
      body: { multiplier: 3, hours: 48 },
    });
    expect(started.status).toBe(201);
    const view = await json<{ boost: { startsAt: string; endsAt: string }; effective: { burst: number } }>(started);
    expect(view.effective).toMatchObject({ burst: max.burst * 3, ratePerSecond: max.ratePerSecond * 3 });
    expect(Date.parse(view.boost.endsAt) - Date.parse(view.boost.startsAt)).toBe(48 * 3_600_000);
    expect(rateLimitFields(await call("GET", "/v1/me", { token: tenant.key })).policy.q).toBe(max.burst * 3);
    await expectProblem(
      await call("POST", "/v1/rate-limits/boost", { token: tenant.key, body: {} }),
      409,
      "BOOST_RUNNING",
    );
    for (const body of [{ multiplier: 6 }, { multiplier: 1 }, { hours: 169 }, { hours: 0 }]) {
      await expectProblem(await call("POST", "/v1/rate-limits/boost", { token: tenant.key, body }), 400);
    }
    const ended = await json(await call("DELETE", "/v1/rate-limits/boost", { token: tenant.key }));
    expect(ended).toMatchObject({ boost: null, effective: { burst: max.burst } });
    expect(rateLimitFields(await call("GET", "/v1/me", { token: tenant.key })).policy.q).toBe(max.burst);
  });

  it("a boost that has run out counts for nothing", async () => {
    const tenant = await createTenant({ name: "Expired boost", plan: "pro" });
    const past = { multiplier: 4, startsAt: "2026-01-01T00:00:00.000Z", endsAt: "2026-01-03T00:00:00.000Z" };
    await env.CONTROL_DB.prepare("UPDATE tenants SET rate_limits = ? WHERE id = ?")
      .bind(JSON.stringify({ boost: past }), tenant.id)
      .run();
    const view = await json(await call("GET", "/v1/rate-limits", { token: tenant.key }));
    expect(view).toMatchObject({ boost: null, effective: PLAN_CONFIG.pro.rateLimits.default });
  });
});

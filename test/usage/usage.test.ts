import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { UsageMeter } from "../../src/durable-objects/usage-meter";
import { call, createKey, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { sleep } from "../helpers/db";

// Usage analytics: requests counted in the isolate, flushed to the tenant's USAGE object (USAGE_FLUSH_SECONDS is 1
// here), reported by GET /v1/usage.

interface Stats {
  requests: number;
  errors: number;
  serverErrors: number;
  errorRate: number;
  latencyMs: { mean: number | null; p50: number | null; p95: number | null };
}
interface Report {
  from: string;
  to: string;
  granularity: string;
  groupBy: string | null;
  totals: Stats;
  series: (Stats & { start: string; group?: string })[];
  topEndpoints: (Stats & { method: string; route: string })[];
}

let tenant: TestTenant;
let secondKey: { id: string; secret: string };

async function report(query: string, token = tenant.key): Promise<Report> {
  const response = await call("GET", `/v1/usage${query}`, { token });
  expect(response.status).toBe(200);
  return json<Report>(response);
}

/** Polls until the flushed counts show `n` requests to the route (bounded, not timed). */
async function untilCounted(route: string, n: number): Promise<Report> {
  const end = Date.now() + 15_000;
  for (;;) {
    const current = await report("?groupBy=endpoint");
    const counted = current.topEndpoints.find((e) => `${e.method} ${e.route}` === route)?.requests ?? 0;
    if (counted >= n) return current;
    if (Date.now() > end)
      throw new Error(`${route}: ${counted} of ${n} requests counted: ${JSON.stringify(current).slice(0, 1500)}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Usage analytics", plan: "pro" });
  secondKey = await createKey(tenant, ["manager"]);
  for (let i = 0; i < 5; i++) expect((await call("GET", "/v1/users", { token: tenant.key })).status).toBe(200);
  for (let i = 0; i < 3; i++) {
    expect((await call("GET", "/v1/users/usr_00000000000000000000000000", { token: secondKey.secret })).status).toBe(
      404,
    );
  }
  expect((await call("GET", "/v1/users?limit=0", { token: tenant.key })).status).toBe(400);
});

describe("GET /v1/usage", () => {
  it("counts each request by route template, never by concrete path, with error rates and latency", async () => {
    const usage = await untilCounted("GET /v1/users/{id}", 3);
    const byRoute = new Map(usage.topEndpoints.map((e) => [`${e.method} ${e.route}`, e]));
    expect(byRoute.get("GET /v1/users")).toMatchObject({ requests: 6, errors: 1, serverErrors: 0 });
    expect(byRoute.get("GET /v1/users")?.errorRate).toBeCloseTo(1 / 6, 2);
    expect(byRoute.get("GET /v1/users/{id}")).toMatchObject({ requests: 3, errors: 3, errorRate: 1 });
    expect([...byRoute.keys()].some((route) => route.includes("usr_"))).toBe(false);
    const latency = byRoute.get("GET /v1/users")?.latencyMs;
    expect(latency?.p50).toBeTypeOf("number");
    expect(latency?.p95 ?? -1).toBeGreaterThanOrEqual(latency?.p50 ?? 0);
    // the hourly series, grouped by endpoint, adds up to the totals
    const sum = usage.series.reduce((n, step) => n + step.requests, 0);
    expect(sum).toBe(usage.totals.requests);
    expect(usage.series.every((step) => step.start.endsWith(":00:00.000Z") && step.group)).toBe(true);
  });

  it("groups by credential and by status class", async () => {
    await untilCounted("GET /v1/users/{id}", 3);
    const byKey = await report("?groupBy=apiKey");
    const keys = new Map<string, number>();
    for (const step of byKey.series)
      keys.set(step.group as string, (keys.get(step.group as string) ?? 0) + step.requests);
    expect(keys.get(secondKey.id)).toBe(3);
    expect(keys.get(tenant.keyId)).toBeGreaterThanOrEqual(6);
    const byStatus = await report("?groupBy=status&granularity=day");
    const classes = new Map(byStatus.series.map((step) => [step.group, step.requests]));
    expect(classes.get("4xx")).toBeGreaterThanOrEqual(4);
    expect(byStatus.series.every((step) => step.start.endsWith("T00:00:00.000Z"))).toBe(true);
  });

  it("a manager reads it; a basic key and a free tenant cannot", async () => {
    expect((await call("GET", "/v1/usage", { token: secondKey.secret })).status).toBe(200);
    const basic = await createKey(tenant, ["basic"]);
    await expectProblem(await call("GET", "/v1/usage", { token: basic.secret }), 403, "FORBIDDEN");
    const free = await createTenant({ name: "Usage free", plan: "free" });
    await expectProblem(await call("GET", "/v1/usage", { token: free.key }), 403, "FEATURE_NOT_IN_PLAN");
  });

  it("refuses a backwards range, one beyond the 90 days kept, and unknown values", async () => {
    await expectProblem(
      await call("GET", "/v1/usage?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", { token: tenant.key }),
      400,
      "VALIDATION_FAILED",
    );
    await expectProblem(
      await call("GET", "/v1/usage?from=2026-01-01T00:00:00Z&to=2026-11-01T00:00:00Z", { token: tenant.key }),
      400,
      "VALIDATION_FAILED",
    );
    for (const query of ["?granularity=minute", "?groupBy=user", "?from=yesterday"]) {
      await expectProblem(await call("GET", `/v1/usage${query}`, { token: tenant.key }), 400, "VALIDATION_FAILED");
    }
  });

  it("forgets hours older than 90 days when it next records", async () => {
    const stub = env.USAGE.get(env.USAGE.idFromName(tenant.id));
    const old = new Date(Date.now() - 91 * 86_400_000).toISOString().slice(0, 13);
    const row = { route: "/v1/users", method: "GET", statusClass: "2xx" as const, credential: "key_old" };
    await stub.recordUsage([{ ...row, hour: old, requests: 1, quotaRequests: 1, latencyMsSum: 1, histogram: [1] }]);
    const count = () =>
      runInDurableObject(stub, (instance: UsageMeter, state) => {
        expect(instance).toBeInstanceOf(UsageMeter);
        return state.storage.sql.exec("SELECT count(*) AS n FROM usage_hours WHERE hour = ?", old).one().n;
      });
    // recorded, then purged in the same call: an hour that old never stays
    expect(await count()).toBe(0);
  });
});

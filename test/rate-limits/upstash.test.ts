import { createExecutionContext, env } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import worker from "../../src/index";
import { createKey, createTenant, expectProblem, type TestTenant } from "../helpers/api";
import { putRateLimit, rateLimitFields } from "./support";

/**
 * RATE_LIMIT_BACKEND=upstash against a real Redis (redis-server, started by test/global-setup.ts) behind the local
 * Upstash REST proxy (scripts/upstash-rest-proxy.mjs), through the real @upstash/ratelimit and @upstash/redis.
 */

const upstash = (() => {
  const provided = inject("upstash");
  if ("error" in provided) throw new Error(provided.error);
  return provided;
})();

function upstashEnv(overrides: Partial<Env> = {}): Env {
  return {
    ...env,
    RATE_LIMIT_BACKEND: "upstash",
    UPSTASH_REDIS_REST_URL: upstash.url,
    UPSTASH_REDIS_REST_TOKEN: upstash.token,
    ...overrides,
  };
}

function get(token: string, workerEnv: Env, path = "/v1/me") {
  const request = new Request(`http://uom.test${path}`, { headers: { authorization: `Bearer ${token}` } });
  return worker.fetch(request, workerEnv, createExecutionContext());
}

/** A command straight to the proxy, as Upstash's REST API takes it. */
async function redis(command: (string | number)[]): Promise<unknown> {
  const response = await fetch(upstash.url, {
    method: "POST",
    headers: { authorization: `Bearer ${upstash.token}` },
    body: JSON.stringify(command),
  });
  return ((await response.json()) as { result: unknown }).result;
}

let tenant: TestTenant;
beforeAll(async () => {
  tenant = await createTenant({ name: "Upstash" });
});

describe("the upstash backend", () => {
  it("is exact under concurrency: of 40 requests against a burst of 10, 10 pass; the bucket is in Redis", async () => {
    const key = await createKey(tenant, ["admin"]);
    await putRateLimit(tenant, { scope: "apiKey", apiKeyId: key.id, burst: 10, ratePerSecond: 0.001 });
    const responses = await Promise.all(Array.from({ length: 40 }, () => get(key.secret, upstashEnv())));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(10);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(30);
    await expectProblem(refused[0] as Response, 429, "RATE_LIMITED");
    expect(Number(refused[0]?.headers.get("retry-after"))).toBeGreaterThan(0);
    const admitted = rateLimitFields(responses.find((r) => r.status === 200) as Response);
    expect(admitted.policy).toEqual({ name: "api-key", q: 10, w: 10_000 });
    const keys = (await redis(["KEYS", "uom:rl:*"])) as string[];
    expect(keys.some((k) => k.endsWith(`key:${key.id}`))).toBe(true);
  });

  it("a sliding window too", async () => {
    const key = await createKey(tenant, ["admin"]);
    await putRateLimit(tenant, {
      scope: "apiKey",
      apiKeyId: key.id,
      algorithm: "sliding-window",
      burst: 7,
      ratePerSecond: 0.01,
    });
    const responses = await Promise.all(Array.from({ length: 30 }, () => get(key.secret, upstashEnv())));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(7);
  });

  it("a revoked key is still 401 at once (revocation stays in the key's Durable Object)", async () => {
    const key = await createKey(tenant, ["admin"]);
    expect((await get(key.secret, upstashEnv())).status).toBe(200);
    const revoke = new Request(`http://uom.test/v1/api-keys/${key.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${tenant.key}` },
    });
    expect((await worker.fetch(revoke, env, createExecutionContext())).status).toBe(204);
    await expectProblem(await get(key.secret, upstashEnv()), 401);
  });

  it("unreachable, it fails open by default (served, no RateLimit fields) or closed (503) when configured", async () => {
    const key = await createKey(tenant, ["admin"]);
    const down = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9", LOG_LEVEL: "silent" };
    const open = await get(key.secret, upstashEnv(down));
    expect(open.status).toBe(200);
    expect(open.headers.get("ratelimit")).toBeNull();
    const closed = await get(key.secret, upstashEnv({ ...down, RATE_LIMIT_FAILURE: "closed" }));
    await expectProblem(closed, 503, "RATE_LIMITER_UNAVAILABLE");
    // a wrong token is as unreachable as a closed port
    const refused = await get(
      key.secret,
      upstashEnv({ UPSTASH_REDIS_REST_TOKEN: "wrong", RATE_LIMIT_FAILURE: "closed" }),
    );
    await expectProblem(refused, 503, "RATE_LIMITER_UNAVAILABLE");
  });
});

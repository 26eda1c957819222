import { createExecutionContext, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { call, createKey, createTenant, expectProblem, type TestTenant } from "../helpers/api";
import { clientCredentials, createClient } from "../oauth/support";
import { putRateLimit, rateLimitFields } from "./support";

/** Access tokens' buckets (per client, per user) and the per-address limit of the endpoints without a credential. */

let tenant: TestTenant;
beforeAll(async () => {
  tenant = await createTenant({ name: "Clients" });
});

describe("access tokens", () => {
  it("a client's tokens share the client's bucket, under the tenant's policy", async () => {
    const client = await createClient(tenant);
    const [one, two] = [await clientCredentials(client), await clientCredentials(client)];
    expect((await putRateLimit(tenant, { burst: 3, ratePerSecond: 0.001 })).status).toBe(200);
    const statuses: number[] = [];
    for (const token of [one, two, one, two, one]) {
      const response = await call("GET", "/v1/me", { token: token.access_token });
      statuses.push(response.status);
      if (response.status === 200) expect(rateLimitFields(response).policy).toMatchObject({ name: "tenant", q: 3 });
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // the tenant's own key has a bucket of its own (it spent one request on the PUT)
    expect((await call("GET", "/v1/me", { token: tenant.key })).status).toBe(200);
  });
});

/** POST /oauth/token from an address, with the worker's per-address policy set to `burst` and a slow refill. */
function tokenRequest(address: string | null, burst: number) {
  const headers = new Headers({ "content-type": "application/x-www-form-urlencoded" });
  if (address) headers.set("cf-connecting-ip", address);
  const request = new Request("http://uom.test/oauth/token", {
    method: "POST",
    headers,
    body: "grant_type=client_credentials&client_id=cli_unknown&client_secret=nope",
  });
  const limited = { ...env, IP_RATE_LIMIT_BURST: String(burst), IP_RATE_LIMIT_PER_SECOND: "0.001" };
  return worker.fetch(request, limited, createExecutionContext());
}

describe("endpoints without a credential", () => {
  it("are limited per client address: exactly the burst passes, then 429 with Retry-After", async () => {
    const address = `198.51.100.${Math.floor(Math.random() * 200) + 1}`;
    const responses = await Promise.all(Array.from({ length: 12 }, () => tokenRequest(address, 5)));
    // the five that passed were refused as clients (401 invalid_client); the rest never reached the handler
    expect(responses.filter((r) => r.status === 401)).toHaveLength(5);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(7);
    await expectProblem(refused[0] as Response, 429, "RATE_LIMITED");
    expect(Number(refused[0]?.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(rateLimitFields(refused[0] as Response)).toMatchObject({ policy: { name: "ip", q: 5 }, state: { r: 0 } });
    // another address is not affected; an IPv6 address counts by its /64
    expect((await tokenRequest("203.0.113.9", 5)).status).toBe(401);
    for (let i = 1; i <= 2; i++) expect((await tokenRequest(`2001:db8:aa:bb::${i}`, 2)).status).toBe(401);
    expect((await tokenRequest("2001:db8:aa:bb:ffff::1", 2)).status).toBe(429);
  });

  it("public documents are not limited", async () => {
    const response = await call("GET", "/.well-known/jwks.json");
    expect(response.status).toBe(200);
    expect(response.headers.get("ratelimit")).toBeNull();
  });
});

describe("TRAFFIC_CONTROL=off (benchmarks only)", () => {
  it("no limit and no RateLimit fields; revocation still holds", async () => {
    const off = { ...env, TRAFFIC_CONTROL: "off" };
    // a tenant of its own: the token test above left this file's tenant at a burst of 3
    const own = await createTenant({ name: "Unmetered" });
    const key = await createKey(own, ["admin"]);
    expect(
      (await putRateLimit(own, { scope: "apiKey", apiKeyId: key.id, burst: 1, ratePerSecond: 0.001 })).status,
    ).toBe(200);
    const get = () =>
      worker.fetch(
        new Request("http://uom.test/v1/me", { headers: { authorization: `Bearer ${key.secret}` } }),
        off,
        createExecutionContext(),
      );
    for (let i = 0; i < 3; i++) {
      const response = await get();
      expect(response.status).toBe(200);
      expect(response.headers.get("ratelimit")).toBeNull();
    }
    expect((await call("DELETE", `/v1/api-keys/${key.id}`, { token: own.key })).status).toBe(204);
    expect((await get()).status).toBe(401);
  });
});

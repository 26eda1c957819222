import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createTenant, createUser } from "../helpers/api";

describe("response headers", () => {
  it("security headers on every kind of response: success, problem, unknown route, public route", async () => {
    const tenant = await createTenant();
    const user = await createUser(tenant);
    const responses = [
      await call("GET", "/health"),
      await call("GET", `/v1/users/${user.id}`, { token: tenant.key }),
      await call("GET", "/v1/users/usr_missing", { token: tenant.key }),
      await call("GET", "/nowhere"),
      await call("GET", "/v1/users"),
    ];
    for (const response of responses) {
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
      expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    }
  });

  it("responses that carry a secret are never stored by caches, replays included", async () => {
    const headers = { "idempotency-key": `tenant-${crypto.randomUUID()}` };
    const body = { name: "Secret carrier" };
    const first = await call("POST", "/v1/tenants", { token: ADMIN_TOKEN, body, headers });
    const replay = await call("POST", "/v1/tenants", { token: ADMIN_TOKEN, body, headers });
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.headers.get("cache-control")).toBe("no-store");

    const tenant = await createTenant();
    const user = await createUser(tenant);
    const enrolment = await call("POST", `/v1/users/${user.id}/mfa/totp`, { token: tenant.key });
    expect(enrolment.headers.get("cache-control")).toBe("no-store");
  });
});

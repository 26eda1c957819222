import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, tenantDatabase } from "../helpers/db";

const admin = { token: ADMIN_TOKEN };
let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Conventions" });
});

describe("X-Request-Id", () => {
  it("is on every response: success, problem, 404, 405, 304", async () => {
    const responses = [
      await call("GET", "/health"),
      await call("GET", "/v1/tenants", admin),
      await call("GET", "/v1/tenants"),
      await call("GET", "/nowhere"),
      await call("PUT", "/v1/users", { token: tenant.key }),
      await call("GET", `/v1/tenants/${tenant.id}`, { ...admin, headers: { "If-None-Match": '"v1"' } }),
    ];
    const ids = responses.map((r) => r.headers.get("x-request-id"));
    for (const id of ids) expect(id).toMatch(/^req_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("echoes a caller's sane id and replaces anything else", async () => {
    const mine = "trace-1234.abcd:EF_gh";
    const echoed = await call("GET", "/v1/tenants/ten_missing", { ...admin, headers: { "X-Request-Id": mine } });
    expect(echoed.headers.get("x-request-id")).toBe(mine);
    expect((await expectProblem(echoed, 404)).requestId).toBe(mine);

    for (const bad of ["short", "has spaces in it", "x".repeat(129), "semi;colon;value", "slash/not/allowed"]) {
      const replaced = await call("GET", "/health", { headers: { "X-Request-Id": bad } });
      expect(replaced.headers.get("x-request-id"), bad).toMatch(/^req_/);
    }
  });
});

describe("routing problems", () => {
  it("an unknown route → 404 NOT_FOUND problem", async () => {
    const problem = await expectProblem(await call("GET", "/v1/nothing-here"), 404, "NOT_FOUND");
    expect(problem).toMatchObject({ type: "urn:uom:problem:not-found", title: "Not found" });
    await expectProblem(await call("POST", "/v2/users", { token: tenant.key, body: {} }), 404, "NOT_FOUND");
  });

  it("a known path with another method → 405 METHOD_NOT_ALLOWED with Allow", async () => {
    const users = await call("PUT", "/v1/users", { token: tenant.key, body: {} });
    await expectProblem(users, 405, "METHOD_NOT_ALLOWED");
    expect(users.headers.get("allow")?.split(", ").sort()).toEqual(["GET", "HEAD", "POST"]);

    const one = await call("POST", `/v1/tenants/${tenant.id}`, { ...admin, body: {} });
    await expectProblem(one, 405, "METHOD_NOT_ALLOWED");
    expect(one.headers.get("allow")?.split(", ").sort()).toEqual(["DELETE", "GET", "HEAD", "PATCH"]);

    const health = await call("DELETE", "/health");
    await expectProblem(health, 405);
    expect(health.headers.get("allow")).toBe("GET, HEAD");
    expect((await call("HEAD", "/health")).status).toBe(200);
  });

  it("a trailing slash is another path: 404, not a 405 that names the very method used", async () => {
    for (const method of ["GET", "POST", "PUT"]) {
      const response = await call(method, "/v1/users/", { token: tenant.key });
      await expectProblem(response, 404, "NOT_FOUND");
      expect(response.headers.get("allow")).toBeNull();
    }
  });
});

describe("request bodies", () => {
  it("malformed JSON → 400 MALFORMED_JSON, nothing created", async () => {
    const before = await count(env.CONTROL_DB, "tenants");
    for (const raw of ["{", '{"name": "x",}', "nul", ""]) {
      const response = await call("POST", "/v1/tenants", {
        ...admin,
        rawBody: raw,
        headers: { "Content-Type": "application/json" },
      });
      const problem = await expectProblem(response, 400);
      if (raw !== "") expect(problem.code, raw).toBe("MALFORMED_JSON");
    }
    expect(await count(env.CONTROL_DB, "tenants")).toBe(before);
  });

  it("a body over 1 MB → 413 PAYLOAD_TOO_LARGE", async () => {
    const big = JSON.stringify({ name: "x".repeat(1024 * 1024) });
    const problem = await expectProblem(
      await call("POST", "/v1/tenants", { ...admin, rawBody: big, headers: { "Content-Type": "application/json" } }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    expect(problem.detail).toMatch(/1 MB/);
    // also without a Content-Length (a streamed body)
    const stream = new Blob([big]).stream();
    const streamed = await call("PATCH", `/v1/tenants/${tenant.id}`, {
      ...admin,
      rawBody: stream,
      headers: { "Content-Type": "application/json" },
    });
    await expectProblem(streamed, 413, "PAYLOAD_TOO_LARGE");
  });

  it("a content type the route does not take → 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
      await expectProblem(
        await call("POST", "/v1/tenants", { ...admin, rawBody: '{"name":"x"}', headers: { "Content-Type": type } }),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
      );
    }
    await expectProblem(
      await call("POST", "/v1/tenants", { ...admin, rawBody: '{"name":"x"}' }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
  });
});

describe("unexpected errors", () => {
  it("→ 500 INTERNAL with a generic detail that leaks nothing of the cause", async () => {
    const db = await tenantDatabase(tenant.id);
    await db.prepare("DROP TABLE users").run();
    const response = await call("GET", "/v1/users", { token: tenant.key });
    const problem = await expectProblem(response, 500, "INTERNAL");
    expect(problem.detail).toBe("Something went wrong on our side.");
    const text = JSON.stringify(problem);
    for (const leak of ["users", "SQLITE", "D1_ERROR", "no such table", "stack", ".ts"]) {
      expect(text, leak).not.toContain(leak);
    }
  });
});

describe("Idempotency-Key on POST /v1/tenants", () => {
  it("replays the first response for the same key and body, 409 for another body", async () => {
    const headers = { "Idempotency-Key": "create-replay-0001" };
    const body = { name: "Replayed" };
    const first = await call("POST", "/v1/tenants", { ...admin, body, headers });
    expect(first.status).toBe(201);
    const created = await json<{ id: string; apiKey: { secret: string } }>(first);
    const tenantsAfterFirst = await count(env.CONTROL_DB, "tenants");

    const again = await call("POST", "/v1/tenants", { ...admin, body, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect(again.headers.get("etag")).toBe(first.headers.get("etag"));
    expect(again.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"));
    expect(await json(again)).toEqual(created);
    expect(await count(env.CONTROL_DB, "tenants")).toBe(tenantsAfterFirst);

    const other = await call("POST", "/v1/tenants", { ...admin, body: { name: "Different" }, headers });
    await expectProblem(other, 409, "IDEMPOTENCY_KEY_REUSED");
    expect(await count(env.CONTROL_DB, "tenants")).toBe(tenantsAfterFirst);

    // keys are per scope: the same key in a tenant's scope is a fresh key there
    const elsewhere = await call("POST", "/v1/users", {
      token: created.apiKey.secret,
      body: { email: "idem@example.com" },
      headers,
    });
    expect(elsewhere.status).toBe(201);
    expect(elsewhere.headers.get("idempotent-replayed")).toBeNull();
  });

  it("a problem answer is replayed too, and no key is kept for a request that failed on our side", async () => {
    const headers = { "Idempotency-Key": "create-invalid-0001" };
    const first = await call("POST", "/v1/tenants", { ...admin, body: { name: "" }, headers });
    await expectProblem(first, 400, "VALIDATION_FAILED");
    const again = await call("POST", "/v1/tenants", { ...admin, body: { name: "" }, headers });
    expect(again.status).toBe(400);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });

  it("two concurrent requests with one key create one tenant; the other waits its turn (409) or replays", async () => {
    const before = await count(env.CONTROL_DB, "tenants");
    const send = () =>
      call("POST", "/v1/tenants", { ...admin, body: { name: "Raced" }, headers: { "Idempotency-Key": "race-0001" } });
    const [a, b] = await Promise.all([send(), send()]);
    expect(await count(env.CONTROL_DB, "tenants")).toBe(before + 1);
    const statuses = [a.status, b.status].sort();
    if (statuses[0] === 201 && statuses[1] === 201) {
      expect((await json<{ id: string }>(a)).id).toBe((await json<{ id: string }>(b)).id);
    } else {
      expect(statuses).toEqual([201, 409]);
      const loser = a.status === 409 ? a : b;
      await expectProblem(loser, 409, "IDEMPOTENCY_REQUEST_IN_PROGRESS");
    }
  });

  it("an invalid key → 400 and nothing is created", async () => {
    const before = await count(env.CONTROL_DB, "tenants");
    for (const key of ["k".repeat(300), "has space", ""]) {
      const problem = await expectProblem(
        await call("POST", "/v1/tenants", { ...admin, body: { name: "Bad key" }, headers: { "Idempotency-Key": key } }),
        400,
      );
      expect(problem.detail, JSON.stringify(key)).toMatch(/Idempotency-Key/);
    }
    expect(await count(env.CONTROL_DB, "tenants")).toBe(before);
  });
});

import { beforeAll, describe, expect, it, vi } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { count, tenantDatabase } from "../helpers/db";

/**
 * Plugins through the HTTP API in real workerd: per-tenant enablement, hooks in the users service (order, input
 * change, refusal that writes nothing, after-hooks retried through the plugin-tasks queue), events, routes under
 * /v1/plugins/<id>/, the narrowed context. The test plugins are registered in test/plugins/plugins.config.ts.
 */

let tenant: TestTenant;
let db: D1Database;

async function enable(id: string, config: Record<string, unknown> = {}, who = tenant) {
  const response = await call("PUT", `/v1/plugins/${id}`, { token: who.key, body: { enabled: true, config } });
  expect(response.status).toBe(200);
  return json<Record<string, unknown>>(response);
}

async function disable(id: string) {
  expect((await call("DELETE", `/v1/plugins/${id}`, { token: tenant.key })).status).toBe(204);
}

async function rows<T>(sql: string, ...params: unknown[]): Promise<T[]> {
  return (
    await db
      .prepare(sql)
      .bind(...params)
      .all<T>()
  ).results;
}

const log = (op: string) => rows<{ ref: string }>("SELECT ref FROM plugin_test_shape_log WHERE op = ?", op);

beforeAll(async () => {
  tenant = await createTenant({ name: "Plugins" });
  db = await tenantDatabase(tenant.id);
});

describe("enablement", () => {
  it("lists every compiled-in plugin, none enabled at first", async () => {
    const response = await call("GET", "/v1/plugins", { token: tenant.key });
    expect(response.status).toBe(200);
    const { data } = await json<{ data: { id: string; enabled: boolean; hooks: string[]; routes: string[] }[] }>(
      response,
    );
    expect(data.map((p) => p.id)).toEqual([
      "crm-sync",
      "oidc-login",
      "test-shape",
      "test-second",
      "test-flaky",
      "test-route",
    ]);
    expect(data.every((p) => !p.enabled)).toBe(true);
    expect(data.find((p) => p.id === "test-shape")).toMatchObject({
      hooks: expect.arrayContaining(["user.create.before", "user.create.after", "user.login.before"]),
      events: ["user.created"],
    });
    expect(data.find((p) => p.id === "test-route")?.routes).toEqual(["GET /v1/plugins/test-route/context"]);
  });

  it("validates the configuration with the plugin's schema and never returns its secrets", async () => {
    const bad = await call("PUT", "/v1/plugins/crm-sync", {
      token: tenant.key,
      body: { config: { url: "not a url", fieldMap: { password: "P" } } },
    });
    const problem = await expectProblem(bad, 400, "VALIDATION_FAILED");
    expect(problem.errors?.map((e) => e.field).sort()).toEqual(["config.fieldMap.password", "config.url"]);
    await expectProblem(
      await call("PUT", "/v1/plugins/nope", { token: tenant.key, body: {} }),
      404,
      "PLUGIN_NOT_FOUND",
    );

    const enabled = await enable("test-shape", { suffix: "a", token: "secret-token-1" });
    expect(enabled).toMatchObject({ enabled: true, config: { suffix: "a" }, secretsSet: ["token"] });
    expect(JSON.stringify(enabled)).not.toContain("secret-token-1");
    const stored = await rows<{ config: string; secrets_sealed: string }>(
      "SELECT config, secrets_sealed FROM plugin_settings WHERE plugin_id = 'test-shape'",
    );
    expect(JSON.stringify(stored)).not.toContain("secret-token-1");
    // a secret left out keeps its value
    const again = await enable("test-shape", { suffix: "a" });
    expect(again.secretsSet).toEqual(["token"]);
  });

  it("is a plan feature: a free tenant is refused", async () => {
    const free = await createTenant({ name: "Free plugins", plan: "free" });
    await expectProblem(await call("GET", "/v1/plugins", { token: free.key }), 403, "FEATURE_NOT_IN_PLAN");
  });
});

describe("hooks", () => {
  it("run in registration order, each seeing the input the previous one left", async () => {
    await enable("test-shape", { suffix: "a" });
    await enable("test-second");
    const user = await createUser(tenant, {
      email: uniqueEmail("x").replace("example.com", "shout.test"),
      name: "Ada",
    });
    expect(user).toMatchObject({ name: "ADA", attributes: { stamp: "ab" } });
  });

  it("a refusal is a problem and nothing is written", async () => {
    const before = await count(db, "users");
    const audit = await count(db, "audit_events");
    const email = uniqueEmail("blocked");
    const response = await call("POST", "/v1/users", {
      token: tenant.key,
      body: { email, attributes: { blockMe: true } },
    });
    const problem = await expectProblem(response, 403, "HOOK_REJECTED");
    expect(problem.detail).toBe("Blocked by test-shape.");
    expect(await count(db, "users")).toBe(before);
    expect(await count(db, "audit_events")).toBe(audit);

    const user = await createUser(tenant, { attributes: { undeletable: true } });
    await expectProblem(await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key }), 403, "HOOK_REJECTED");
    const patch = { attributes: { locked: true } };
    await expectProblem(await call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: patch }), 403);
    const current = await json<{ status: string; attributes: Record<string, unknown> }>(
      await call("GET", `/v1/users/${user.id}`, { token: tenant.key }),
    );
    expect(current.status).toBe("active");
    expect(current.attributes.locked).toBeUndefined();
  });

  it("hooks bulk items one by one: a refused item fails alone", async () => {
    const response = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: {
        operations: [
          { op: "create", data: { email: uniqueEmail("bulk") } },
          { op: "create", data: { email: uniqueEmail("bulk"), attributes: { blockMe: true } } },
        ],
      },
    });
    const { results } = await json<{ results: { status: number; id?: string; error?: { code: string } }[] }>(response);
    expect(results.map((r) => r.status)).toEqual([201, 403]);
    expect(results[1]?.error?.code).toBe("HOOK_REJECTED");
    const created = await json<{ attributes: Record<string, unknown> }>(
      await call("GET", `/v1/users/${results[0]?.id}`, { token: tenant.key }),
    );
    expect(created.attributes.stamp).toBe("ab");
  });

  it("after-hooks run once the change is committed; a failing one is retried from the queue, the change kept", async () => {
    await enable("test-flaky");
    const user = await createUser(tenant);
    const attempts = () =>
      rows<{ attempt: number }>("SELECT attempt FROM plugin_test_flaky_attempts WHERE user_id = ?", user.id);
    await vi.waitFor(async () => expect((await attempts()).map((a) => a.attempt)).toEqual([1, 2]), {
      timeout: 15_000,
      interval: 100,
    });
    expect((await call("GET", `/v1/users/${user.id}`, { token: tenant.key })).status).toBe(200);
    await vi.waitFor(async () => expect((await log("user.create.after")).map((r) => r.ref)).toContain(user.id));
    await disable("test-flaky");
  });

  it("event handlers run from the queue, once per event", async () => {
    const user = await createUser(tenant);
    const [event] = await rows<{ id: string }>(
      "SELECT id FROM outbox_events WHERE type = 'user.created' AND subject_id = ?",
      user.id,
    );
    await vi.waitFor(async () => expect((await log("event:user.created")).map((r) => r.ref)).toContain(event?.id), {
      timeout: 15_000,
      interval: 100,
    });
    expect((await log("event:user.created")).filter((r) => r.ref === event?.id)).toHaveLength(1);
  });

  it("a disabled plugin is inert: no hooks, its routes 403 PLUGIN_NOT_ENABLED", async () => {
    await disable("test-shape");
    await disable("test-second");
    const user = await createUser(tenant, { attributes: { blockMe: true } });
    expect(user.attributes).toEqual({ blockMe: true });
    await enable("test-route");
    expect((await call("GET", "/v1/plugins/test-route/context", { token: tenant.key })).status).toBe(200);
    await disable("test-route");
    const route = await call("GET", "/v1/plugins/test-route/context", { token: tenant.key });
    await expectProblem(route, 403, "PLUGIN_NOT_ENABLED");
    const listed = await json<{ data: { id: string; enabled: boolean; config: unknown }[] }>(
      await call("GET", "/v1/plugins", { token: tenant.key }),
    );
    expect(listed.data.find((p) => p.id === "test-shape")).toMatchObject({ enabled: false, config: { suffix: "a" } });
  });
});

describe("routes and context", () => {
  it("mounts plugin routes under /v1/plugins/<id>/ in the OpenAPI document, with their permission and feature", async () => {
    const doc = await json<{ paths: Record<string, Record<string, Record<string, unknown>>> }>(
      await call("GET", "/v1/openapi.json"),
    );
    expect(doc.paths["/v1/plugins/crm-sync/sync"]?.post).toMatchObject({
      tags: ["Plugins"],
      "x-permission": "plugins.crm-sync:sync",
      "x-plan-feature": "plugins",
    });
    expect(doc.paths["/v1/plugins/test-route/context"]?.get?.["x-permission"]).toBe("plugins.test-route:read");
  });

  it("needs the plugin's permission, which GET /v1/permissions lists and a custom role can grant", async () => {
    await enable("test-route", { token: "secret-token-2" });
    const manager = await call("POST", "/v1/api-keys", { token: tenant.key, body: { name: "m", roles: ["manager"] } });
    const managerKey = (await json<{ secret: string }>(manager)).secret;
    await expectProblem(await call("GET", "/v1/plugins/test-route/context", { token: managerKey }), 403, "FORBIDDEN");
    const catalogue = await json<{ data: { permission: string; description?: string; routes?: string[] }[] }>(
      await call("GET", "/v1/permissions", { token: tenant.key }),
    );
    expect(catalogue.data.find((e) => e.permission === "plugins.test-route:read")).toMatchObject({
      description: expect.any(String),
      routes: ["GET /v1/plugins/test-route/context"],
    });
    const role = await call("POST", "/v1/roles", {
      token: tenant.key,
      body: { name: "plugin-reader", permissions: ["plugins.test-route:read"] },
    });
    expect(role.status).toBe(201);
  });

  it("gives a plugin a narrowed context: no env, only its own tables", async () => {
    const response = await call("GET", "/v1/plugins/test-route/context", { token: tenant.key });
    expect(response.status).toBe(200);
    const context = await json<Record<string, unknown>>(response);
    expect(context).toMatchObject({
      keys: ["config", "db", "fetch", "log", "open", "pluginId", "seal", "sessions", "tenantId", "users"],
      tenantId: tenant.id,
      config: { token: "secret-token-2" },
      hasEnv: false,
      ownTable: "read",
      sealed: "round trip",
    });
    // "users" is the plugin's own (absent) plugin_test_route_users, never the users table
    expect(context.usersTable).toMatch(/no such table: plugin_test_route_users/);
    expect(context.injected).toMatch(/not a valid table name/);
  });
});

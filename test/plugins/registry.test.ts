import { describe, expect, it } from "vitest";
import { definePlugin, z } from "../../src/core/plugins";
import type { AnyPlugin } from "../../src/core/plugins/define";
import { buildPluginRegistry } from "../../src/core/plugins/registry";
import { PLUGINS } from "./plugins.config";

/** The registry refuses, at startup, every plugin list that conflicts; here called as the app calls it. */

const config = { schema: z.object({}) };
const ok = (response: Response) => response;

function plugin(overrides: Partial<AnyPlugin> & { id: string }): AnyPlugin {
  return definePlugin({ version: "1.0.0", description: "x", config, ...overrides }) as AnyPlugin;
}

const route = (path: string, permission = "plugins:read") => ({
  method: "get" as const,
  path,
  summary: "x",
  access: { credential: "tenant" as const, permission },
  responses: { 200: { description: "x" } },
  handler: async () => ok(new Response("x")),
});

function refusal(plugins: AnyPlugin[], core: { method: string; path: string }[] = []): string {
  try {
    buildPluginRegistry(plugins, core);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("the registry accepted it");
}

describe("buildPluginRegistry", () => {
  it("accepts the registered plugins and indexes their hooks, events and permissions", () => {
    const registry = buildPluginRegistry(PLUGINS, [{ method: "get", path: "/v1/plugins" }]);
    expect(registry.hooked("user.create", "before").map((p) => p.id)).toEqual(["test-shape", "test-second"]);
    expect(registry.hooked("user.create", "after").map((p) => p.id)).toEqual(["test-shape", "test-flaky"]);
    expect(registry.handling("user.updated").map((p) => p.id)).toEqual(["crm-sync"]);
    expect(registry.permissions.get("plugins.crm-sync:sync")).toEqual(expect.any(String));
  });

  it("refuses a duplicate id", () => {
    expect(refusal([plugin({ id: "dup" }), plugin({ id: "dup" })])).toMatch(/plugin dup: registered twice/);
  });

  it("refuses a route that conflicts with a core route, and a route twice", () => {
    const core = [{ method: "get", path: "/v1/plugins/{id}/status" }];
    expect(refusal([plugin({ id: "a", routes: [route("/status")] })], core)).toMatch(
      /route GET \/v1\/plugins\/a\/status conflicts with GET \/v1\/plugins\/\{id\}\/status/,
    );
    expect(refusal([plugin({ id: "b", routes: [route("/x/{id}"), route("/x/{other}")] })])).toMatch(/conflicts with/);
    expect(refusal([plugin({ id: "c", routes: [route("no-slash")] })])).toMatch(/route path 'no-slash'/);
  });

  it("refuses unknown hook operation ids", () => {
    const hooks = { "user.created": { before: () => undefined } } as unknown as AnyPlugin["hooks"];
    expect(refusal([plugin({ id: "h", ...(hooks ? { hooks } : {}) })])).toMatch(
      /unknown hook operation 'user.created'/,
    );
  });

  it("refuses permissions that clash with core ones or are not namespaced, and routes needing undeclared ones", () => {
    expect(refusal([plugin({ id: "p", permissions: { "users:read": "x" } })])).toMatch(
      /users:read is a core permission/,
    );
    expect(refusal([plugin({ id: "p", permissions: { "other:read": "x" } })])).toMatch(/must be namespaced plugins.p/);
    expect(refusal([plugin({ id: "p", routes: [route("/r", "plugins.p:read")] })])).toMatch(
      /neither core nor the plugin/,
    );
    expect(
      refusal([
        plugin({ id: "p", permissions: { "plugins.p:read": "x" } }),
        plugin({ id: "q", permissions: { "plugins.p:read": "x" } }),
      ]),
    ).toMatch(/must be namespaced plugins.q/);
  });

  it("refuses a schema outside the plugin's tables, bad ids and versions", () => {
    const schema = [{ version: 1, statements: ["CREATE TABLE users_copy (id TEXT)"] }];
    expect(refusal([plugin({ id: "s", schema })])).toMatch(/'users_copy' is outside the plugin's tables/);
    const trigger = [{ version: 1, statements: ["CREATE TRIGGER t AFTER INSERT ON users BEGIN SELECT 1; END"] }];
    expect(refusal([plugin({ id: "s", schema: trigger })])).toMatch(/not a CREATE TABLE/);
    const reference = [{ version: 1, statements: ["CREATE TABLE plugin_s_x (u TEXT REFERENCES users (id))"] }];
    expect(refusal([plugin({ id: "s", schema: reference })])).toMatch(/'users' is outside/);
    expect(refusal([plugin({ id: "Bad_Id" })])).toMatch(/lowercase kebab-case/);
    expect(refusal([plugin({ id: "v", version: "one" })])).toMatch(/not a semantic version/);
  });
});

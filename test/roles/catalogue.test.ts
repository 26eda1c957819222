import { beforeAll, describe, expect, it } from "vitest";
import { CAPABILITIES, PERMISSIONS } from "../../src/core/auth/permissions";
import { pluginRegistry } from "../../src/core/plugins/active";
import { call, createTenant, json, type TestTenant } from "../helpers/api";

/**
 * The permission catalogue is the route table: PERMISSIONS holds exactly what routes declare (none unused,
 * none missing), and GET /v1/permissions lists those routes, the capabilities and the tenant's field grants.
 */

interface Entry {
  permission: string;
  kind: "route" | "capability" | "field";
  description?: string;
  routes?: string[];
  field?: string;
  restricted?: boolean;
}

let tenant: TestTenant;
let declared: Map<string, string[]>;

beforeAll(async () => {
  tenant = await createTenant({ name: "Catalogue" });
  const doc = await json<{ paths: Record<string, Record<string, { "x-permission"?: string }>> }>(
    await call("GET", "/v1/openapi.json"),
  );
  declared = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const permission = op["x-permission"];
      if (!permission) continue;
      declared.set(permission, [...(declared.get(permission) ?? []), `${method.toUpperCase()} ${path}`]);
    }
  }
});

async function catalogue(token = tenant.key): Promise<Entry[]> {
  const response = await call("GET", "/v1/permissions", { token });
  expect(response.status).toBe(200);
  return (await json<{ data: Entry[] }>(response)).data;
}

describe("PERMISSIONS", () => {
  it("is exactly the set of permissions routes declare: none unused, none undeclared", () => {
    // the core's, and those the registered plugins declare (docs/plugins.md)
    const known = [...PERMISSIONS, ...pluginRegistry().permissions.keys()];
    const unused = known.filter((p) => !declared.has(p));
    expect(unused).toEqual([]);
    expect([...declared.keys()].filter((p) => !known.includes(p))).toEqual([]);
    // the roles routes themselves are part of it
    for (const p of ["me:read", "roles:read", "roles:write", "roles:assign"]) expect(declared.has(p)).toBe(true);
  });
});

describe("GET /v1/permissions", () => {
  it("lists every declared permission with its routes, taken from the route table", async () => {
    const routes = (await catalogue()).filter((e) => e.kind === "route");
    expect(new Map(routes.map((e) => [e.permission, e.routes]))).toEqual(
      new Map([...declared].map(([p, list]) => [p, [...list].sort()])),
    );
    expect(routes.find((e) => e.permission === "users:read")).toMatchObject({
      description: expect.any(String),
      routes: expect.arrayContaining(["GET /v1/users", "GET /v1/users/{id}"]),
    });
    expect(routes.find((e) => e.permission === "roles:write")?.routes).toEqual([
      "DELETE /v1/roles/{name}",
      "PATCH /v1/roles/{name}",
      "POST /v1/roles",
    ]);
  });

  it("lists the capabilities and the field grants of email, phone and each custom field", async () => {
    const before = await catalogue();
    expect(before.filter((e) => e.kind === "capability").map((e) => e.permission)).toEqual([...CAPABILITIES]);
    expect(before.filter((e) => e.kind === "field")).toEqual([
      expect.objectContaining({ permission: "users.email:read", field: "email", restricted: true }),
      expect.objectContaining({ permission: "users.email:write", field: "email", restricted: true }),
      expect.objectContaining({ permission: "users.phone:read", field: "phone", restricted: true }),
      expect.objectContaining({ permission: "users.phone:write", field: "phone", restricted: true }),
    ]);

    for (const body of [
      { name: "salary", type: "number", pii: true },
      { name: "team", type: "string" },
    ]) {
      expect((await call("POST", "/v1/schema/fields", { token: tenant.key, body })).status).toBe(201);
    }
    const fields = (await catalogue()).filter((e) => e.kind === "field");
    expect(fields.map((e) => [e.permission, e.restricted])).toEqual([
      ["users.email:read", true],
      ["users.email:write", true],
      ["users.phone:read", true],
      ["users.phone:write", true],
      ["users.attributes.salary:read", true],
      ["users.attributes.salary:write", true],
      ["users.attributes.team:read", false],
      ["users.attributes.team:write", false],
    ]);
    // another tenant's fields are its own
    const other = await createTenant({ name: "Catalogue 2" });
    expect((await catalogue(other.key)).filter((e) => e.kind === "field")).toHaveLength(4);
  });

  it("is readable with roles:read (manager), not without (basic)", async () => {
    const manager = await call("POST", "/v1/api-keys", { token: tenant.key, body: { name: "m", roles: ["manager"] } });
    const basic = await call("POST", "/v1/api-keys", { token: tenant.key, body: { name: "b", roles: ["basic"] } });
    const managerKey = (await json<{ secret: string }>(manager)).secret;
    const basicKey = (await json<{ secret: string }>(basic)).secret;
    expect((await call("GET", "/v1/permissions", { token: managerKey })).status).toBe(200);
    expect((await call("GET", "/v1/permissions", { token: basicKey })).status).toBe(403);
  });
});

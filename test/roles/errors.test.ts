import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { dumpDatabase, tenantDatabase } from "../helpers/db";
import { createClient } from "../oauth/support";
import { createRole, keyWith, patchRole, uniqueRoleName } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Role errors" });
  expect(
    (await call("POST", "/v1/schema/fields", { token: tenant.key, body: { name: "salary", type: "number" } })).status,
  ).toBe(201);
});

/** Runs the request and checks that the tenant's database is unchanged (no role, no audit row). */
async function changesNothing<T>(action: () => Promise<T>): Promise<T> {
  const db = await tenantDatabase(tenant.id);
  const before = await dumpDatabase(db);
  const result = await action();
  expect(await dumpDatabase(db)).toBe(before);
  return result;
}

function post(body: unknown) {
  return call("POST", "/v1/roles", { token: tenant.key, body });
}

describe("bad input → 400 with one entry per field, nothing created", () => {
  const cases: [string, unknown, string[]][] = [
    ["an upper-case name", { name: "Support", permissions: [] }, ["name"]],
    ["a name starting with a digit", { name: "1st", permissions: [] }, ["name"]],
    ["a name with a dot", { name: "a.b", permissions: [] }, ["name"]],
    ["a name of 65 characters", { name: `a${"b".repeat(64)}`, permissions: [] }, ["name"]],
    ["no permissions", { name: "x" }, ["permissions"]],
    ["permissions not a list", { name: "x", permissions: "users:read" }, ["permissions"]],
    ["an unknown member", { name: "x", permissions: [], scopes: [] }, ["scopes"]],
    ["a grant without an action", { name: "x", permissions: ["users:read", "users"] }, ["permissions.1"]],
    ["a wildcard in the middle", { name: "x", permissions: ["users.*.email:read"] }, ["permissions.0"]],
    ["a grant that grants nothing", { name: "x", permissions: ["widgets:read"] }, ["permissions.0"]],
    ["an action nothing has", { name: "x", permissions: ["users:fly"] }, ["permissions.0"]],
    [
      "a field grant of an undeclared field",
      { name: "x", permissions: ["users.attributes.bonus:read"] },
      ["permissions.0"],
    ],
    ["a field grant of a core field without one", { name: "x", permissions: ["users.name:read"] }, ["permissions.0"]],
    ["a field grant with a bad action", { name: "x", permissions: ["users.attributes.*:delete"] }, ["permissions.0"]],
    [
      "several bad grants",
      { name: "x", permissions: ["users:read", "nope", "users:read", "billing:*"] },
      ["permissions.1", "permissions.3"],
    ],
  ];
  for (const [what, body, fields] of cases) {
    it(what, async () => {
      await changesNothing(async () => {
        const problem = await expectProblem(await post(body), 400, "VALIDATION_FAILED");
        expect(problem.errors?.map((e) => e.field)).toEqual(fields);
      });
    });
  }

  it("says what is wrong with a grant", async () => {
    const problem = await expectProblem(await post({ name: "x", permissions: ["users", "widgets:read"] }), 400);
    expect(problem.errors).toEqual([
      { field: "permissions.0", code: "invalid_grant", detail: expect.stringContaining("resource:action") },
      { field: "permissions.1", code: "unknown_grant", detail: expect.stringContaining("grants nothing") },
    ]);
  });

  it("accepts real grants: permissions, capabilities, field grants and patterns covering something", async () => {
    const role = await createRole(tenant, [
      "users:*",
      "users.email:read",
      "users.phone:*",
      "users.attributes.salary:write",
      "users.attributes.*:read",
      "users.*:read",
      "sub-accounts:act",
      "audit:*",
    ]);
    expect(role.permissions).toHaveLength(8);
    expect((await createRole(tenant, ["*"])).permissions).toEqual(["*"]);
  });

  it("PATCH: the same checks on the grants, and an unknown member or a new name is refused", async () => {
    const role = await createRole(tenant, ["users:read"]);
    await changesNothing(async () => {
      const bad = await expectProblem(await patchRole(tenant, role.name, { permissions: ["x:y"] }), 400);
      expect(bad.errors?.map((e) => e.field)).toEqual(["permissions.0"]);
      const renamed = await expectProblem(await patchRole(tenant, role.name, { name: "other" }), 400);
      expect(renamed.errors?.map((e) => e.field)).toEqual(["name"]);
    });
  });
});

describe("conflicts", () => {
  it("a taken name → 409 ROLE_EXISTS, also when a SCIM group has it as displayName", async () => {
    const role = await createRole(tenant, ["users:read"]);
    await changesNothing(async () => {
      await expectProblem(await post({ name: role.name, permissions: [] }), 409, "ROLE_EXISTS");
    });
    const group = await call("POST", "/scim/v2/Groups", {
      token: tenant.key,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "night-shift" },
    });
    expect(group.status).toBe(201);
    await changesNothing(async () => {
      await expectProblem(await post({ name: "night-shift", permissions: [] }), 409, "ROLE_EXISTS");
    });
  });

  it("built-in roles cannot be created, changed or deleted: 409 BUILT_IN_ROLE", async () => {
    await changesNothing(async () => {
      for (const name of ["admin", "manager", "basic", "scim"]) {
        await expectProblem(await post({ name, permissions: [] }), 409, "BUILT_IN_ROLE");
        await expectProblem(await patchRole(tenant, name, { description: "mine" }), 409, "BUILT_IN_ROLE");
        await expectProblem(await call("DELETE", `/v1/roles/${name}`, { token: tenant.key }), 409, "BUILT_IN_ROLE");
      }
    });
  });

  it("a role held by a user, an API key or an OAuth client → 409 ROLE_IN_USE with the counts", async () => {
    const role = await createRole(tenant, ["users:read"]);
    const user = await createUser(tenant, { roles: [role.name] });
    await keyWith(tenant, [role.name]);
    await createClient(tenant, { roles: [role.name] });
    await changesNothing(async () => {
      const problem = await expectProblem(
        await call("DELETE", `/v1/roles/${role.name}`, { token: tenant.key }),
        409,
        "ROLE_IN_USE",
      );
      expect(problem).toMatchObject({ holders: { users: 1, apiKeys: 1, oauthClients: 1 } });
    });
    // a soft-deleted user still holds it (a restore gives it back)
    expect((await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key })).status).toBe(200);
    const still = await expectProblem(await call("DELETE", `/v1/roles/${role.name}`, { token: tenant.key }), 409);
    expect(still).toMatchObject({ holders: { users: 1 } });
  });

  it("once nobody holds it (key revoked, user's roles changed), it can go", async () => {
    const role = await createRole(tenant, ["users:read"]);
    const user = await createUser(tenant, { roles: [role.name, "basic"] });
    const created = await call("POST", "/v1/api-keys", { token: tenant.key, body: { name: "k", roles: [role.name] } });
    const { id: keyId } = await json<{ id: string }>(created);
    await expectProblem(await call("DELETE", `/v1/roles/${role.name}`, { token: tenant.key }), 409, "ROLE_IN_USE");
    expect((await call("DELETE", `/v1/api-keys/${keyId}`, { token: tenant.key })).status).toBe(204);
    const put = await call("PUT", `/v1/users/${user.id}/roles`, { token: tenant.key, body: { roles: ["basic"] } });
    expect(put.status).toBe(200);
    expect((await call("DELETE", `/v1/roles/${role.name}`, { token: tenant.key })).status).toBe(204);
  });
});

describe("unknown roles", () => {
  it("GET, PATCH and DELETE of a role nobody defined → 404 ROLE_NOT_FOUND", async () => {
    const name = uniqueRoleName("ghost");
    await expectProblem(await call("GET", `/v1/roles/${name}`, { token: tenant.key }), 404, "ROLE_NOT_FOUND");
    await changesNothing(async () => {
      await expectProblem(await patchRole(tenant, name, { description: "x" }), 404, "ROLE_NOT_FOUND");
      await expectProblem(await call("DELETE", `/v1/roles/${name}`, { token: tenant.key }), 404, "ROLE_NOT_FOUND");
    });
  });

  it("API keys and OAuth clients take only defined roles (400 roles.<i>)", async () => {
    await changesNothing(async () => {
      const key = await expectProblem(
        await call("POST", "/v1/api-keys", { token: tenant.key, body: { name: "k", roles: ["basic", "ghost-role"] } }),
        400,
      );
      expect(key.errors).toEqual([{ field: "roles.1", code: "unknown_role", detail: "No role 'ghost-role'." }]);
      const client = await expectProblem(
        await call("POST", "/v1/oauth/clients", {
          token: tenant.key,
          body: { name: "c", grantTypes: ["client_credentials"], roles: ["ghost-role"] },
        }),
        400,
      );
      expect(client.errors?.map((e) => e.field)).toEqual(["roles.0"]);
    });
  });

  it("PUT /v1/users/{id}/roles: 404 for an unknown user, 400 for a malformed role name", async () => {
    const user = await createUser(tenant);
    await changesNothing(async () => {
      await expectProblem(
        await call("PUT", "/v1/users/usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A/roles", { token: tenant.key, body: { roles: [] } }),
        404,
        "USER_NOT_FOUND",
      );
      const bad = await expectProblem(
        await call("PUT", `/v1/users/${user.id}/roles`, { token: tenant.key, body: { roles: ["Admin!"] } }),
        400,
      );
      expect(bad.errors?.map((e) => e.field)).toEqual(["roles.0"]);
    });
  });
});

import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createTenant, createUser, expectProblem, json } from "../helpers/api";
import { dumpDatabase, tenantDatabase } from "../helpers/db";
import { clientCredentials, createClient, createLoginUser, PASSWORD, passwordGrant } from "../oauth/support";
import { createRole, keyWith, setPlan } from "./support";

/**
 * Roles on every plan (the built-in ones, assignment, the catalogue); custom roles from pro on. A downgrade keeps
 * the custom roles' definitions, which then grant nothing — to keys, clients and users alike.
 */

describe("a free tenant", () => {
  it("cannot write custom roles: 403 FEATURE_NOT_IN_PLAN, requiredPlan pro, nothing written", async () => {
    const tenant = await createTenant({ name: "Free roles", plan: "free" });
    const db = await tenantDatabase(tenant.id);
    const before = await dumpDatabase(db);
    const created = await expectProblem(
      await call("POST", "/v1/roles", { token: tenant.key, body: { name: "support", permissions: ["users:read"] } }),
      403,
      "FEATURE_NOT_IN_PLAN",
    );
    expect(created).toMatchObject({ feature: "custom-roles", plan: "free", requiredPlan: "pro" });
    for (const method of ["PATCH", "DELETE"]) {
      const response = await call(method, "/v1/roles/support", { token: tenant.key, body: { description: "x" } });
      await expectProblem(response, 403, "FEATURE_NOT_IN_PLAN");
    }
    expect(await dumpDatabase(db)).toBe(before);
  });

  it("reads the roles, the catalogue and itself, and assigns built-in roles", async () => {
    const tenant = await createTenant({ name: "Free reads", plan: "free" });
    const roles = await call("GET", "/v1/roles", { token: tenant.key });
    expect(roles.status).toBe(200);
    expect((await json<{ data: { name: string }[] }>(roles)).data.map((r) => r.name)).toEqual([
      "admin",
      "manager",
      "basic",
      "scim",
    ]);
    expect((await call("GET", "/v1/roles/basic", { token: tenant.key })).status).toBe(200);
    expect((await call("GET", "/v1/permissions", { token: tenant.key })).status).toBe(200);
    expect(await json(await call("GET", "/v1/me", { token: tenant.key }))).toMatchObject({
      tenant: { id: tenant.id, plan: "free" },
      permissions: ["*"],
    });
    const user = await createUser(tenant);
    const put = await call("PUT", `/v1/users/${user.id}/roles`, { token: tenant.key, body: { roles: ["manager"] } });
    expect(put.status).toBe(200);
    expect(await json(await call("GET", `/v1/users/${user.id}/permissions`, { token: tenant.key }))).toMatchObject({
      roles: ["manager"],
      permissions: expect.arrayContaining(["users:read", "roles:assign"]),
    });
  });
});

describe("a downgrade", () => {
  it("keeps custom roles but they grant nothing until the plan has them again", async () => {
    const tenant = await createTenant({ name: "Downgrade" });
    const role = await createRole(tenant, ["users:read", "me:read"]);
    const key = await keyWith(tenant, [role.name]);
    const client = await createClient(tenant, { grantTypes: ["client_credentials", "password"], roles: [role.name] });
    const user = await createLoginUser(tenant, [role.name]);
    expect((await call("GET", "/v1/users?limit=1", { token: key })).status).toBe(200);
    expect((await clientCredentials(client)).scope).toBe("users:read me:read");

    await setPlan(tenant.id, "free", ADMIN_TOKEN);
    await expectProblem(await call("GET", "/v1/users?limit=1", { token: key }), 403, "FORBIDDEN");
    expect((await clientCredentials(client)).scope).toBe("");
    expect((await passwordGrant(client, user.email, PASSWORD)).scope).toBe("");
    // still listed, still known (keys may be given it), granting nothing
    const listed = await json<{ data: { name: string; permissions: string[] }[] }>(
      await call("GET", "/v1/roles", { token: tenant.key }),
    );
    expect(listed.data.find((r) => r.name === role.name)?.permissions).toEqual(["users:read", "me:read"]);
    expect(await json(await call("GET", `/v1/users/${user.id}/permissions`, { token: tenant.key }))).toMatchObject({
      roles: [role.name],
      permissions: [],
    });
    expect(
      (await call("POST", "/v1/api-keys", { token: tenant.key, body: { name: "k", roles: [role.name] } })).status,
    ).toBe(201);

    await setPlan(tenant.id, "pro", ADMIN_TOKEN);
    expect((await call("GET", "/v1/users?limit=1", { token: key })).status).toBe(200);
  });

  it("does not let a free-plan manager hand out a custom role it could not hold after an upgrade", async () => {
    const tenant = await createTenant({ name: "Downgrade rights" });
    const superuser = await createRole(tenant, ["*"]);
    await setPlan(tenant.id, "free", ADMIN_TOKEN);
    const manager = await keyWith(tenant, ["manager"]);
    const user = await createUser(tenant, { roles: ["basic"] });
    await expectProblem(
      await call("PUT", `/v1/users/${user.id}/roles`, { token: manager, body: { roles: [superuser.name] } }),
      403,
      "USER_BEYOND_RIGHTS",
    );
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { dumpDatabase, tenantDatabase } from "../helpers/db";

/**
 * A credential manages users only within its rights (users.rights.ts): a `manager` cannot make anyone an admin,
 * nor touch an admin's account — else it could set an admin's password and sign in as them.
 */
let tenant: TestTenant;
let manager: string;

beforeAll(async () => {
  tenant = await createTenant({ name: "Rights" });
  const created = await call("POST", "/v1/api-keys", {
    token: tenant.key,
    body: { name: "Support desk", roles: ["manager"] },
  });
  expect(created.status).toBe(201);
  manager = (await json<{ secret: string }>(created)).secret;
});

async function unchanged(action: () => Promise<Response>) {
  const db = await tenantDatabase(tenant.id);
  const before = await dumpDatabase(db);
  const problem = await expectProblem(await action(), 403, "USER_BEYOND_RIGHTS");
  expect(await dumpDatabase(db)).toBe(before);
  return problem;
}

describe("a manager", () => {
  it("creates and edits users within its rights", async () => {
    const created = await call("POST", "/v1/users", {
      token: manager,
      body: { email: uniqueEmail(), roles: ["basic"], password: "a fine password 1" },
    });
    expect(created.status).toBe(201);
    const { id } = await json<{ id: string }>(created);
    const promoted = await call("PATCH", `/v1/users/${id}`, { token: manager, body: { roles: ["manager"] } });
    expect(promoted.status).toBe(200);
  });

  it("cannot create an admin, or promote someone to admin (single and bulk)", async () => {
    const problem = await unchanged(() =>
      call("POST", "/v1/users", { token: manager, body: { email: uniqueEmail(), roles: ["admin"] } }),
    );
    expect(problem.detail).toContain("admin");
    const user = await createUser(tenant, { roles: ["basic"] });
    await unchanged(() => call("PATCH", `/v1/users/${user.id}`, { token: manager, body: { roles: ["admin"] } }));

    const bulk = await call("POST", "/v1/users/bulk", {
      token: manager,
      body: {
        operations: [
          { op: "create", data: { email: uniqueEmail(), roles: ["basic"] } },
          { op: "create", data: { email: uniqueEmail(), roles: ["admin"] } },
        ],
      },
    });
    expect(bulk.status).toBe(200);
    const { results } = await json<{ results: { status: number; error?: { code: string } }[] }>(bulk);
    expect(results.map((r) => r.status)).toEqual([201, 403]);
    expect(results[1]?.error?.code).toBe("USER_BEYOND_RIGHTS");
  });

  it("cannot change, re-password, re-enrol, delete or purge an admin's account", async () => {
    const admin = await createUser(tenant, { roles: ["admin"], password: "the admin's password" });
    await unchanged(() => call("PATCH", `/v1/users/${admin.id}`, { token: manager, body: { name: "Mallory" } }));
    await unchanged(() =>
      call("POST", `/v1/users/${admin.id}/password`, { token: manager, body: { password: "taken over now" } }),
    );
    await unchanged(() => call("POST", `/v1/users/${admin.id}/mfa/totp`, { token: manager, body: {} }));
    await unchanged(() => call("DELETE", `/v1/users/${admin.id}`, { token: manager }));
    await unchanged(() => call("DELETE", `/v1/users/${admin.id}?permanent=true`, { token: manager }));
    // reading is within its rights
    expect((await call("GET", `/v1/users/${admin.id}`, { token: manager })).status).toBe(200);
    // and the tenant's admin key may do all of it
    expect((await call("PATCH", `/v1/users/${admin.id}`, { token: tenant.key, body: { name: "Ada" } })).status).toBe(
      200,
    );
  });
});

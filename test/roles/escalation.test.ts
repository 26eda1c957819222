import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { dumpDatabase, tenantDatabase } from "../helpers/db";
import { createRole, keyWith, uniqueRoleName } from "./support";

/**
 * No step up through roles: a credential can neither write a role granting what it lacks, nor touch a role more
 * powerful than itself, nor hand such a role to a user, an API key or an OAuth client.
 */

let tenant: TestTenant;
/** A key with a manager-like custom role that may write roles and credentials. */
let lead: string;
/** A role granting what `lead` lacks (audit, settings). */
let auditor: string;
/** A role granting everything. */
let superuser: string;

const LEAD_GRANTS = [
  "users:*",
  "users.email:*",
  "me:read",
  "roles:read",
  "roles:write",
  "roles:assign",
  "api-keys:read",
  "api-keys:write",
  "oauth-clients:write",
];

beforeAll(async () => {
  tenant = await createTenant({ name: "Escalation" });
  const leadRole = await createRole(tenant, LEAD_GRANTS, { name: uniqueRoleName("lead") });
  lead = await keyWith(tenant, [leadRole.name]);
  auditor = (await createRole(tenant, ["users:read", "audit:read", "settings:read"])).name;
  superuser = (await createRole(tenant, ["*"])).name;
});

async function changesNothing(action: () => Promise<void>): Promise<void> {
  const db = await tenantDatabase(tenant.id);
  const before = await dumpDatabase(db);
  await action();
  expect(await dumpDatabase(db)).toBe(before);
}

describe("writing roles", () => {
  it("a role with a grant the caller lacks → 403 ROLE_GRANTS_NOT_HELD naming it, nothing created", async () => {
    await changesNothing(async () => {
      for (const [permissions, missing] of [
        [["*"], ["*"]],
        [["users:read", "audit:read"], ["audit:read"]],
        [["users.*:read"], ["users.*:read"]],
        [
          ["users.phone:read", "settings:write"],
          ["users.phone:read", "settings:write"],
        ],
        [["users.attributes.*:read"], ["users.attributes.*:read"]],
      ] as const) {
        const response = await call("POST", "/v1/roles", {
          token: lead,
          body: { name: uniqueRoleName("step-up"), permissions },
        });
        const problem = await expectProblem(response, 403, "ROLE_GRANTS_NOT_HELD");
        expect(problem).toMatchObject({ grants: missing });
      }
    });
  });

  it("what the caller holds, it may hand out (patterns included)", async () => {
    const response = await call("POST", "/v1/roles", {
      token: lead,
      body: { name: uniqueRoleName("reader"), permissions: ["users:read", "users:delete", "users.email:read"] },
    });
    expect(response.status).toBe(201);
  });

  it("PATCH may not add a grant the caller lacks, nor touch a role more powerful than the caller", async () => {
    const own = await call("POST", "/v1/roles", {
      token: lead,
      body: { name: uniqueRoleName("mine"), permissions: ["users:read"] },
    });
    const { name } = await json<{ name: string }>(own);
    await changesNothing(async () => {
      const added = await expectProblem(
        await call("PATCH", `/v1/roles/${name}`, { token: lead, body: { permissions: ["users:read", "audit:read"] } }),
        403,
        "ROLE_GRANTS_NOT_HELD",
      );
      expect(added).toMatchObject({ grants: ["audit:read"] });
      // narrowing the auditor role would still be rewriting a role beyond the caller
      const narrowed = await expectProblem(
        await call("PATCH", `/v1/roles/${auditor}`, { token: lead, body: { permissions: ["users:read"] } }),
        403,
        "ROLE_GRANTS_NOT_HELD",
      );
      expect(narrowed).toMatchObject({ grants: ["audit:read", "settings:read"] });
      await expectProblem(await call("DELETE", `/v1/roles/${superuser}`, { token: lead }), 403, "ROLE_GRANTS_NOT_HELD");
    });
    const ok = await call("PATCH", `/v1/roles/${name}`, { token: lead, body: { permissions: ["users:*"] } });
    expect(ok.status).toBe(200);
  });
});

describe("assigning roles", () => {
  it("no API key or OAuth client with a custom role granting more than the caller", async () => {
    await changesNothing(async () => {
      for (const roles of [[auditor], [superuser], ["basic", auditor]]) {
        const key = await call("POST", "/v1/api-keys", { token: lead, body: { name: "k", roles } });
        const keyProblem = await expectProblem(key, 403, "API_KEY_ROLES_NOT_HELD");
        expect(keyProblem).toMatchObject({ roles: roles.filter((r) => r !== "basic") });
        const client = await call("POST", "/v1/oauth/clients", {
          token: lead,
          body: { name: "c", grantTypes: ["client_credentials"], roles },
        });
        await expectProblem(client, 403, "OAUTH_CLIENT_ROLES_NOT_HELD");
      }
    });
    // within its rights it may
    const reader = (await createRole(tenant, ["users:read"])).name;
    expect((await call("POST", "/v1/api-keys", { token: lead, body: { name: "k", roles: [reader] } })).status).toBe(
      201,
    );
  });

  it("no user given such a role: PUT roles, PATCH, create and bulk → 403 USER_BEYOND_RIGHTS", async () => {
    const user = await createUser(tenant, { roles: ["basic"] });
    await changesNothing(async () => {
      for (const roles of [[auditor], [superuser, "basic"], ["admin"]]) {
        await expectProblem(
          await call("PUT", `/v1/users/${user.id}/roles`, { token: lead, body: { roles } }),
          403,
          "USER_BEYOND_RIGHTS",
        );
        await expectProblem(
          await call("PATCH", `/v1/users/${user.id}`, { token: lead, body: { roles } }),
          403,
          "USER_BEYOND_RIGHTS",
        );
        await expectProblem(
          await call("POST", "/v1/users", { token: lead, body: { email: uniqueEmail(), roles } }),
          403,
          "USER_BEYOND_RIGHTS",
        );
      }
    });
    const bulk = await call("POST", "/v1/users/bulk", {
      token: lead,
      body: {
        operations: [
          { op: "create", data: { email: uniqueEmail(), roles: ["basic"] } },
          { op: "update", id: user.id, data: { roles: [auditor] } },
        ],
      },
    });
    expect(bulk.status).toBe(200);
    const { results } = await json<{ results: { status: number; error?: { code: string } }[] }>(bulk);
    expect(results.map((r) => [r.status, r.error?.code])).toEqual([
      [201, undefined],
      [403, "USER_BEYOND_RIGHTS"],
    ]);
    // the built-in manager may assign roles too, and is bounded the same way
    const manager = await keyWith(tenant, ["manager"]);
    await expectProblem(
      await call("PUT", `/v1/users/${user.id}/roles`, { token: manager, body: { roles: [superuser] } }),
      403,
      "USER_BEYOND_RIGHTS",
    );
  });

  it("no change to a user who holds a custom role more powerful than the caller", async () => {
    const boss = await createUser(tenant, { roles: [auditor], password: "the boss's password" });
    await changesNothing(async () => {
      for (const [method, path, body] of [
        ["PATCH", `/v1/users/${boss.id}`, { name: "Mallory" }],
        ["PUT", `/v1/users/${boss.id}/roles`, { roles: ["basic"] }],
        ["POST", `/v1/users/${boss.id}/password`, { password: "taken over now" }],
        ["DELETE", `/v1/users/${boss.id}`, undefined],
      ] as const) {
        await expectProblem(await call(method, path, { token: lead, body }), 403, "USER_BEYOND_RIGHTS");
      }
    });
  });

  it("within its rights: PUT /v1/users/{id}/roles sets the roles (one code path with PATCH: ETag, audit)", async () => {
    const reader = (await createRole(tenant, ["users:read", "users.email:read"])).name;
    const user = await createUser(tenant, { roles: ["basic"] });
    const read = await call("GET", `/v1/users/${user.id}`, { token: lead });
    const response = await call("PUT", `/v1/users/${user.id}/roles`, {
      token: lead,
      body: { roles: [reader, "basic"] },
      headers: { "If-Match": read.headers.get("etag") as string },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).not.toBe(read.headers.get("etag"));
    expect(await json(response)).toMatchObject({ id: user.id, roles: [reader, "basic"] });
    // a stale ETag is 412
    await expectProblem(
      await call("PUT", `/v1/users/${user.id}/roles`, {
        token: lead,
        body: { roles: ["basic"] },
        headers: { "If-Match": read.headers.get("etag") as string },
      }),
      412,
      "PRECONDITION_FAILED",
    );
    const audit = await call("GET", `/v1/audit-events?resourceId=${user.id}&limit=10`, { token: tenant.key });
    const events = (await json<{ data: { action: string; changes: Record<string, unknown> }[] }>(audit)).data;
    expect(events.find((e) => e.action === "user.updated")?.changes).toEqual({
      roles: { from: ["basic"], to: [reader, "basic"] },
    });
  });

  it("roles:assign alone lets a credential set roles, not otherwise change users", async () => {
    const assigner = await keyWith(tenant, [(await createRole(tenant, ["roles:assign", "users:read"])).name]);
    const user = await createUser(tenant, { roles: [] });
    const reader = (await createRole(tenant, ["users:read"])).name;
    expect(
      (await call("PUT", `/v1/users/${user.id}/roles`, { token: assigner, body: { roles: [reader] } })).status,
    ).toBe(200);
    await expectProblem(
      await call("PATCH", `/v1/users/${user.id}`, { token: assigner, body: { name: "x" } }),
      403,
      "FORBIDDEN",
    );
    // and without roles:assign, no PUT
    await expectProblem(
      await call("PUT", `/v1/users/${user.id}/roles`, { token: await keyWith(tenant, [reader]), body: { roles: [] } }),
      403,
      "FORBIDDEN",
    );
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { BUILT_IN_ROLES } from "../../src/core/auth/permissions";
import { call, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import type { AuditEvent } from "../helpers/audit";
import { rawRows, tenantDatabase } from "../helpers/db";
import { type ApiRole, createRole, patchRole, uniqueRoleName } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Roles CRUD" });
});

async function auditOf(name: string): Promise<AuditEvent[]> {
  const response = await call("GET", `/v1/audit-events?resourceId=${name}&limit=100`, { token: tenant.key });
  expect(response.status).toBe(200);
  return (await json<{ data: AuditEvent[] }>(response)).data;
}

describe("built-in roles", () => {
  it("are listed first with their documented grants, builtIn and no timestamps", async () => {
    const response = await call("GET", "/v1/roles", { token: tenant.key });
    expect(response.status).toBe(200);
    const { data } = await json<{ data: ApiRole[] }>(response);
    expect(data.slice(0, 4).map((r) => r.name)).toEqual(["admin", "manager", "basic", "scim"]);
    for (const role of data.slice(0, 4)) {
      expect(role).toEqual({
        name: role.name,
        description: BUILT_IN_ROLES[role.name]?.description,
        permissions: BUILT_IN_ROLES[role.name]?.grants,
        builtIn: true,
        createdAt: null,
        updatedAt: null,
      });
    }
    expect(data[0]?.permissions).toEqual(["*"]);
  });

  it("are readable one by one, with an ETag and If-None-Match", async () => {
    const response = await call("GET", "/v1/roles/manager", { token: tenant.key });
    expect(response.status).toBe(200);
    const etag = response.headers.get("etag") as string;
    expect(etag).toMatch(/^"b-[0-9a-f]{16}"$/);
    expect(await json(response)).toMatchObject({ name: "manager", builtIn: true });
    const again = await call("GET", "/v1/roles/manager", { token: tenant.key, headers: { "If-None-Match": etag } });
    expect(again.status).toBe(304);
  });
});

describe("custom roles", () => {
  it("create → 201 with ETag and Location; read; listed after the built-ins; audited", async () => {
    const name = uniqueRoleName("support");
    const response = await call("POST", "/v1/roles", {
      token: tenant.key,
      body: { name, description: "Support desk", permissions: ["users:read", "users.email:read", "users:read"] },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("etag")).toBe('"v1"');
    expect(response.headers.get("location")).toBe(`/v1/roles/${name}`);
    const created = await json<ApiRole>(response);
    expect(created).toEqual({
      name,
      description: "Support desk",
      permissions: ["users:read", "users.email:read"],
      builtIn: false,
      createdAt: expect.any(String),
      updatedAt: created.createdAt,
    });

    const read = await call("GET", `/v1/roles/${name}`, { token: tenant.key });
    expect(read.status).toBe(200);
    expect(read.headers.get("etag")).toBe('"v1"');
    expect(await json(read)).toEqual(created);

    const { data } = await json<{ data: ApiRole[] }>(await call("GET", "/v1/roles", { token: tenant.key }));
    expect(data.find((r) => r.name === name)).toEqual(created);

    const [event] = await auditOf(name);
    expect(event).toMatchObject({
      action: "role.created",
      resource: { type: "role", id: name },
      changes: {
        description: { from: null, to: "Support desk" },
        permissions: { from: null, to: ["users:read", "users.email:read"] },
      },
    });
    // the role is the SCIM group of the same name
    const [row] = await rawRows<{ display_name: string }>(await tenantDatabase(tenant.id), "roles", "name = ?", name);
    expect(row?.display_name).toBe(name);
  });

  it("PATCH changes grants and description (merge patch), bumps the ETag, audits the change", async () => {
    const role = await createRole(tenant, ["users:read"], { description: "Before" });
    const response = await patchRole(
      tenant,
      role.name,
      { permissions: ["users:*", "audit:read"] },
      { "If-Match": role.etag },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toBe('"v2"');
    const changed = await json<ApiRole>(response);
    expect(changed).toMatchObject({ permissions: ["users:*", "audit:read"], description: "Before" });
    expect(changed.updatedAt && changed.createdAt && changed.updatedAt >= changed.createdAt).toBe(true);

    const cleared = await call("PATCH", `/v1/roles/${role.name}`, {
      token: tenant.key,
      rawBody: JSON.stringify({ description: null }),
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    expect(cleared.status).toBe(200);
    expect(await json(cleared)).toMatchObject({ description: null, permissions: ["users:*", "audit:read"] });

    // a patch that changes nothing writes nothing
    const same = await patchRole(tenant, role.name, { permissions: ["users:*", "audit:read"] });
    expect(same.headers.get("etag")).toBe('"v3"');

    const events = await auditOf(role.name);
    expect(events.map((e) => e.action).sort()).toEqual(["role.created", "role.updated", "role.updated"]);
    expect(events.find((e) => e.changes.permissions)?.changes.permissions).toEqual({
      from: ["users:read"],
      to: ["users:*", "audit:read"],
    });
  });

  it("If-Match: a stale ETag is 412 and changes nothing; DELETE too", async () => {
    const role = await createRole(tenant, ["users:read"]);
    expect((await patchRole(tenant, role.name, { description: "one" })).status).toBe(200);
    await expectProblem(
      await patchRole(tenant, role.name, { description: "two" }, { "If-Match": role.etag }),
      412,
      "PRECONDITION_FAILED",
    );
    await expectProblem(
      await call("DELETE", `/v1/roles/${role.name}`, { token: tenant.key, headers: { "If-Match": role.etag } }),
      412,
      "PRECONDITION_FAILED",
    );
    const read = await call("GET", `/v1/roles/${role.name}`, { token: tenant.key });
    expect(await json(read)).toMatchObject({ description: "one" });
    const deleted = await call("DELETE", `/v1/roles/${role.name}`, {
      token: tenant.key,
      headers: { "If-Match": read.headers.get("etag") as string },
    });
    expect(deleted.status).toBe(204);
  });

  it("DELETE → 204, then 404; audited", async () => {
    const role = await createRole(tenant, ["users:read"]);
    expect((await call("DELETE", `/v1/roles/${role.name}`, { token: tenant.key })).status).toBe(204);
    await expectProblem(await call("GET", `/v1/roles/${role.name}`, { token: tenant.key }), 404, "ROLE_NOT_FOUND");
    await expectProblem(await call("DELETE", `/v1/roles/${role.name}`, { token: tenant.key }), 404, "ROLE_NOT_FOUND");
    const events = await auditOf(role.name);
    expect(events.find((e) => e.action === "role.deleted")?.changes).toEqual({
      permissions: { from: ["users:read"], to: null },
    });
  });

  it("a SCIM group is a role granting nothing until given grants", async () => {
    const group = await call("POST", "/scim/v2/Groups", {
      token: tenant.key,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Field Engineers" },
    });
    expect(group.status).toBe(201);
    const { id } = await json<{ id: string }>(group);
    const read = await call("GET", `/v1/roles/${id}`, { token: tenant.key });
    expect(await json(read)).toMatchObject({ name: id, permissions: [], builtIn: false, description: null });
    const given = await patchRole(tenant, id, { permissions: ["users:read"] });
    expect(given.status).toBe(200);
    // the group keeps its SCIM displayName
    const scim = await json<{ displayName: string }>(await call("GET", `/scim/v2/Groups/${id}`, { token: tenant.key }));
    expect(scim.displayName).toBe("Field Engineers");
  });
});

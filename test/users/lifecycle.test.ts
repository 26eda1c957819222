import { beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  createTenant,
  createUser,
  expectProblem,
  json,
  type TestTenant,
  uniqueEmail,
} from "../helpers/api";
import { type ApiUser, expectUserShape, getUser, listIds, patchUser, readUser } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Users lifecycle" });
});

describe("soft delete, restore and purge", () => {
  it("DELETE soft-deletes: 200 with status deleted and deletedAt; hidden unless includeDeleted", async () => {
    const user = await createUser(tenant, { name: "Soft" });
    const response = await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key });
    expect(response.status).toBe(200);
    const deleted = await json(response);
    expectUserShape(deleted);
    expect(deleted.status).toBe("deleted");
    expect(deleted.deletedAt).toMatch(/Z$/);
    expect(deleted.name).toBe("Soft");
    expect(response.headers.get("etag")).toBeTruthy();

    await expectProblem(await getUser(tenant, user.id), 404, "USER_NOT_FOUND");
    await expectProblem(await getUser(tenant, user.id, "?includeDeleted=false"), 404, "USER_NOT_FOUND");
    const found = await getUser(tenant, user.id, "?includeDeleted=true");
    expect(found.status).toBe(200);
    expect(await json(found)).toEqual(deleted);

    expect(await listIds(tenant)).not.toContain(user.id);
    expect(await listIds(tenant, { includeDeleted: "true" })).toContain(user.id);

    // a deleted user can be neither patched nor deleted again
    await expectProblem(await patchUser(tenant, user.id, { name: "x" }), 404, "USER_NOT_FOUND");
    await expectProblem(await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key }), 404, "USER_NOT_FOUND");
  });

  it("restore brings an active user back to active", async () => {
    const user = await createUser(tenant);
    expect((await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key })).status).toBe(200);
    const response = await call("POST", `/v1/users/${user.id}/restore`, { token: tenant.key });
    expect(response.status).toBe(200);
    const restored = await json(response);
    expectUserShape(restored);
    expect(restored).toMatchObject({ id: user.id, status: "active", deletedAt: null });
    expect((await getUser(tenant, user.id)).status).toBe(200);
    expect(await listIds(tenant)).toContain(user.id);
  });

  it("restore brings a disabled user back to disabled", async () => {
    const user = await createUser(tenant, { status: "disabled" });
    const deleted = await json<ApiUser>(await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key }));
    expect(deleted.status).toBe("deleted");
    const restored = await json<ApiUser>(await call("POST", `/v1/users/${user.id}/restore`, { token: tenant.key }));
    expect(restored.status).toBe("disabled");
    expect(restored.deletedAt).toBeNull();
  });

  it("restore of an active user is 409 USER_NOT_DELETED and changes nothing", async () => {
    const user = await createUser(tenant);
    const { etag } = await readUser(tenant, user.id);
    await expectProblem(
      await call("POST", `/v1/users/${user.id}/restore`, { token: tenant.key }),
      409,
      "USER_NOT_DELETED",
    );
    expect((await readUser(tenant, user.id)).etag).toBe(etag);
    await expectProblem(
      await call("POST", "/v1/users/usr_missing/restore", { token: tenant.key }),
      404,
      "USER_NOT_FOUND",
    );
  });

  it("DELETE ?permanent=true purges an active user: 204, then 404 even with includeDeleted", async () => {
    const user = await createUser(tenant);
    const response = await call("DELETE", `/v1/users/${user.id}?permanent=true`, { token: tenant.key });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    await expectProblem(await getUser(tenant, user.id, "?includeDeleted=true"), 404, "USER_NOT_FOUND");
    expect(await listIds(tenant, { includeDeleted: "true" })).not.toContain(user.id);
    await expectProblem(
      await call("DELETE", `/v1/users/${user.id}?permanent=true`, { token: tenant.key }),
      404,
      "USER_NOT_FOUND",
    );
    // the email is free again
    expect((await call("POST", "/v1/users", { token: tenant.key, body: { email: user.email } })).status).toBe(201);
  });

  it("DELETE ?permanent=true purges a soft-deleted user too", async () => {
    const user = await createUser(tenant);
    expect((await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key })).status).toBe(200);
    expect((await call("DELETE", `/v1/users/${user.id}?permanent=true`, { token: tenant.key })).status).toBe(204);
    await expectProblem(await getUser(tenant, user.id, "?includeDeleted=true"), 404, "USER_NOT_FOUND");
    await expectProblem(
      await call("POST", `/v1/users/${user.id}/restore`, { token: tenant.key }),
      404,
      "USER_NOT_FOUND",
    );
  });

  it("a soft-deleted user still holds its email (409 EMAIL_TAKEN) until purged", async () => {
    const user = await createUser(tenant);
    expect((await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key })).status).toBe(200);
    await expectProblem(
      await call("POST", "/v1/users", { token: tenant.key, body: { email: user.email } }),
      409,
      "EMAIL_TAKEN",
    );
  });
});

describe("tenant isolation", () => {
  it("another tenant's user is 404 on every route", async () => {
    const other = await createTenant({ name: "Other" });
    const user = await createUser(tenant);
    await expectProblem(await call("GET", `/v1/users/${user.id}`, { token: other.key }), 404, "USER_NOT_FOUND");
    await expectProblem(await patchUser(other, user.id, { name: "x" }), 404, "USER_NOT_FOUND");
    await expectProblem(await call("DELETE", `/v1/users/${user.id}`, { token: other.key }), 404, "USER_NOT_FOUND");
    expect(await listIds(other)).not.toContain(user.id);
    // the same email is free in another tenant
    expect((await call("POST", "/v1/users", { token: other.key, body: { email: user.email } })).status).toBe(201);
    expect((await getUser(tenant, user.id)).status).toBe(200);
  });

  it("the platform admin token is refused on users routes (403), no credential is 401", async () => {
    await expectProblem(await call("GET", "/v1/users", { token: ADMIN_TOKEN }), 403, "TENANT_CREDENTIAL_REQUIRED");
    await expectProblem(
      await call("POST", "/v1/users", { token: ADMIN_TOKEN, body: { email: uniqueEmail() } }),
      403,
      "TENANT_CREDENTIAL_REQUIRED",
    );
    await expectProblem(await call("GET", "/v1/users"), 401);
    await expectProblem(await call("GET", "/v1/users", { token: "uom_sk_not_a_real_key" }), 401);
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { sleep, tenantDatabase } from "../helpers/db";
import {
  clientCredentials,
  createClient,
  createLoginUser,
  PASSWORD,
  passwordGrant,
  refreshGrant,
  verifyWithJwks,
} from "../oauth/support";
import { createRole, keyWith, patchRole } from "./support";

/** A custom role's grants work on the API, for every kind of credential, and an edit takes effect. */

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Role effect" });
});

const status = async (token: string, method: string, path: string, body?: unknown) =>
  (await call(method, path, { token, body })).status;

describe("an API key with a custom role", () => {
  it("may do exactly what the role grants (deny by default)", async () => {
    const key = await keyWith(tenant, [(await createRole(tenant, ["users:read"])).name]);
    expect(await status(key, "GET", "/v1/users?limit=1")).toBe(200);
    expect(await status(key, "POST", "/v1/users", { email: uniqueEmail() })).toBe(403);
    expect(await status(key, "GET", "/v1/audit-events")).toBe(403);
    expect(await status(key, "GET", "/v1/me")).toBe(403);
  });

  it("users:* covers users:read, users:write and users:delete, nothing else", async () => {
    // not the field grants, which live under users.<field>: without users.email:write no user can be created
    const bare = await keyWith(tenant, [(await createRole(tenant, ["users:*", "me:read"])).name]);
    expect(await status(bare, "POST", "/v1/users", { email: uniqueEmail() })).toBe(403);
    const key = await keyWith(tenant, [(await createRole(tenant, ["users:*", "users.email:*", "me:read"])).name]);
    const created = await call("POST", "/v1/users", { token: key, body: { email: uniqueEmail() } });
    expect(created.status).toBe(201);
    const { id } = await json<{ id: string }>(created);
    expect(await status(key, "PATCH", `/v1/users/${id}`, { name: "Ada" })).toBe(200);
    expect(await status(key, "DELETE", `/v1/users/${id}`)).toBe(200);
    expect(await status(key, "GET", "/v1/api-keys")).toBe(403);
    expect(await status(key, "GET", "/v1/roles")).toBe(403);
  });

  it("a role edit takes effect: at once in this isolate, within CREDENTIAL_CACHE_SECONDS elsewhere", async () => {
    const role = await createRole(tenant, ["users:read"]);
    const key = await keyWith(tenant, [role.name]);
    expect(await status(key, "GET", "/v1/audit-events")).toBe(403);
    expect(await status(key, "GET", "/v1/users?limit=1")).toBe(200);

    expect((await patchRole(tenant, role.name, { permissions: ["audit:read"] })).status).toBe(200);
    expect(await status(key, "GET", "/v1/audit-events")).toBe(200);
    expect(await status(key, "GET", "/v1/users?limit=1")).toBe(403);
    // and stays so once every cache has expired (tests run with CREDENTIAL_CACHE_SECONDS=1)
    await sleep(1_100);
    expect(await status(key, "GET", "/v1/audit-events")).toBe(200);
    expect(await status(key, "GET", "/v1/users?limit=1")).toBe(403);
  });

  it("an edit made by another isolate (which cannot clear this one's cache) shows within the cache time", async () => {
    const role = await createRole(tenant, ["users:read"]);
    const key = await keyWith(tenant, [role.name]);
    expect(await status(key, "GET", "/v1/users?limit=1")).toBe(200);
    // the row as another isolate's PATCH would leave it: this isolate's cached key is not told
    const db = await tenantDatabase(tenant.id);
    await db.prepare("UPDATE roles SET grants = '[]', version = version + 1 WHERE name = ?").bind(role.name).run();
    expect(await status(key, "GET", "/v1/users?limit=1")).toBe(200);
    await sleep(1_100);
    expect(await status(key, "GET", "/v1/users?limit=1")).toBe(403);
  });

  it("GET /v1/me names the key, the tenant, its roles and effective grants", async () => {
    const role = await createRole(tenant, ["me:read", "users:read", "users:*"]);
    const key = await keyWith(tenant, [role.name, "basic"]);
    const response = await call("GET", "/v1/me", { token: key });
    expect(response.status).toBe(200);
    const me = await json<Record<string, unknown>>(response);
    expect(me).toEqual({
      actor: { type: "api_key", id: expect.stringMatching(/^key_/) },
      tenant: { id: tenant.id, plan: "enterprise", parentId: null },
      roles: [role.name, "basic"],
      permissions: ["me:read", "users:*"],
    });
  });
});

describe("an OAuth client with a custom role", () => {
  it("gets a token whose scope is the role's grants, and the token works", async () => {
    const role = await createRole(tenant, ["users:read", "me:read"]);
    const client = await createClient(tenant, { roles: [role.name] });
    const token = await clientCredentials(client);
    expect(token.scope).toBe("users:read me:read");
    expect(await status(token.access_token, "GET", "/v1/users?limit=1")).toBe(200);
    expect(await status(token.access_token, "POST", "/v1/users", { email: uniqueEmail() })).toBe(403);
    const me = await json(await call("GET", "/v1/me", { token: token.access_token }));
    expect(me).toMatchObject({ actor: { type: "client", id: client.id }, permissions: ["users:read", "me:read"] });
  });

  it("a role edit reaches the client's next token (issued tokens keep their scope until they expire)", async () => {
    const role = await createRole(tenant, ["users:read"]);
    const client = await createClient(tenant, { roles: [role.name] });
    const before = await clientCredentials(client);
    expect((await patchRole(tenant, role.name, { permissions: ["users:read", "audit:read"] })).status).toBe(200);
    const after = await clientCredentials(client);
    expect(after.scope).toBe("users:read audit:read");
    expect(await status(after.access_token, "GET", "/v1/audit-events")).toBe(200);
    expect(await status(before.access_token, "GET", "/v1/audit-events")).toBe(403);
  });
});

describe("an end user with a custom role", () => {
  it("logs in (password grant) with a token carrying the role's grants within the client's; refresh keeps them", async () => {
    const role = await createRole(tenant, ["users:read", "me:read", "settings:read"]);
    // the client (manager) bounds its users' tokens: settings:read is not the manager's
    const app = await createClient(tenant, { grantTypes: ["password", "refresh_token"], roles: ["manager"] });
    const user = await createLoginUser(tenant, [role.name]);
    const tokens = await passwordGrant(app, user.email, PASSWORD);
    expect(tokens.scope).toBe("users:read me:read");
    expect((await verifyWithJwks(tokens.access_token)).payload).toMatchObject({ sub: user.id, roles: [role.name] });
    expect(await status(tokens.access_token, "GET", "/v1/users?limit=1")).toBe(200);
    expect(await status(tokens.access_token, "POST", "/v1/users", { email: uniqueEmail() })).toBe(403);

    const me = await json(await call("GET", "/v1/me", { token: tokens.access_token }));
    expect(me).toMatchObject({
      actor: { type: "user", id: user.id },
      roles: [role.name],
      permissions: ["users:read", "me:read"],
      user: { id: user.id, email: user.email, roles: [role.name] },
    });

    const refreshed = await refreshGrant(app, tokens.refresh_token as string);
    expect(refreshed.scope).toBe("users:read me:read");
    expect(await status(refreshed.access_token, "GET", "/v1/users?limit=1")).toBe(200);
  });

  it("a user without the role gets no such grant", async () => {
    const app = await createClient(tenant, { grantTypes: ["password"], roles: ["manager"] });
    const user = await createLoginUser(tenant, ["basic"]);
    const tokens = await passwordGrant(app, user.email, PASSWORD);
    expect(tokens.scope).toBe("me:read");
    expect(await status(tokens.access_token, "GET", "/v1/users?limit=1")).toBe(403);
  });
});

describe("GET /v1/users/{id}/permissions", () => {
  it("is the user's roles and what they grant (built-in and custom)", async () => {
    const role = await createRole(tenant, ["audit:read", "users.attributes.*:read"]);
    const user = await createUser(tenant, { roles: ["basic", role.name, "not-defined-yet"] });
    const response = await call("GET", `/v1/users/${user.id}/permissions`, { token: tenant.key });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({
      userId: user.id,
      roles: ["basic", role.name, "not-defined-yet"],
      permissions: ["me:read", "audit:read", "users.attributes.*:read"],
    });
    await expectProblem(
      await call("GET", "/v1/users/usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A/permissions", { token: tenant.key }),
      404,
      "USER_NOT_FOUND",
    );
  });

  it("a user reads their own without roles:read, not another's", async () => {
    const app = await createClient(tenant, { grantTypes: ["password"], roles: ["manager"] });
    const user = await createLoginUser(tenant, ["basic"]);
    const other = await createUser(tenant);
    const { access_token: token } = await passwordGrant(app, user.email, PASSWORD);
    const own = await call("GET", `/v1/users/${user.id}/permissions`, { token });
    expect(own.status).toBe(200);
    expect(await json(own)).toMatchObject({ userId: user.id, permissions: ["me:read"] });
    await expectProblem(await call("GET", `/v1/users/${other.id}/permissions`, { token }), 403, "FORBIDDEN");
  });
});

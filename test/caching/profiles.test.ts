import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";
import { createClient, createLoginUser, PASSWORD, passwordGrant } from "../oauth/support";

/** User profiles read through the CACHE KV namespace: sealed, served without D1, never stale after a write. */

let tenant: TestTenant;
beforeAll(async () => {
  tenant = await createTenant({ name: "Profiles" });
});

async function cacheEntries(userId: string) {
  const { keys } = await env.CACHE.list({ prefix: `user:v1:${tenant.id}:` });
  return keys.filter((k) => k.name.endsWith(`:${userId}`));
}

/** Waits for the response's waitUntil (the cache fill) to land. */
async function untilCached(userId: string) {
  await expect.poll(async () => (await cacheEntries(userId)).length, { timeout: 5_000, interval: 50 }).toBe(1);
}

const read = (id: string) => call("GET", `/v1/users/${id}`, { token: tenant.key });
const patch = (id: string, body: unknown) => call("PATCH", `/v1/users/${id}`, { token: tenant.key, body });

describe("the profile cache", () => {
  it("a read fills it with the sealed row (no plaintext email or phone, no password hash), and serves from it", async () => {
    const email = uniqueEmail("cached");
    const user = await createUser(tenant, { email, phone: "+14155550123", name: "Ada", password: PASSWORD });
    expect((await read(user.id)).status).toBe(200);
    await untilCached(user.id);
    const [entry] = await cacheEntries(user.id);
    const raw = (await env.CACHE.get(entry?.name as string)) as string;
    expect(raw).not.toContain(email);
    expect(raw).not.toContain("4155550123");
    expect(JSON.parse(raw).row.password_hash).toBeNull();
    // proof that the next read is the cache's: a change behind the API's back does not show
    const db = await tenantDatabase(tenant.id);
    await db.prepare("UPDATE users SET name = 'Behind the back' WHERE id = ?").bind(user.id).run();
    expect(await json(await read(user.id))).toMatchObject({ id: user.id, email, name: "Ada" });
  });

  it("every write through the API makes the next read fresh, on every path", async () => {
    const user = await createUser(tenant, { name: "Before" });
    const check = async (expected: Record<string, unknown>) => {
      await read(user.id);
      await untilCached(user.id);
      return expect(await json(await read(user.id))).toMatchObject(expected);
    };
    await check({ name: "Before" });
    expect((await patch(user.id, { name: "After" })).status).toBe(200);
    await check({ name: "After" });
    const bulk = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: { operations: [{ op: "update", id: user.id, data: { name: "Bulk" } }] },
    });
    expect(bulk.status).toBe(200);
    await check({ name: "Bulk" });
    expect(
      (await call("PUT", `/v1/users/${user.id}/roles`, { token: tenant.key, body: { roles: ["manager"] } })).status,
    ).toBe(200);
    await check({ roles: ["manager"] });
    expect((await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key })).status).toBe(200);
    expect((await read(user.id)).status).toBe(404);
    expect((await call("POST", `/v1/users/${user.id}/restore`, { token: tenant.key })).status).toBe(200);
    await check({ status: "active" });
    const before = (await read(user.id)).headers.get("etag");
    expect(
      (await call("POST", `/v1/users/${user.id}/password`, { token: tenant.key, body: { password: PASSWORD } })).status,
    ).toBe(204);
    expect((await read(user.id)).headers.get("etag")).not.toBe(before);
    expect((await call("DELETE", `/v1/users/${user.id}?permanent=true`, { token: tenant.key })).status).toBe(204);
    expect((await read(user.id)).status).toBe(404);
  });

  it("a login's lastLoginAt shows at once", async () => {
    const login = await createLoginUser(tenant, ["basic"]);
    await read(login.id);
    await untilCached(login.id);
    expect(await json(await read(login.id))).toMatchObject({ lastLoginAt: null });
    const client = await createClient(tenant, { grantTypes: ["password"], roles: ["basic"] });
    await passwordGrant(client, login.email, PASSWORD);
    const after = await json<{ lastLoginAt: string | null }>(await read(login.id));
    expect(after.lastLoginAt).not.toBeNull();
  });

  it("user data says private, no-cache; ETag and If-None-Match → 304 from the cache", async () => {
    const user = await createUser(tenant);
    const first = await read(user.id);
    expect(first.headers.get("cache-control")).toBe("private, no-cache");
    await untilCached(user.id);
    const etag = first.headers.get("etag") as string;
    const again = await call("GET", `/v1/users/${user.id}`, { token: tenant.key, headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect((await call("GET", "/v1/users", { token: tenant.key })).headers.get("cache-control")).toBe(
      "private, no-cache",
    );
    // a secret keeps its own: an API key's creation answers no-store
    const key = await call("POST", "/v1/api-keys", { token: tenant.key, body: { name: "k", roles: ["basic"] } });
    expect(key.headers.get("cache-control")).toBe("no-store");
  });

  it("a schema change moves reads to new keys: a renamed field shows under its new name", async () => {
    const user = await createUser(tenant, { attributes: { colour: "teal" } });
    await read(user.id);
    await untilCached(user.id);
    const field = await call("POST", "/v1/schema/fields", {
      token: tenant.key,
      body: { name: "colour", type: "string" },
    });
    expect(field.status).toBe(201);
    const renamed = await call("PATCH", "/v1/schema/fields/colour", { token: tenant.key, body: { name: "hue" } });
    expect(renamed.status).toBe(200);
    await expect
      .poll(async () => (await json<{ attributes: Record<string, unknown> }>(await read(user.id))).attributes, {
        timeout: 5_000,
      })
      .toEqual({ hue: "teal" });
  });
});

import { createExecutionContext, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { call, createTenant, createUser, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { bindingOf, tenantDatabase } from "../helpers/db";
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

describe("a cached read", () => {
  it("costs no D1 query: neither the tenant's database nor the control database is asked", async () => {
    const user = await createUser(tenant, { name: "Hot" });
    await read(user.id);
    await untilCached(user.id);
    await read(user.id); // the schema and credentials are in this isolate now
    const binding = await bindingOf(tenant.id);
    const asked: string[] = [];
    const counting = (name: string, db: D1Database) =>
      new Proxy(db, {
        get(target, property) {
          if (property === "prepare" || property === "batch" || property === "exec")
            asked.push(`${name}.${String(property)}`);
          const value = Reflect.get(target, property);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    const watched = {
      ...env,
      CONTROL_DB: counting("CONTROL_DB", env.CONTROL_DB),
      [binding]: counting(binding, (env as unknown as Record<string, D1Database>)[binding] as D1Database),
    } as Env;
    const get = (id: string) =>
      worker.fetch(
        new Request(`http://uom.test/v1/users/${id}`, { headers: { authorization: `Bearer ${tenant.key}` } }),
        watched,
        createExecutionContext(),
      );
    const response = await get(user.id);
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ name: "Hot" });
    expect(asked).toEqual([]);
    // the watch sees queries: a profile not cached yet is read from the tenant's database
    const cold = await createUser(tenant, { name: "Cold" });
    expect((await get(cold.id)).status).toBe(200);
    expect(asked).toContain(`${binding}.prepare`);
  });
});

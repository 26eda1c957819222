import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { generateApiKeySecret } from "../../src/core/auth/api-key-format";
import { call, createTenant, expectProblem, type TestTenant } from "../helpers/api";
import { sha256, sleep, tenantDatabase } from "../helpers/db";
import { createKey, getKey, rotate, statusWith } from "./support";

/**
 * Revocation and rotation take effect at once, although every isolate caches verified keys
 * (CREDENTIAL_CACHE_SECONDS, 1 s in tests): each request asks the key's Durable Object.
 */

let acme: TestTenant;

beforeAll(async () => {
  acme = await createTenant({ name: "Keys revocation" });
});

function keyObject(id: string) {
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`key:${id}`));
}

describe("immediate revocation", () => {
  it("the key's Durable Object alone refuses a key that D1 and the warm isolate cache still accept", async () => {
    const key = await createKey(acme);
    expect(await statusWith(key.secret)).toBe(200); // verified: now in the isolate cache
    await keyObject(key.id).revoke(); // D1 untouched: only the Durable Object knows
    const problem = await expectProblem(await call("GET", "/v1/users", { token: key.secret }), 401);
    expect(problem.code).toBe("INVALID_CREDENTIAL");
    expect((await getKey(acme, key.id)).revokedAt).toBeNull();
  });

  it("D1 alone refuses a revoked key once the cache has lapsed (the Durable Object knows nothing)", async () => {
    const key = await createKey(acme);
    expect(await statusWith(key.secret)).toBe(200);
    const db = await tenantDatabase(acme.id);
    await db.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(new Date().toISOString(), key.id).run();
    await sleep(1_200); // CREDENTIAL_CACHE_SECONDS = 1 in tests
    expect(await statusWith(key.secret)).toBe(401);
  });

  it("DELETE refuses the key on the very next request, on every endpoint", async () => {
    const key = await createKey(acme, { roles: ["admin"] });
    const paths = ["/v1/users", "/v1/api-keys", `/v1/api-keys/${key.id}`, "/v1/audit-events"];
    for (const path of paths) expect((await call("GET", path, { token: key.secret })).status).toBe(200);
    expect((await call("DELETE", `/v1/api-keys/${key.id}`, { token: acme.key })).status).toBe(204);
    for (const path of paths) {
      await expectProblem(await call("GET", path, { token: key.secret }), 401, "INVALID_CREDENTIAL");
    }
    const body = { name: "Sneaky", roles: ["admin"] };
    await expectProblem(await call("POST", "/v1/api-keys", { token: key.secret, body }), 401);
  });

  it("an index entry whose key row does not exist authenticates nobody", async () => {
    const secret = generateApiKeySecret();
    await env.CONTROL_DB.prepare(
      "INSERT INTO api_key_index (secret_hash, key_id, tenant_id, created_at) VALUES (?, ?, ?, ?)",
    )
      .bind(await sha256(secret), "key_01JD8Z6Q1W3V8K2N4T5R6Y7P9A", acme.id, new Date().toISOString())
      .run();
    await expectProblem(await call("GET", "/v1/users", { token: secret }), 401, "INVALID_CREDENTIAL");
  });
});

describe("POST /v1/api-keys/{id}/rotate", () => {
  it("by default the old secret stops at once, although the cache still holds it; the new one works", async () => {
    const key = await createKey(acme);
    expect(await statusWith(key.secret)).toBe(200); // cached
    const response = await call("POST", `/v1/api-keys/${key.id}/rotate`, { token: acme.key });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("etag")).toBe('"v2"');
    const rotated = (await response.json()) as { secret: string; maskedSecret: string; id: string };
    expect(rotated).toMatchObject({ id: key.id, name: key.name, roles: key.roles, revokedAt: null });
    expect(rotated.secret).not.toBe(key.secret);

    const problem = await expectProblem(await call("GET", "/v1/users", { token: key.secret }), 401);
    expect(problem.detail).toMatch(/rotated/);
    expect(await statusWith(rotated.secret)).toBe(200);
    expect((await getKey(acme, key.id)).maskedSecret).toBe(rotated.maskedSecret);
  });

  it("with a grace period the old secret keeps working until it ends, then stops; the new one goes on", async () => {
    const key = await createKey(acme);
    expect(await statusWith(key.secret)).toBe(200);
    const rotated = await rotate(acme, key.id, { gracePeriodSeconds: 2 });
    const endsAt = Date.now() + 2_000;
    expect(await statusWith(key.secret)).toBe(200);
    expect(await statusWith(rotated.secret)).toBe(200);
    await sleep(endsAt - Date.now() + 300);
    expect(await statusWith(key.secret)).toBe(401);
    expect(await statusWith(rotated.secret)).toBe(200);
  });

  it("a second rotation ends the first one's grace no later than its own", async () => {
    const key = await createKey(acme);
    const first = await rotate(acme, key.id, { gracePeriodSeconds: 3600 });
    const second = await rotate(acme, key.id); // grace 0: both earlier secrets stop now
    for (const old of [key.secret, first.secret]) expect(await statusWith(old)).toBe(401);
    expect(await statusWith(second.secret)).toBe(200);
    const db = await tenantDatabase(acme.id);
    const { results } = await db
      .prepare("SELECT retires_at FROM api_key_secrets WHERE key_id = ? ORDER BY created_at")
      .bind(key.id)
      .all<{ retires_at: string | null }>();
    expect(results.map((r) => r.retires_at === null)).toEqual([false, false, true]);
  });

  it("a rotated-out secret stays refused should its Durable Object forget it (D1 records it too)", async () => {
    const key = await createKey(acme);
    const rotated = await rotate(acme, key.id);
    // the object now believes the old secret works for another hour; D1 says it stopped
    await keyObject(key.id).retireSecret(await sha256(key.secret), Date.now() + 3_600_000);
    await sleep(1_200); // the cache lapses: the next use looks the secret up in D1 again
    const problem = await expectProblem(await call("GET", "/v1/users", { token: key.secret }), 401);
    expect(problem.code).toBe("INVALID_CREDENTIAL");
    expect(await statusWith(rotated.secret)).toBe(200);
  });
});

describe("deleting the tenant", () => {
  it("revokes every key's Durable Object, so even an isolate that cached a key refuses it", async () => {
    const tenant = await createTenant({ name: "Going away" });
    const other = await createKey(tenant);
    expect(await statusWith(other.secret)).toBe(200);
    const response = await call("DELETE", `/v1/tenants/${tenant.id}`, {
      token: "test-admin-token-0123456789abcdef",
    });
    expect(response.status).toBe(204);
    for (const id of [tenant.keyId, other.id]) {
      expect(await keyObject(id).check({})).toEqual({ ok: false, reason: "revoked" });
    }
    expect(await statusWith(other.secret)).toBe(401);
    expect(await statusWith(tenant.key)).toBe(401);
  });
});

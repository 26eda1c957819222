import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { maskedTail } from "../../src/core/auth/api-key-format";
import { LATEST_VERSION } from "../../src/modules/versions/versions.registry";
import { ADMIN_TOKEN, call, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import type { AuditEvent } from "../helpers/audit";
import { dumpDatabase, sha256, tenantDatabase } from "../helpers/db";
import { type ApiKeyBody, createKey, getKey, rotate, statusWith } from "./support";

const ULID = "[0-9A-HJKMNP-TV-Z]{26}";

let acme: TestTenant;

beforeAll(async () => {
  acme = await createTenant({ name: "Keys lifecycle" });
});

describe("POST /v1/api-keys", () => {
  it("creates a key: 201 with the secret once, no-store, and the key works at once with its roles", async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const response = await call("POST", "/v1/api-keys", {
      token: acme.key,
      body: { name: "  Billing  ", roles: ["manager"], expiresAt },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const key = await json<ApiKeyBody & { secret: string }>(response);
    expect(key).toEqual({
      id: expect.stringMatching(new RegExp(`^key_${ULID}$`)),
      name: "Billing",
      roles: ["manager"],
      secret: expect.stringMatching(/^uom_sk_[0-9A-Za-z]{38}$/),
      maskedSecret: maskedTail(key.secret),
      createdAt: expect.any(String),
      expiresAt,
      lastUsedAt: null,
      revokedAt: null,
      apiVersion: LATEST_VERSION,
    });
    expect(response.headers.get("location")).toBe(`/v1/api-keys/${key.id}`);
    expect(response.headers.get("etag")).toBe('"v1"');

    // manager: may read users, may not manage keys
    expect(await statusWith(key.secret)).toBe(200);
    await expectProblem(await call("GET", "/v1/api-keys", { token: key.secret }), 403, "FORBIDDEN");
  });

  it("an expiry with an offset is stored as UTC; duplicate roles count once", async () => {
    const key = await createKey(acme, { roles: ["basic", "basic"], expiresAt: "2099-01-01T02:00:00+02:00" });
    expect(key).toMatchObject({ roles: ["basic"], expiresAt: "2099-01-01T00:00:00.000Z" });
  });

  it("stores only hashes: the key in the tenant's database, the index entry in the control database", async () => {
    const key = await createKey(acme);
    const hash = await sha256(key.secret);
    const db = await tenantDatabase(acme.id);
    expect(await db.prepare("SELECT * FROM api_keys WHERE id = ?").bind(key.id).first()).toEqual({
      id: key.id,
      name: "Test key",
      roles: '["manager"]',
      created_at: key.createdAt,
      expires_at: null,
      revoked_at: null,
      last_used_at: null,
      version: 1,
      rate_limit: null,
      api_version: LATEST_VERSION,
    });
    expect(await db.prepare("SELECT * FROM api_key_secrets WHERE key_id = ?").bind(key.id).all()).toMatchObject({
      results: [{ secret_hash: hash, tail: maskedTail(key.secret), retires_at: null }],
    });
    const entry = await env.CONTROL_DB.prepare("SELECT * FROM api_key_index WHERE secret_hash = ?").bind(hash).first();
    expect(entry).toMatchObject({ key_id: key.id, tenant_id: acme.id });

    const random = key.secret.slice("uom_sk_".length, -6);
    const dumps = [await dumpDatabase(db), await dumpDatabase(env.CONTROL_DB)];
    expect(dumps[0]).toContain(hash); // the dump does see the rows
    for (const dump of dumps) expect(dump).not.toContain(random);
  });
});

describe("GET /v1/api-keys and /v1/api-keys/{id}", () => {
  it("list and get show roles, the masked tail and lastUsedAt, never the secret", async () => {
    const key = await createKey(acme, { name: "Listed" });
    const { secret, ...shown } = key;
    const read = await call("GET", `/v1/api-keys/${key.id}`, { token: acme.key });
    expect(read.status).toBe(200);
    expect(await json(read)).toEqual(shown);
    const etag = read.headers.get("etag");
    expect(etag).toBe('"v1"');
    const cached = await call("GET", `/v1/api-keys/${key.id}`, {
      token: acme.key,
      headers: { "If-None-Match": etag ?? "" },
    });
    expect(cached.status).toBe(304);

    const list = await call("GET", "/v1/api-keys?limit=1000", { token: acme.key });
    const text = await list.clone().text();
    const page = await json<{ data: ApiKeyBody[]; nextCursor: string | null }>(list);
    expect(page.nextCursor).toBeNull();
    expect(page.data.find((k) => k.id === key.id)).toEqual(shown);
    expect(page.data.find((k) => k.id === acme.keyId)).toMatchObject({ name: "Initial admin key", roles: ["admin"] });
    expect(text).not.toContain(secret.slice(7, -4));
    expect(page.data.every((k) => !("secret" in k))).toBe(true);
  });

  it("pages through every key with the cursor, oldest first", async () => {
    const tenant = await createTenant({ name: "Keys paging" });
    const made = [tenant.keyId];
    for (let i = 0; i < 4; i++) made.push((await createKey(tenant, { name: `Key ${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : "?limit=2";
      const page = await json<{ data: ApiKeyBody[]; nextCursor: string | null }>(
        await call("GET", `/v1/api-keys${query}`, { token: tenant.key }),
      );
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((k) => k.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(made);
  });

  it("lastUsedAt appears after the key is used (written in batches by its Durable Object)", async () => {
    const key = await createKey(acme);
    const before = new Date().toISOString();
    expect(await statusWith(key.secret)).toBe(200);
    let lastUsedAt: string | null = null;
    for (let i = 0; i < 40 && lastUsedAt === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      lastUsedAt = (await getKey(acme, key.id)).lastUsedAt;
    }
    expect(lastUsedAt).not.toBeNull();
    expect(lastUsedAt && lastUsedAt >= before).toBe(true);
    expect(lastUsedAt && lastUsedAt <= new Date().toISOString()).toBe(true);
  });
});

describe("DELETE /v1/api-keys/{id}", () => {
  it("revokes: the key is refused on the next request, GET shows revokedAt, a second DELETE changes nothing", async () => {
    const key = await createKey(acme);
    expect(await statusWith(key.secret)).toBe(200);
    const deleted = await call("DELETE", `/v1/api-keys/${key.id}`, { token: acme.key });
    expect(deleted.status).toBe(204);
    await expectProblem(await call("GET", "/v1/users", { token: key.secret }), 401, "INVALID_CREDENTIAL");
    const read = await call("GET", `/v1/api-keys/${key.id}`, { token: acme.key });
    const shown = await json<ApiKeyBody>(read);
    expect(shown.revokedAt).toEqual(expect.any(String));
    expect(read.headers.get("etag")).toBe('"v2"');

    expect((await call("DELETE", `/v1/api-keys/${key.id}`, { token: acme.key })).status).toBe(204);
    expect(await getKey(acme, key.id)).toEqual(shown);
  });

  it("honours If-Match: a stale ETag is 412 and the key keeps working", async () => {
    const key = await createKey(acme);
    await rotate(acme, key.id); // v2
    const stale = await call("DELETE", `/v1/api-keys/${key.id}`, { token: acme.key, headers: { "If-Match": '"v1"' } });
    await expectProblem(stale, 412, "PRECONDITION_FAILED");
    expect((await getKey(acme, key.id)).revokedAt).toBeNull();
    const current = await call("DELETE", `/v1/api-keys/${key.id}`, {
      token: acme.key,
      headers: { "If-Match": '"v2"' },
    });
    expect(current.status).toBe(204);
  });

  it("a key may revoke itself", async () => {
    const key = await createKey(acme, { roles: ["admin"] });
    expect((await call("DELETE", `/v1/api-keys/${key.id}`, { token: key.secret })).status).toBe(204);
    await expectProblem(await call("GET", "/v1/api-keys", { token: key.secret }), 401, "INVALID_CREDENTIAL");
  });
});

describe("the tenant's audit trail", () => {
  it("records api_key.created, api_key.rotated and api_key.revoked by the acting key, with no secret", async () => {
    const key = await createKey(acme, { name: "Audited" });
    const rotated = await rotate(acme, key.id, { gracePeriodSeconds: 60 });
    expect((await call("DELETE", `/v1/api-keys/${key.id}`, { token: acme.key })).status).toBe(204);

    const response = await call("GET", `/v1/audit-events?resourceId=${key.id}&limit=1000`, { token: acme.key });
    expect(response.status).toBe(200);
    const events = (await json<{ data: AuditEvent[] }>(response)).data;
    expect(events.map((e) => e.action)).toEqual(["api_key.revoked", "api_key.rotated", "api_key.created"]);
    for (const event of events) {
      expect(event.actor).toEqual({ type: "api_key", id: acme.keyId });
      expect(event.resource).toEqual({ type: "api_key", id: key.id });
    }
    expect(events[2]?.changes).toEqual({
      name: { from: null, to: "Audited" },
      roles: { from: null, to: ["manager"] },
      maskedSecret: { from: null, to: key.maskedSecret },
      apiVersion: { from: null, to: LATEST_VERSION },
    });
    expect(events[1]?.changes).toMatchObject({
      maskedSecret: { from: key.maskedSecret, to: rotated.maskedSecret },
      previousSecretRetiresAt: { from: null, to: expect.any(String) },
    });
    const text = JSON.stringify(events);
    for (const secret of [key.secret, rotated.secret]) expect(text).not.toContain(secret.slice(7, -4));
  });

  it("the first key's creation is in the platform's trail, with the tenant's; the tenant's own trail starts empty", async () => {
    const tenant = await createTenant({ name: "Trail of first key" });
    const own = await call("GET", "/v1/audit-events", { token: tenant.key });
    expect((await json<{ data: AuditEvent[] }>(own)).data).toEqual([]);
    const platform = await call("GET", `/v1/audit-events?resourceId=${tenant.keyId}`, { token: ADMIN_TOKEN });
    expect((await json<{ data: AuditEvent[] }>(platform)).data).toEqual([
      expect.objectContaining({
        action: "api_key.created",
        actor: { type: "admin", id: "admin" },
        changes: expect.objectContaining({ tenantId: { from: null, to: tenant.id } }),
      }),
    ]);
  });
});

import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { isWellFormedApiKey, maskedTail } from "../../src/core/auth/api-key-format";
import { ADMIN_TOKEN, type ApiTenant, call, createTenant, expectProblem, json } from "../helpers/api";
import { count, dumpDatabase, sha256, tenantDatabase } from "../helpers/db";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ULID = "[0-9A-HJKMNP-TV-Z]{26}";

interface CreatedTenant extends ApiTenant {
  apiKey: { id: string; secret: string };
}

async function create(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call("POST", "/v1/tenants", { token: ADMIN_TOKEN, body, headers });
}

function withCharAt(text: string, index: number, replacement: string): string {
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

// The pool has 8 databases per test file: tests share this tenant where they can.
let acme: CreatedTenant;

describe("POST /v1/tenants", () => {
  it("creates a free tenant with no parent and returns its first API key once", async () => {
    const response = await create({ name: "Acme Corp" }, { "Idempotency-Key": "acme-1" });
    expect(response.status).toBe(201);
    const tenant = await json<CreatedTenant>(response);
    acme = tenant;
    expect(tenant).toEqual({
      id: expect.stringMatching(new RegExp(`^ten_${ULID}$`)),
      name: "Acme Corp",
      plan: "free",
      parentId: null,
      createdAt: expect.any(String),
      updatedAt: tenant.createdAt,
      apiKey: { id: expect.stringMatching(new RegExp(`^key_${ULID}$`)), secret: expect.stringMatching(/^uom_sk_/) },
    });
    expect(new Date(tenant.createdAt).toISOString()).toBe(tenant.createdAt);
    expect(response.headers.get("etag")).toBe('"v1"');
    expect(response.headers.get("location")).toBe(`/v1/tenants/${tenant.id}`);

    const read = await call("GET", `/v1/tenants/${tenant.id}`, { token: ADMIN_TOKEN });
    const { apiKey: _shownOnce, ...stored } = tenant;
    expect(await json(read)).toEqual({ ...stored, children: [] });
  });

  it("takes a plan, and trims the name", async () => {
    const response = await create({ name: "  Pro Co  ", plan: "enterprise" });
    expect(response.status).toBe(201);
    expect(await json(response)).toMatchObject({ name: "Pro Co", plan: "enterprise" });
  });

  it("the key works on the tenant API at once", async () => {
    const users = await call("GET", "/v1/users", { token: acme.apiKey.secret });
    expect(users.status).toBe(200);
    expect(await json(users)).toEqual({ data: [], nextCursor: null });
  });

  it("stores only the key's SHA-256 hex hash, never the secret", async () => {
    const tenant = acme; // created with an Idempotency-Key, so its response is kept (sealed) for replays
    const { secret } = tenant.apiKey;
    const hash = await sha256(secret);
    // the key lives in the tenant's own database; the control database indexes its hash to find the tenant
    const db = await tenantDatabase(tenant.id);
    const key = await db.prepare("SELECT * FROM api_keys WHERE id = ?").bind(tenant.apiKey.id).first();
    expect(key).toMatchObject({ name: "Initial admin key", roles: '["admin"]', expires_at: null, revoked_at: null });
    const stored = await db
      .prepare("SELECT * FROM api_key_secrets WHERE key_id = ?")
      .bind(tenant.apiKey.id)
      .first<Record<string, unknown>>();
    expect(stored).toMatchObject({ secret_hash: hash, tail: maskedTail(secret), retires_at: null });
    expect(stored?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    const entry = await env.CONTROL_DB.prepare("SELECT * FROM api_key_index WHERE secret_hash = ?").bind(hash).first();
    expect(entry).toMatchObject({ key_id: tenant.apiKey.id, tenant_id: tenant.id });

    // Nowhere in plaintext: not in any control table (keys, audit, the idempotent replay), nor the tenant's.
    const random = secret.slice("uom_sk_".length, -6);
    const control = await dumpDatabase(env.CONTROL_DB);
    expect(control).toContain(tenant.id); // the dump does see the rows
    expect(control).not.toContain(random);
    expect(await dumpDatabase(await tenantDatabase(tenant.id))).not.toContain(random);
  });

  it("the secret has the checksum format; every single-character change is refused before any lookup", async () => {
    const tenant = { key: acme.apiKey.secret };
    expect(tenant.key).toMatch(/^uom_sk_[0-9A-Za-z]{38}$/);
    expect(isWellFormedApiKey(tenant.key)).toBe(true);
    for (let i = "uom_sk_".length; i < tenant.key.length; i++) {
      const current = tenant.key[i] as string;
      const other = BASE62[(BASE62.indexOf(current) + 1 + (i % 61)) % 62] as string;
      expect(isWellFormedApiKey(withCharAt(tenant.key, i, other)), `position ${i}`).toBe(false);
    }
    const typo = withCharAt(tenant.key, 10, tenant.key[10] === "a" ? "b" : "a");
    const problem = await expectProblem(await call("GET", "/v1/users", { token: typo }), 401, "INVALID_CREDENTIAL");
    // the checksum path answers, not the unknown-key one (which would have hashed and looked it up)
    expect(problem.detail).toMatch(/checksum/);
  });

  it("two creations never share a database or an id", async () => {
    const [a, b] = await Promise.all([createTenant({ name: "Twin A" }), createTenant({ name: "Twin B" })]);
    expect(a.id).not.toBe(b.id);
    const { results } = await env.CONTROL_DB.prepare(
      "SELECT database_binding AS binding FROM tenants WHERE id IN (?, ?)",
    )
      .bind(a.id, b.id)
      .all<{ binding: string }>();
    expect(new Set(results.map((r) => r.binding)).size).toBe(2);
  });
});

describe("POST /v1/tenants: validation, nothing created", () => {
  const invalid: [string, unknown, string][] = [
    ["an unknown field", { name: "X", color: "red" }, "color"],
    ["a bad plan", { name: "X", plan: "platinum" }, "plan"],
    ["no name", { plan: "pro" }, "name"],
    ["a blank name", { name: "   " }, "name"],
    ["a name too long", { name: "x".repeat(201) }, "name"],
    ["a name of the wrong type", { name: 42 }, "name"],
  ];
  for (const [what, body, field] of invalid) {
    it(`${what} → 400 naming the field`, async () => {
      const before = await count(env.CONTROL_DB, "tenants");
      const problem = await expectProblem(await create(body as Record<string, unknown>), 400, "VALIDATION_FAILED");
      expect(problem.errors).toEqual([expect.objectContaining({ field, code: expect.any(String) })]);
      expect(await count(env.CONTROL_DB, "tenants")).toBe(before);
    });
  }

  it("a body that is not an object → 400", async () => {
    await expectProblem(await call("POST", "/v1/tenants", { token: ADMIN_TOKEN, body: ["x"] }), 400);
  });
});

describe("sub-accounts (parentId)", () => {
  it("an unknown parent → 400 on parentId, and no database is claimed", async () => {
    const claimed = () => count(env.CONTROL_DB, "tenant_databases", "tenant_id IS NOT NULL");
    const before = await claimed();
    const problem = await expectProblem(await create({ name: "Orphan", parentId: "ten_nope" }), 400);
    expect(problem.errors).toEqual([expect.objectContaining({ field: "parentId", code: "not_found" })]);
    expect(await claimed()).toBe(before);
  });

  it("a known parent is recorded", async () => {
    const parent = await createTenant({ name: "Parent" });
    const response = await create({ name: "Child", parentId: parent.id });
    expect(response.status).toBe(201);
    expect(await json(response)).toMatchObject({ parentId: parent.id });
  });
});

describe("credential kinds", () => {
  it("a tenant key on an admin-only tenant route → 403 ADMIN_CREDENTIAL_REQUIRED", async () => {
    const tenant = { key: acme.apiKey.secret };
    await expectProblem(
      await call("POST", `/v1/tenants/${acme.id}/data-keys/rotate`, { token: tenant.key }),
      403,
      "ADMIN_CREDENTIAL_REQUIRED",
    );
  });

  it("a tenant key without tenants:write cannot create tenants (403), nothing created", async () => {
    const minted = await call("POST", "/v1/api-keys", {
      token: acme.apiKey.secret,
      body: { name: "Manager", roles: ["manager"] },
    });
    expect(minted.status).toBe(201);
    const manager = (await json<{ secret: string }>(minted)).secret;
    const before = await count(env.CONTROL_DB, "tenants");
    await expectProblem(
      await call("POST", "/v1/tenants", { token: manager, body: { name: "Sneaky" } }),
      403,
      "FORBIDDEN",
    );
    await expectProblem(await call("GET", "/v1/tenants", { token: manager }), 403, "FORBIDDEN");
    expect(await count(env.CONTROL_DB, "tenants")).toBe(before);
  });

  it("the admin token on /v1/users → 403 TENANT_CREDENTIAL_REQUIRED", async () => {
    await expectProblem(await call("GET", "/v1/users", { token: ADMIN_TOKEN }), 403, "TENANT_CREDENTIAL_REQUIRED");
  });
});

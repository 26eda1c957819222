import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { activeDataKey, dataKeyVersion, decryptField, encryptField } from "../../src/core/crypto/data-keys";
import { migrate } from "../../src/core/db/migrate";
import { tenantMigrations } from "../../src/core/db/migrations";
import { findUserByLogin } from "../../src/modules/users/users.lookup";
import { sealPii } from "../../src/modules/users/users.pii";
import { reencryptUsers } from "../../src/modules/users/users.rekey";
import { findUser } from "../../src/modules/users/users.repo";
import { ADMIN_TOKEN, call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import type { AuditEvent } from "../helpers/audit";
import { count, dumpDatabase, poolDatabase, rawRows, runCron, tenantDatabase } from "../helpers/db";
import { expectAbsent, markerEmail, markerPhone, tenantContext } from "./support";

interface Rotation {
  version: number;
  reencrypted: number;
  remaining: number;
}

interface KeyRow {
  version: number;
  retired_at: string | null;
}

async function rotate(tenantId: string, body?: unknown): Promise<Response> {
  return call("POST", `/v1/tenants/${tenantId}/data-keys/rotate`, {
    token: ADMIN_TOKEN,
    ...(body === undefined ? {} : { body }),
  });
}

async function keysOf(tenantId: string): Promise<KeyRow[]> {
  const rows = await rawRows<KeyRow>(env.CONTROL_DB, "tenant_data_keys", "tenant_id = ?", tenantId);
  return rows.map(({ version, retired_at }) => ({ version, retired_at })).sort((a, b) => a.version - b.version);
}

async function versionsInUse(db: D1Database): Promise<number[]> {
  const { results } = await db.prepare("SELECT DISTINCT key_version AS v FROM users ORDER BY v").all<{ v: number }>();
  return results.map((r) => r.v);
}

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "PII rotation" });
});

describe("POST /v1/tenants/{id}/data-keys/rotate", () => {
  it("makes a new active version, re-encrypts every user, retires the old key; reads, logins and ETags carry on", async () => {
    const users = await Promise.all(
      [1, 2, 3].map((n) => createUser(tenant, { email: markerEmail(`Rotate${n}`), phone: markerPhone() })),
    );
    const first = users[0] as (typeof users)[0];
    const etag = (await call("GET", `/v1/users/${first.id}`, { token: tenant.key })).headers.get("etag");
    const db = await tenantDatabase(tenant.id);
    const before = await rawRows<{ id: string; email_ct: string; email_bidx: string }>(db, "users");
    expect(await versionsInUse(db)).toEqual([1]);

    const response = await rotate(tenant.id);
    expect(response.status).toBe(200);
    expect(await json<Rotation>(response)).toEqual({ version: 2, reencrypted: 3, remaining: 0 });

    const after = await rawRows<{ id: string; email_ct: string; email_bidx: string }>(db, "users");
    expect(await versionsInUse(db)).toEqual([2]);
    for (const row of after) {
      const old = before.find((b) => b.id === row.id);
      expect(row.email_ct).toMatch(/^v2\./);
      expect(row.email_ct).not.toBe(old?.email_ct);
      expect(row.email_bidx).toBe(old?.email_bidx); // the index key does not rotate with the data key
    }
    expect(await keysOf(tenant.id)).toEqual([
      { version: 1, retired_at: expect.any(String) },
      { version: 2, retired_at: null },
    ]);

    for (const user of users) {
      const read = await call("GET", `/v1/users/${user.id}`, { token: tenant.key });
      expect(await json(read)).toMatchObject({ email: user.email, phone: user.phone });
    }
    expect((await call("GET", `/v1/users/${first.id}`, { token: tenant.key })).headers.get("etag")).toBe(etag);
    expect((await findUserByLogin(await tenantContext(tenant.id), first.email))?.id).toBe(first.id);
    // new writes use the new key
    const created = await createUser(tenant, { email: markerEmail("AfterRotation") });
    const [row] = await rawRows<{ email_ct: string }>(db, "users", "id = ?", created.id);
    expect(row?.email_ct).toMatch(/^v2\./);
  });

  it("is audited in the platform trail", async () => {
    const response = await call("GET", `/v1/audit-events?resourceId=${tenant.id}`, { token: ADMIN_TOKEN });
    const { data } = await json<{ data: AuditEvent[] }>(response);
    const rotated = data.find((e) => e.action === "tenant.data_key_rotated");
    expect(rotated?.changes).toEqual({ dataKeyVersion: { from: 1, to: 2 } });
    expect(rotated?.actor).toEqual({ type: "admin", id: "admin" });
  });

  it("works in bounded batches: 1000 users per request, the rest by the next call or the cron", async () => {
    const big = await createTenant({ name: "PII rotation, many users" });
    const operations = Array.from({ length: 1000 }, (_, i) => ({
      op: "create",
      data: { email: `many.${i}@example.com`, ...(i % 2 ? { phone: `+1415555${String(i).padStart(4, "0")}` } : {}) },
    }));
    expect((await call("POST", "/v1/users/bulk", { token: big.key, body: { operations } })).status).toBe(200);
    await createUser(big, { email: "many.last@example.com" });
    const db = await tenantDatabase(big.id);

    expect(await json<Rotation>(await rotate(big.id, { newVersion: true }))).toEqual({
      version: 2,
      reencrypted: 1000,
      remaining: 1,
    });
    expect((await keysOf(big.id)).map((k) => k.retired_at === null)).toEqual([true, true]);
    expect(await json<Rotation>(await rotate(big.id, { newVersion: false }))).toEqual({
      version: 2,
      reencrypted: 1,
      remaining: 0,
    });
    expect(await versionsInUse(db)).toEqual([2]);
    expect((await keysOf(big.id)).map((k) => k.retired_at === null)).toEqual([false, true]);

    // and once more, finished by the per-minute cron alone
    expect(await json<Rotation>(await rotate(big.id))).toMatchObject({ version: 3, reencrypted: 1000, remaining: 1 });
    await runCron("* * * * *");
    expect(await versionsInUse(db)).toEqual([3]);
    expect((await keysOf(big.id)).map((k) => k.retired_at === null)).toEqual([false, false, true]);
    const page = await json<{ data: { email: string }[] }>(
      await call("GET", "/v1/users?limit=1000", { token: big.key }),
    );
    expect(page.data.filter((u) => /^many\.\d+@example\.com$/.test(u.email))).toHaveLength(1000);
  });

  it("the cron re-encrypts a row an isolate wrote under a retired version (it had not seen the rotation yet)", async () => {
    const user = await createUser(tenant, { email: markerEmail("Stale"), phone: markerPhone() });
    const ctx = await tenantContext(tenant.id);
    const retired = { tenantId: tenant.id, version: 1, key: await dataKeyVersion(env, tenant.id, 1) };
    const sealed = await sealPii(ctx, { id: user.id, email: user.email, phone: user.phone as string }, retired);
    await ctx.db
      .prepare("UPDATE users SET email_ct = ?, phone_ct = ?, key_version = 1 WHERE id = ?")
      .bind(sealed.emailCt, sealed.phoneCt, user.id)
      .run();
    expect((await findUser(ctx, user.id))?.email).toBe(user.email);
    await runCron("* * * * *");
    const [row] = await rawRows<{ email_ct: string; key_version: number }>(ctx.db, "users", "id = ?", user.id);
    expect(row).toMatchObject({ email_ct: expect.stringMatching(/^v2\./), key_version: 2 });
    expect((await findUser(ctx, user.id))?.phone).toBe(user.phone);
  });

  it("refuses a bad body (400) and an unknown tenant (404), creating no key version", async () => {
    const versions = await count(env.CONTROL_DB, "tenant_data_keys");
    await expectProblem(await rotate(tenant.id, { newVersion: "yes" }), 400, "VALIDATION_FAILED");
    await expectProblem(await rotate(tenant.id, { newVersion: true, extra: 1 }), 400, "VALIDATION_FAILED");
    await expectProblem(await rotate("ten_nope"), 404, "TENANT_NOT_FOUND");
    expect(await count(env.CONTROL_DB, "tenant_data_keys")).toBe(versions);
  });
});

describe("data keys", () => {
  it("are created once on first use, even by concurrent first uses", async () => {
    const tenantId = `ten_race_${crypto.randomUUID()}`;
    const keys = await Promise.all(Array.from({ length: 6 }, () => activeDataKey(env, tenantId, { fresh: true })));
    expect(new Set(keys.map((k) => k.version))).toEqual(new Set([1]));
    expect(await count(env.CONTROL_DB, "tenant_data_keys", "tenant_id = ?", tenantId)).toBe(1);
    const ciphertext = await encryptField(keys[5] as (typeof keys)[5], "ctx", "opened by every caller");
    expect(await decryptField(env, tenantId, "ctx", ciphertext)).toBe("opened by every caller");
  });
});

describe("rows written before encryption (tenant migration 5)", () => {
  it("are read as they are, then encrypted and indexed by the rotation job", async () => {
    // a pool database no tenant of this file uses, taken out of the pool, migrated to the last plaintext version
    const free = await env.CONTROL_DB.prepare(
      "SELECT binding FROM tenant_databases WHERE tenant_id IS NULL ORDER BY binding DESC LIMIT 1",
    ).first<{ binding: string }>();
    const tenantId = `ten_legacy_${crypto.randomUUID().slice(0, 8)}`;
    await env.CONTROL_DB.prepare("UPDATE tenant_databases SET tenant_id = ?, claimed_at = ? WHERE binding = ?")
      .bind(tenantId, new Date().toISOString(), free?.binding)
      .run();
    const db = poolDatabase(free?.binding as string);
    await migrate(
      db,
      tenantMigrations.filter((m) => m.version < 5),
    );
    const legacy = [
      { id: "usr_legacy1", email: markerEmail("Legacy"), phone: markerPhone() },
      { id: "usr_legacy2", email: markerEmail("LegacyNoPhone"), phone: null },
    ];
    const at = new Date().toISOString();
    for (const user of legacy) {
      await db
        .prepare(
          `INSERT INTO users (id, email, email_normalized, phone, status, attributes, roles, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'active', '{}', '[]', ?, ?)`,
        )
        .bind(user.id, user.email, user.email.toLowerCase(), user.phone, at, at)
        .run();
    }
    await migrate(db, tenantMigrations);

    const store = await tenantContext(tenantId, db);
    const raw = await rawRows<{ email_ct: string; key_version: number }>(db, "users");
    expect(raw.map((r) => [r.email_ct.slice(0, 3), r.key_version])).toEqual([
      ["v0.", 0],
      ["v0.", 0],
    ]);
    expect((await findUser(store, "usr_legacy1"))?.email).toBe(legacy[0]?.email);

    expect(await reencryptUsers(store, 5)).toEqual({ version: 1, reencrypted: 2, remaining: 0 });
    expectAbsent(
      await dumpDatabase(db),
      legacy.flatMap((u) => (u.phone ? [u.email, u.phone] : [u.email])),
    );
    for (const user of legacy) {
      expect(await findUser(store, user.id)).toMatchObject({ email: user.email, phone: user.phone });
      expect((await findUserByLogin(store, user.email.toUpperCase()))?.id).toBe(user.id);
    }
  });
});

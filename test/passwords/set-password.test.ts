import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { verifyPassword } from "../../src/core/crypto/password";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { dumpDatabase, tenantDatabase } from "../helpers/db";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Passwords" });
});

function setPassword(userId: string, body: unknown) {
  return call("POST", `/v1/users/${userId}/password`, { token: tenant.key, body });
}

async function storedHash(userId: string): Promise<string | null> {
  const db = await tenantDatabase(tenant.id);
  const row = await db
    .prepare("SELECT password_hash FROM users WHERE id = ?")
    .bind(userId)
    .first<{ password_hash: string | null }>();
  return row?.password_hash ?? null;
}

describe("POST /v1/users/{id}/password", () => {
  it("sets a password: 204, stored only as a PHC hash that verifies, ETag moves, audited without the value", async () => {
    const user = await createUser(tenant);
    const before = (await call("GET", `/v1/users/${user.id}`, { token: tenant.key })).headers.get("etag");
    const password = "correct horse battery staple";
    expect((await setPassword(user.id, { password })).status).toBe(204);

    const hash = await storedHash(user.id);
    expect(hash).toMatch(/^\$scrypt\$ln=14,r=8,p=5,k=1\$/);
    expect(await verifyPassword(env, password, hash as string)).toEqual({ ok: true, needsRehash: false });
    expect((await verifyPassword(env, "another password", hash as string)).ok).toBe(false);
    expect(await dumpDatabase(await tenantDatabase(tenant.id))).not.toContain(password);

    const read = await call("GET", `/v1/users/${user.id}`, { token: tenant.key });
    expect(read.headers.get("etag")).not.toBe(before);
    expect(Object.keys(await json(read))).not.toContain("password");

    const audit = await json<{ data: { action: string; changes: unknown }[] }>(
      await call("GET", `/v1/audit-events?resourceId=${user.id}&action=user.password_changed`, { token: tenant.key }),
    );
    expect(audit.data[0]?.changes).toEqual({ password: { from: null, to: "[redacted]" } });
  });

  it("replacing a password makes the old one stop verifying", async () => {
    const user = await createUser(tenant, { password: "first password 1" });
    expect((await setPassword(user.id, { password: "second password 2" })).status).toBe(204);
    const hash = (await storedHash(user.id)) as string;
    expect((await verifyPassword(env, "first password 1", hash)).ok).toBe(false);
    expect((await verifyPassword(env, "second password 2", hash)).ok).toBe(true);
  });

  it("bad input → 400 naming the field, the stored hash unchanged; missing or deleted users → 404", async () => {
    const user = await createUser(tenant, { password: "keep this one" });
    const hash = await storedHash(user.id);
    const short = await expectProblem(await setPassword(user.id, { password: "short" }), 400, "VALIDATION_FAILED");
    expect(short.errors?.[0]?.field).toBe("password");
    const long = await expectProblem(await setPassword(user.id, { password: "x".repeat(257) }), 400);
    expect(long.errors?.[0]?.field).toBe("password");
    const extra = await expectProblem(await setPassword(user.id, { password: "long enough", force: true }), 400);
    expect(extra.errors?.[0]).toMatchObject({ field: "force", code: "unknown_field" });
    expect(await storedHash(user.id)).toBe(hash);

    await expectProblem(await setPassword("usr_missing", { password: "long enough" }), 404, "USER_NOT_FOUND");
    await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key });
    await expectProblem(await setPassword(user.id, { password: "long enough" }), 404, "USER_NOT_FOUND");
  });
});

import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { credentialGuard } from "../../src/core/auth/guard";
import { verifyPassword } from "../../src/core/crypto/password";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { count, dumpDatabase, runCron, sha256, tenantDatabase } from "../helpers/db";
import { eventsOf, mailedToken, tokenRows } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Password resets" });
});

const REQUESTED = "user.password_reset_requested";

function requestReset(email: string) {
  return call("POST", "/v1/password-resets", { token: tenant.key, body: { email } });
}

function confirmReset(token: string, password: string) {
  return call("POST", "/v1/password-resets/confirm", { token: tenant.key, body: { token, password } });
}

async function storedHash(userId: string): Promise<string> {
  const row = await (await tenantDatabase(tenant.id))
    .prepare("SELECT password_hash FROM users WHERE id = ?")
    .bind(userId)
    .first<{ password_hash: string }>();
  return row?.password_hash as string;
}

async function auditActions(userId: string): Promise<{ action: string; changes: unknown }[]> {
  const page = await json<{ data: { action: string; changes: unknown }[] }>(
    await call("GET", `/v1/audit-events?resourceId=${userId}`, { token: tenant.key }),
  );
  return page.data;
}

describe("POST /v1/password-resets", () => {
  it("for an active user: 202 {expiresAt in 30 min}, a hashed single-use token, a sealed event and an audit row", async () => {
    const user = await createUser(tenant, { password: "old password 1" });
    const before = Date.now();
    const response = await requestReset(String(user.email).toUpperCase());
    expect(response.status).toBe(202);
    const { expiresAt } = await json<{ expiresAt: string }>(response);
    const lifetime = Date.parse(expiresAt) - before;
    expect(lifetime).toBeGreaterThan(29 * 60 * 1000);
    expect(lifetime).toBeLessThanOrEqual(31 * 60 * 1000);

    const token = await mailedToken(tenant, REQUESTED, user.id);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    const [row] = await tokenRows(tenant, user.id);
    expect(row).toMatchObject({
      token_hash: await sha256(token),
      purpose: "password_reset",
      expires_at: expiresAt,
      used_at: null,
    });
    const [event] = await eventsOf(tenant, REQUESTED, user.id);
    expect(JSON.parse(event?.data ?? "{}")).toEqual({ userId: user.id, expiresAt });
    // the token and the address are nowhere in plaintext
    const dump = await dumpDatabase(await tenantDatabase(tenant.id));
    expect(dump).not.toContain(token);
    expect((await auditActions(user.id)).map((e) => e.action)).toContain(REQUESTED);
  });

  it("unknown, deleted or disabled: the same 202 answer, and nothing is written", async () => {
    const disabled = await createUser(tenant, { status: "disabled" });
    const deleted = await createUser(tenant);
    await call("DELETE", `/v1/users/${deleted.id}`, { token: tenant.key });
    const db = await tenantDatabase(tenant.id);
    const counts = async () => [await count(db, "user_tokens"), await count(db, "outbox_events")];
    const before = await counts();
    for (const email of [uniqueEmail("nobody"), disabled.email, deleted.email]) {
      const response = await requestReset(String(email));
      expect(response.status).toBe(202);
      expect(Object.keys(await json(response))).toEqual(["expiresAt"]);
    }
    expect(await counts()).toEqual(before);
  });

  it("bad input → 400 naming the field", async () => {
    const problem = await expectProblem(await requestReset("not an email"), 400, "VALIDATION_FAILED");
    expect(problem.errors?.[0]?.field).toBe("email");
  });
});

describe("POST /v1/password-resets/confirm", () => {
  it("sets the password, spends the token, audits, emits user.password_reset, moves the ETag", async () => {
    const user = await createUser(tenant, { password: "old password 1" });
    const etag = (await call("GET", `/v1/users/${user.id}`, { token: tenant.key })).headers.get("etag");
    await requestReset(user.email);
    const token = await mailedToken(tenant, REQUESTED, user.id);

    expect((await confirmReset(token, "brand new password")).status).toBe(204);
    const hash = await storedHash(user.id);
    expect((await verifyPassword(env, "brand new password", hash)).ok).toBe(true);
    expect((await verifyPassword(env, "old password 1", hash)).ok).toBe(false);
    expect((await tokenRows(tenant, user.id))[0]?.used_at).not.toBeNull();
    expect((await call("GET", `/v1/users/${user.id}`, { token: tenant.key })).headers.get("etag")).not.toBe(etag);
    const reset = (await auditActions(user.id)).find((e) => e.action === "user.password_reset");
    expect(reset?.changes).toEqual({ password: { from: "[redacted]", to: "[redacted]" } });
    const [event] = await eventsOf(tenant, "user.password_reset", user.id);
    expect(event?.secret_sealed).toBeNull();
    expect(await dumpDatabase(await tenantDatabase(tenant.id))).not.toContain("brand new password");
  });

  it("used, unknown and expired tokens all get the same 400 INVALID_TOKEN, and change nothing", async () => {
    const user = await createUser(tenant, { password: "old password 1" });
    await requestReset(user.email);
    const used = await mailedToken(tenant, REQUESTED, user.id);
    expect((await confirmReset(used, "first new password")).status).toBe(204);
    await requestReset(user.email);
    const expired = await mailedToken(tenant, REQUESTED, user.id);
    const db = await tenantDatabase(tenant.id);
    await db
      .prepare("UPDATE user_tokens SET expires_at = ? WHERE token_hash = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), await sha256(expired))
      .run();
    const hash = await storedHash(user.id);
    const details = new Set<string>();
    for (const token of [used, expired, "A".repeat(43), "x"]) {
      const problem = await expectProblem(await confirmReset(token, "second new password"), 400, "INVALID_TOKEN");
      details.add(problem.detail);
    }
    expect(details.size).toBe(1);
    expect(await storedHash(user.id)).toBe(hash);

    // the daily job drops the expired token's row and keeps the live one
    await requestReset(user.email);
    const live = await mailedToken(tenant, REQUESTED, user.id);
    await runCron("17 3 * * *");
    const remaining = (await db.prepare("SELECT token_hash FROM user_tokens").all<{ token_hash: string }>()).results;
    expect(remaining.map((r) => r.token_hash)).toContain(await sha256(live));
    expect(remaining.map((r) => r.token_hash)).not.toContain(await sha256(expired));
  });

  it("two concurrent confirms of one token: exactly one succeeds", async () => {
    const user = await createUser(tenant);
    await requestReset(user.email);
    const token = await mailedToken(tenant, REQUESTED, user.id);
    const responses = await Promise.all([
      confirmReset(token, "racer number one"),
      confirmReset(token, "racer number two"),
    ]);
    expect(responses.map((r) => r.status).sort()).toEqual([204, 400]);
    const winner = responses[0]?.status === 204 ? "racer number one" : "racer number two";
    expect((await verifyPassword(env, winner, await storedHash(user.id))).ok).toBe(true);
    expect((await eventsOf(tenant, "user.password_reset", user.id)).length).toBe(1);
  });

  it("a confirm voids the user's other outstanding reset tokens", async () => {
    const user = await createUser(tenant);
    await requestReset(user.email);
    const older = await mailedToken(tenant, REQUESTED, user.id);
    await requestReset(user.email);
    const newer = await mailedToken(tenant, REQUESTED, user.id);
    expect(newer).not.toBe(older);
    expect((await confirmReset(newer, "the newest password")).status).toBe(204);
    await expectProblem(await confirmReset(older, "an older mail's go"), 400, "INVALID_TOKEN");
  });

  it("a password the tenant's policy refuses → 400 field error, and the token still works", async () => {
    const strict = await createTenant({ name: "Strict resets" });
    await call("PUT", "/v1/security-policy", { token: strict.key, body: { password: { minLength: 20 } } });
    const user = await createUser(strict);
    await call("POST", "/v1/password-resets", { token: strict.key, body: { email: user.email } });
    const token = await mailedToken(strict, REQUESTED, user.id);
    const confirm = (password: string) =>
      call("POST", "/v1/password-resets/confirm", { token: strict.key, body: { token, password } });
    const problem = await expectProblem(await confirm("only nineteen chars"), 400, "VALIDATION_FAILED");
    expect(problem.errors).toEqual([{ field: "password", code: "too_short", detail: expect.any(String) }]);
    expect((await confirm("twenty characters ok")).status).toBe(204);
  });

  it("revokes the user's existing access tokens at once (the user's credential Durable Object)", async () => {
    const user = await createUser(tenant);
    const guard = credentialGuard(env, `user:${tenant.id}:${user.id}`);
    const issuedAtMs = Date.now() - 60_000;
    expect(await guard.check({ issuedAtMs })).toEqual({ ok: true });
    await requestReset(user.email);
    expect((await confirmReset(await mailedToken(tenant, REQUESTED, user.id), "signed out everywhere")).status).toBe(
      204,
    );
    expect(await guard.check({ issuedAtMs })).toEqual({ ok: false, reason: "revoked" });
    expect(await guard.check({ issuedAtMs: Date.now() + 1 })).toEqual({ ok: true });
  });

  it("a token of one tenant does not work in another", async () => {
    const other = await createTenant({ name: "Other resets" });
    const user = await createUser(tenant);
    await requestReset(user.email);
    const token = await mailedToken(tenant, REQUESTED, user.id);
    await expectProblem(
      await call("POST", "/v1/password-resets/confirm", {
        token: other.key,
        body: { token, password: "cross tenant pw" },
      }),
      400,
      "INVALID_TOKEN",
    );
    expect((await confirmReset(token, "still works here")).status).toBe(204);
  });
});

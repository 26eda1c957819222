import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { throttleGuard } from "../../src/core/auth/throttle";
import { ipBucket } from "../../src/core/http/client-address";
import { authenticateUser, LOGIN_DESCRIPTIONS } from "../../src/modules/login/login.service";
import { accountThrottleName } from "../../src/modules/login/login.throttle";
import { call, createTenant, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";
import {
  createLoginUser,
  createPasswordClient,
  expectRefused,
  expectSuccess,
  letLockLapse,
  login,
  loginContext,
  PASSWORD,
  passwordGrant,
} from "./helpers";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Login" });
});

async function rowsAbout(userId: string | null, requestIds?: string[]) {
  const db = await tenantDatabase(tenant.id);
  const audit = await db
    .prepare("SELECT * FROM audit_events WHERE action LIKE 'user.login%' AND resource_id IS ? ORDER BY seq")
    .bind(userId)
    .all<Record<string, unknown>>();
  const events = await db
    .prepare("SELECT * FROM outbox_events WHERE type LIKE 'user.login%' AND subject_id IS ? ORDER BY created_at, id")
    .bind(userId)
    .all<Record<string, unknown>>();
  const filter = (rows: Record<string, unknown>[]) =>
    requestIds ? rows.filter((r) => requestIds.includes(String(r.request_id))) : rows;
  return { audit: filter(audit.results), events: events.results };
}

describe("password login", () => {
  it("the right password → ok with the user's id and roles; last login, audit and a user.login event are written", async () => {
    const user = await createLoginUser(tenant, { roles: ["manager"] });
    const result = expectSuccess(await login(tenant, { identifier: user.email, password: PASSWORD }));
    expect(result.user).toEqual({ id: user.id, roles: ["manager"] });

    const read = await json<{ lastLoginAt: string | null }>(
      await call("GET", `/v1/users/${user.id}`, { token: tenant.key }),
    );
    expect(read.lastLoginAt).not.toBeNull();
    const { audit, events } = await rowsAbout(user.id);
    expect(audit.map((r) => r.action)).toEqual(["user.login"]);
    expect(audit[0]?.actor_type).toBe("client");
    expect(events.map((r) => [r.type, JSON.parse(String(r.data))])).toEqual([
      // device: a keyed hash of the user agent, never the agent itself (login.device.ts)
      ["user.login", { userId: user.id, method: "password", device: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) }],
    ]);
  });

  it("works with the username too, in any case, and with the email in any case", async () => {
    const username = `Ada${crypto.randomUUID().slice(0, 6)}`;
    const user = await createLoginUser(tenant, { username });
    expectSuccess(await login(tenant, { identifier: username.toUpperCase(), password: PASSWORD }));
    expectSuccess(await login(tenant, { identifier: ` ${user.email.toUpperCase()} `, password: PASSWORD }));
  });

  it("a wrong password and an unknown user get the same answer, word for word; neither row holds the password or the identifier", async () => {
    const user = await createLoginUser(tenant);
    const wrongPassword = "not the password 1";
    const unknownEmail = uniqueEmail("nobody");
    const wrong = expectRefused(await login(tenant, { identifier: user.email, password: wrongPassword }));
    const unknown = expectRefused(await login(tenant, { identifier: unknownEmail, password: wrongPassword }));
    const { statements: s1, ...shape1 } = wrong;
    const { statements: s2, ...shape2 } = unknown;
    expect(shape1).toEqual(shape2);
    expect(shape1).toEqual({ ok: false, error: "invalid_grant", description: LOGIN_DESCRIPTIONS.invalidCredentials });
    expect(s1.length).toBe(s2.length);

    const known = await rowsAbout(user.id);
    expect(known.audit.map((r) => r.action)).toEqual(["user.login_failed"]);
    expect(JSON.parse(String(known.events[0]?.data))).toEqual({ userId: user.id, reason: "invalid_password" });
    const db = await tenantDatabase(tenant.id);
    const anonymous = await db
      .prepare("SELECT data FROM outbox_events WHERE type = 'user.login_failed' AND subject_id IS NULL")
      .all<{ data: string }>();
    expect(anonymous.results.map((r) => JSON.parse(r.data))).toContainEqual({ userId: null, reason: "unknown_user" });

    const rows = JSON.stringify(
      (await db.prepare("SELECT * FROM audit_events").all()).results.concat(
        (await db.prepare("SELECT * FROM outbox_events").all()).results,
      ),
    );
    expect(rows).not.toContain(wrongPassword);
    expect(rows).not.toContain(PASSWORD);
    expect(rows).not.toContain(unknownEmail);
    expect(rows).not.toContain(user.email);
  });

  it("a disabled user and a user without a password are refused like a wrong password, even with the right one", async () => {
    const disabled = await createLoginUser(tenant);
    const patched = await call("PATCH", `/v1/users/${disabled.id}`, {
      token: tenant.key,
      body: { status: "disabled" },
    });
    expect(patched.status).toBe(200);
    const refused = expectRefused(await login(tenant, { identifier: disabled.email, password: PASSWORD }));
    expect(refused.description).toBe(LOGIN_DESCRIPTIONS.invalidCredentials);
    expect(refused.retryAfterSeconds).toBeUndefined();

    const passwordless = await createLoginUser(tenant, { password: undefined });
    const none = expectRefused(await login(tenant, { identifier: passwordless.email, password: PASSWORD }));
    expect(none.description).toBe(LOGIN_DESCRIPTIONS.invalidCredentials);
    const events = await rowsAbout(disabled.id);
    expect(JSON.parse(String(events.events[0]?.data)).reason).toBe("user_disabled");
  });

  it("a deleted user cannot log in", async () => {
    const user = await createLoginUser(tenant);
    expect((await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key })).status).toBe(200);
    const refused = expectRefused(await login(tenant, { identifier: user.email, password: PASSWORD }));
    expect(refused.description).toBe(LOGIN_DESCRIPTIONS.invalidCredentials);
  });
});

describe("rehash on login", () => {
  it("a legacy PBKDF2 hash is replaced by the current kind on a successful login, and the password keeps working", async () => {
    const user = await createLoginUser(tenant);
    const db = await tenantDatabase(tenant.id);
    await db
      .prepare("UPDATE users SET password_hash = ? WHERE id = ?")
      .bind(await legacyHash(PASSWORD), user.id)
      .run();
    const versionBefore = await versionOf(user.id);

    expectSuccess(await login(tenant, { identifier: user.email, password: PASSWORD }));
    const rehashed = await hashOf(user.id);
    expect(rehashed).toMatch(/^\$scrypt\$/);
    expect(await versionOf(user.id)).toBe(versionBefore + 1);
    const { audit } = await rowsAbout(user.id);
    expect(JSON.parse(String(audit.at(-1)?.changes))).toEqual({ password: { from: "[redacted]", to: "[redacted]" } });

    expectSuccess(await login(tenant, { identifier: user.email, password: PASSWORD }));
    expect(await hashOf(user.id)).toBe(rehashed); // current: not hashed again
    expectRefused(await login(tenant, { identifier: user.email, password: "wrong password" }));
  });

  it("a wrong password does not rehash a legacy hash", async () => {
    const user = await createLoginUser(tenant);
    const db = await tenantDatabase(tenant.id);
    const legacy = await legacyHash(PASSWORD);
    await db.prepare("UPDATE users SET password_hash = ? WHERE id = ?").bind(legacy, user.id).run();
    expectRefused(await login(tenant, { identifier: user.email, password: "wrong password" }));
    expect(await hashOf(user.id)).toBe(legacy);
  });
});

describe("brute-force throttling", () => {
  it("per account: five failures are free, then each locks for twice as long; a locked attempt is refused unchecked; a success resets", async () => {
    const user = await createLoginUser(tenant);
    const name = await accountThrottleName(env, tenant.id, user.email);
    const fail = () => login(tenant, { identifier: user.email, password: "wrong password" });
    for (let i = 1; i <= 5; i++) expect(expectRefused(await fail()).retryAfterSeconds).toBeUndefined();
    const sixth = expectRefused(await fail());
    expect(sixth.retryAfterSeconds).toBe(2);
    expect(sixth.description).toBe(LOGIN_DESCRIPTIONS.invalidCredentials);

    // locked: even the right password is refused, without being checked or written down
    const ctx = await loginContext(tenant);
    const locked = expectRefused(await authenticateUser(ctx, { identifier: user.email, password: PASSWORD, ip: null }));
    expect(locked.description).toBe(LOGIN_DESCRIPTIONS.locked);
    expect(locked.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(locked.retryAfterSeconds).toBeLessThanOrEqual(2);
    expect(locked.statements).toEqual([]);

    await letLockLapse(name);
    expect(expectRefused(await fail()).retryAfterSeconds).toBe(4);
    await letLockLapse(name);
    expectSuccess(await login(tenant, { identifier: user.email, password: PASSWORD }));
    // a fresh start: the next failure is free again
    expect(expectRefused(await fail()).retryAfterSeconds).toBeUndefined();
  });

  it("an unknown identifier is locked exactly like a real account (so a lockout reveals nothing); case does not matter", async () => {
    const email = uniqueEmail("ghost");
    const results = [];
    for (let i = 0; i < 6; i++) {
      results.push(await login(tenant, { identifier: i % 2 ? email.toUpperCase() : email, password: "guess" }));
    }
    expect(results.map((r) => (r.ok ? "ok" : (r.retryAfterSeconds ?? null)))).toEqual([
      null,
      null,
      null,
      null,
      null,
      2,
    ]);
    const locked = expectRefused(await login(tenant, { identifier: email, password: "guess" }));
    expect(locked.description).toBe(LOGIN_DESCRIPTIONS.locked);
  });

  it("per IP: after 50 failures from one address, every account is locked from it, and only from it", async () => {
    const ip = "198.51.100.23";
    const victim = await createLoginUser(tenant);
    // fifty failed attempts from the address, as fifty logins would have counted them (each begins as a failure)
    const guard = throttleGuard(env, `ip:${tenant.id}:${ipBucket(ip)}`);
    for (let i = 0; i < 50; i++) expect((await guard.throttleBegin("ip")).allowed).toBe(true);

    const fiftyFirst = expectRefused(await login(tenant, { identifier: uniqueEmail("spray"), password: "guess", ip }));
    expect(fiftyFirst.retryAfterSeconds).toBe(2);
    const blocked = expectRefused(await login(tenant, { identifier: victim.email, password: PASSWORD, ip }));
    expect(blocked.description).toBe(LOGIN_DESCRIPTIONS.locked);
    expectSuccess(await login(tenant, { identifier: victim.email, password: PASSWORD, ip: "198.51.100.24" }));
  });

  it("successes from an address neither count against it nor clear its failures", async () => {
    const ip = "2001:db8:1:2:aaaa::1";
    const user = await createLoginUser(tenant);
    const guard = throttleGuard(env, `ip:${tenant.id}:${ipBucket(ip)}`);
    for (let i = 0; i < 49; i++) await guard.throttleBegin("ip");
    for (let i = 0; i < 2; i++) expectSuccess(await login(tenant, { identifier: user.email, password: PASSWORD, ip }));
    const other = uniqueEmail("spray");
    // another address of the same IPv6 /64 counts in the same bucket
    const fiftieth = expectRefused(
      await login(tenant, { identifier: other, password: "guess", ip: "2001:db8:1:2::99" }),
    );
    expect(fiftieth.retryAfterSeconds).toBeUndefined();
    const fiftyFirst = expectRefused(await login(tenant, { identifier: other, password: "guess", ip }));
    expect(fiftyFirst.retryAfterSeconds).toBe(2);
  });
});

describe("through POST /oauth/token (grant_type=password)", () => {
  it("a wrong password and an unknown user get the same 400 invalid_grant body; a lock answers with Retry-After", async () => {
    const client = await createPasswordClient(tenant);
    const user = await createLoginUser(tenant);
    const wrong = await passwordGrant(client, { username: user.email, password: "wrong password" });
    const unknown = await passwordGrant(client, { username: uniqueEmail("nobody"), password: "wrong password" });
    expect(wrong).toEqual(unknown);
    expect(wrong).toEqual({
      status: 400,
      retryAfter: null,
      body: { error: "invalid_grant", error_description: LOGIN_DESCRIPTIONS.invalidCredentials },
    });

    const ghost = uniqueEmail("ghost");
    for (let i = 0; i < 5; i++) await passwordGrant(client, { username: ghost, password: "guess" });
    const sixth = await passwordGrant(client, { username: ghost, password: "guess" });
    expect(sixth).toMatchObject({ status: 400, retryAfter: "2", body: { error: "invalid_grant" } });
    const locked = await passwordGrant(client, { username: ghost, password: "guess" });
    expect(locked.body).toEqual({ error: "invalid_grant", error_description: LOGIN_DESCRIPTIONS.locked });
    expect(Number(locked.retryAfter)).toBeGreaterThanOrEqual(1);

    const granted = await passwordGrant(client, { username: user.email, password: PASSWORD });
    expect(granted.status).toBe(200);
  });
});

async function hashOf(userId: string): Promise<string> {
  const db = await tenantDatabase(tenant.id);
  const row = await db
    .prepare("SELECT password_hash FROM users WHERE id = ?")
    .bind(userId)
    .first<{ password_hash: string }>();
  return String(row?.password_hash);
}

async function versionOf(userId: string): Promise<number> {
  const db = await tenantDatabase(tenant.id);
  const row = await db.prepare("SELECT version FROM users WHERE id = ?").bind(userId).first<{ version: number }>();
  return Number(row?.version);
}

/** A PBKDF2-SHA256 PHC hash as the service wrote them before scrypt, computed here with WebCrypto. */
async function legacyHash(password: string, iterations = 10_000): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
  const b64url = (bytes: Uint8Array) =>
    btoa(String.fromCharCode(...bytes))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
  return `$pbkdf2-sha256$i=${iterations}$${b64url(salt)}$${b64url(new Uint8Array(bits))}`;
}

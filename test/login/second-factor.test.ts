import { beforeAll, describe, expect, it } from "vitest";
import { isAssertionFailure } from "../../src/core/db/statements";
import { authenticateUser, LOGIN_DESCRIPTIONS } from "../../src/modules/login/login.service";
import { forgetSecurityPolicy } from "../../src/modules/security-policy/security-policy.service";
import { call, createTenant, type TestTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";
import {
  codeFor,
  createLoginUser,
  createPasswordClient,
  enrolTotp,
  expectRefused,
  expectSuccess,
  login,
  loginContext,
  PASSWORD,
  passwordGrant,
  wrongCodeFor,
} from "./helpers";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Login 2FA" });
});

async function loginEvents(userId: string) {
  const db = await tenantDatabase(tenant.id);
  const { results } = await db
    .prepare("SELECT type, data FROM outbox_events WHERE subject_id = ? AND type LIKE 'user.login%' ORDER BY id")
    .bind(userId)
    .all<{ type: string; data: string }>();
  return results.map((r) => ({ type: r.type, ...JSON.parse(r.data) }));
}

describe("TOTP at login", () => {
  it("without a code → mfa_required (not a failure: asking again never locks); a current code → ok; the same code again → refused", async () => {
    const user = await createLoginUser(tenant);
    const { secret } = await enrolTotp(tenant, user.id);
    for (let i = 0; i < 7; i++) {
      const asked = expectRefused(await login(tenant, { identifier: user.email, password: PASSWORD }), "mfa_required");
      expect(asked.description).toBe(LOGIN_DESCRIPTIONS.mfaRequired);
      expect(asked.statements).toEqual([]);
    }
    const code = await codeFor(secret);
    expectSuccess(await login(tenant, { identifier: user.email, password: PASSWORD, totp: code }));
    const replayed = expectRefused(await login(tenant, { identifier: user.email, password: PASSWORD, totp: code }));
    expect(replayed.description).toBe(LOGIN_DESCRIPTIONS.invalidSecondFactor);
    const events = await loginEvents(user.id);
    expect(events).toContainEqual({
      type: "user.login",
      userId: user.id,
      method: "password+totp",
      device: expect.any(String),
    });
    expect(events).toContainEqual({ type: "user.login_failed", userId: user.id, reason: "invalid_second_factor" });
  });

  it("a wrong password with a right code is a wrong password", async () => {
    const user = await createLoginUser(tenant);
    const { secret } = await enrolTotp(tenant, user.id);
    const refused = expectRefused(
      await login(tenant, { identifier: user.email, password: "wrong password", totp: await codeFor(secret) }),
    );
    expect(refused.description).toBe(LOGIN_DESCRIPTIONS.invalidCredentials);
  });

  it("wrong codes count as failures: the sixth locks the account", async () => {
    const user = await createLoginUser(tenant);
    const { secret } = await enrolTotp(tenant, user.id);
    const wrong = await wrongCodeFor(secret);
    const results = [];
    for (let i = 0; i < 6; i++) {
      results.push(expectRefused(await login(tenant, { identifier: user.email, password: PASSWORD, totp: wrong })));
    }
    expect(results.map((r) => r.retryAfterSeconds ?? null)).toEqual([null, null, null, null, null, 2]);
    const locked = expectRefused(
      await login(tenant, { identifier: user.email, password: PASSWORD, totp: await codeFor(secret) }),
    );
    expect(locked.description).toBe(LOGIN_DESCRIPTIONS.locked);
  });

  it("a code replayed concurrently: both logins check out, only one batch commits", async () => {
    const user = await createLoginUser(tenant);
    const { secret } = await enrolTotp(tenant, user.id);
    const code = await codeFor(secret);
    const attempt = { identifier: user.email, password: PASSWORD, totp: code, ip: null };
    const [ctxA, ctxB] = await Promise.all([loginContext(tenant, null), loginContext(tenant, null)]);
    const [a, b] = await Promise.all([authenticateUser(ctxA, attempt), authenticateUser(ctxB, attempt)]);
    const batches = await Promise.allSettled([
      ctxA.db.batch(expectSuccess(a).statements),
      ctxB.db.batch(expectSuccess(b).statements),
    ]);
    expect(batches.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = batches.find((r) => r.status === "rejected");
    expect(isAssertionFailure(rejected?.reason)).toBe(true);
    // the losing batch wrote nothing: one login event, one audit row
    expect((await loginEvents(user.id)).filter((e) => e.type === "user.login")).toHaveLength(1);
  });

  it("a recovery code works once, typed in any case with or without dashes; another user's code does not work", async () => {
    const user = await createLoginUser(tenant);
    const other = await createLoginUser(tenant);
    const { recoveryCodes } = await enrolTotp(tenant, user.id);
    const { recoveryCodes: othersCodes } = await enrolTotp(tenant, other.id);
    const code = recoveryCodes[3] as string;
    const typed = code.replaceAll("-", "").toUpperCase();
    expectSuccess(await login(tenant, { identifier: user.email, password: PASSWORD, totp: typed }));
    expectRefused(await login(tenant, { identifier: user.email, password: PASSWORD, totp: code }));
    expectRefused(await login(tenant, { identifier: user.email, password: PASSWORD, totp: othersCodes[0] }));
    expectSuccess(await login(tenant, { identifier: user.email, password: PASSWORD, totp: recoveryCodes[4] }));
    expect((await loginEvents(user.id)).filter((e) => e.type === "user.login")).toEqual([
      { type: "user.login", userId: user.id, method: "password+recovery_code", device: expect.any(String) },
      { type: "user.login", userId: user.id, method: "password+recovery_code", device: expect.any(String) },
    ]);
    const db = await tenantDatabase(tenant.id);
    const used = await db
      .prepare("SELECT count(*) AS n FROM user_recovery_codes WHERE user_id = ? AND used_at IS NOT NULL")
      .bind(user.id)
      .first<{ n: number }>();
    expect(used?.n).toBe(2);
  });

  it("through POST /oauth/token: mfa_required without totp, tokens with it, invalid_grant on replay", async () => {
    const client = await createPasswordClient(tenant);
    const user = await createLoginUser(tenant);
    const { secret } = await enrolTotp(tenant, user.id);
    const form = { username: user.email, password: PASSWORD };
    const asked = await passwordGrant(client, form);
    expect(asked).toMatchObject({ status: 400, body: { error: "mfa_required" } });
    const code = await codeFor(secret);
    const granted = await passwordGrant(client, { ...form, totp: code });
    expect(granted.status).toBe(200);
    expect(granted.body.access_token).toBeTruthy();
    const replayed = await passwordGrant(client, { ...form, totp: code });
    expect(replayed).toMatchObject({
      status: 400,
      body: { error: "invalid_grant", error_description: LOGIN_DESCRIPTIONS.invalidSecondFactor },
    });
  });
});

describe("2FA required for a role (tenant policy)", () => {
  let strict: TestTenant;

  beforeAll(async () => {
    strict = await createTenant({ name: "Strict 2FA" });
    const put = await call("PUT", "/v1/security-policy", {
      token: strict.key,
      body: { mfa: { requiredForRoles: ["manager"] } },
    });
    expect(put.status).toBe(200);
    forgetSecurityPolicy(strict.id);
  });

  it("a manager without TOTP → mfa_enrollment_required (the password was right: never counted); a basic user logs in", async () => {
    const manager = await createLoginUser(strict, { roles: ["manager"] });
    const basic = await createLoginUser(strict, { roles: ["basic"] });
    for (let i = 0; i < 7; i++) {
      const refused = expectRefused(
        await login(strict, { identifier: manager.email, password: PASSWORD }),
        "mfa_enrollment_required",
      );
      expect(refused.description).toBe(LOGIN_DESCRIPTIONS.enrollmentRequired);
    }
    // a wrong password stays a wrong password
    expectRefused(await login(strict, { identifier: manager.email, password: "wrong password" }));
    expectSuccess(await login(strict, { identifier: basic.email, password: PASSWORD }));
    const db = await tenantDatabase(strict.id);
    const { results } = await db
      .prepare("SELECT data FROM outbox_events WHERE subject_id = ? AND type = 'user.login_failed'")
      .bind(manager.id)
      .all<{ data: string }>();
    expect(results.map((r) => JSON.parse(r.data).reason)).toContain("mfa_enrollment_required");
  });

  it("once the manager enrols, the code is asked for and accepted", async () => {
    const manager = await createLoginUser(strict, { roles: ["manager"] });
    const { secret } = await enrolTotp(strict, manager.id);
    expectRefused(await login(strict, { identifier: manager.email, password: PASSWORD }), "mfa_required");
    const ok = expectSuccess(
      await login(strict, { identifier: manager.email, password: PASSWORD, totp: await codeFor(secret) }),
    );
    expect(ok.user.roles).toEqual(["manager"]);
  });
});

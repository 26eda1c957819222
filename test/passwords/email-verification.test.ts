import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { dumpDatabase, sha256, tenantDatabase } from "../helpers/db";
import { eventsOf, mailedToken, tokenRows } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Email verification" });
});

const REQUESTED = "user.email_verification_requested";

function requestVerification(userId: string) {
  return call("POST", `/v1/users/${userId}/email-verifications`, { token: tenant.key });
}

function confirmVerification(token: string) {
  return call("POST", "/v1/email-verifications/confirm", { token: tenant.key, body: { token } });
}

async function emailVerified(userId: string): Promise<unknown> {
  return (await json(await call("GET", `/v1/users/${userId}`, { token: tenant.key }))).emailVerified;
}

async function verifiedUser() {
  const user = await createUser(tenant);
  await requestVerification(user.id);
  expect((await confirmVerification(await mailedToken(tenant, REQUESTED, user.id))).status).toBe(204);
  return user;
}

describe("email verification", () => {
  it("a new user is not verified; request → 202 (24 h token, sealed in the event); confirm → verified, audited", async () => {
    const user = await createUser(tenant);
    expect(user.emailVerified).toBe(false);
    const before = Date.now();
    const response = await requestVerification(user.id);
    expect(response.status).toBe(202);
    const { expiresAt } = await json<{ expiresAt: string }>(response);
    expect(Date.parse(expiresAt) - before).toBeGreaterThan(23 * 3600 * 1000);
    const token = await mailedToken(tenant, REQUESTED, user.id);
    const [row] = await tokenRows(tenant, user.id);
    expect(row).toMatchObject({ token_hash: await sha256(token), purpose: "email_verification", used_at: null });
    expect(await dumpDatabase(await tenantDatabase(tenant.id))).not.toContain(token);

    expect((await confirmVerification(token)).status).toBe(204);
    expect(await emailVerified(user.id)).toBe(true);
    expect((await tokenRows(tenant, user.id))[0]?.used_at).not.toBeNull();
    expect(await eventsOf(tenant, "user.email_verified", user.id)).toHaveLength(1);
    const audit = await json<{ data: { action: string; changes: unknown }[] }>(
      await call("GET", `/v1/audit-events?resourceId=${user.id}&action=user.email_verified`, { token: tenant.key }),
    );
    expect(audit.data[0]?.changes).toEqual({ emailVerified: { from: false, to: true } });
  });

  it("a token works once; unknown tokens and reset tokens are 400 INVALID_TOKEN", async () => {
    const user = await createUser(tenant);
    await requestVerification(user.id);
    const token = await mailedToken(tenant, REQUESTED, user.id);
    expect((await confirmVerification(token)).status).toBe(204);
    await expectProblem(await confirmVerification(token), 400, "INVALID_TOKEN");
    await expectProblem(await confirmVerification("B".repeat(43)), 400, "INVALID_TOKEN");

    const other = await createUser(tenant);
    await call("POST", "/v1/password-resets", { token: tenant.key, body: { email: other.email } });
    const resetToken = await mailedToken(tenant, "user.password_reset_requested", other.id);
    await expectProblem(await confirmVerification(resetToken), 400, "INVALID_TOKEN");
    expect(await emailVerified(other.id)).toBe(false);
    // and a verification token does not reset a password
    await requestVerification(other.id);
    const verification = await mailedToken(tenant, REQUESTED, other.id);
    await expectProblem(
      await call("POST", "/v1/password-resets/confirm", {
        token: tenant.key,
        body: { token: verification, password: "not with this token" },
      }),
      400,
      "INVALID_TOKEN",
    );
  });

  it("a new email is no longer verified, and tokens mailed to the old one stop working", async () => {
    const user = await verifiedUser();
    await requestVerification(user.id);
    const pending = await mailedToken(tenant, REQUESTED, user.id);
    const renamed = await call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: { name: "Renamed" } });
    expect(renamed.status).toBe(200);
    expect(await emailVerified(user.id)).toBe(true);

    const patched = await call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: { email: uniqueEmail() } });
    expect(patched.status).toBe(200);
    expect(await emailVerified(user.id)).toBe(false);
    await expectProblem(await confirmVerification(pending), 400, "INVALID_TOKEN");
    expect(await emailVerified(user.id)).toBe(false);
  });

  it("a case-only change of the email keeps it verified (the same address)", async () => {
    const user = await verifiedUser();
    const upper = String(user.email).toUpperCase();
    expect((await call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: { email: upper } })).status).toBe(
      200,
    );
    expect(await emailVerified(user.id)).toBe(true);
  });

  it("missing or deleted users → 404, nothing issued", async () => {
    await expectProblem(await requestVerification("usr_missing"), 404, "USER_NOT_FOUND");
    const user = await createUser(tenant);
    await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key });
    await expectProblem(await requestVerification(user.id), 404, "USER_NOT_FOUND");
    expect(await tokenRows(tenant, user.id)).toEqual([]);
  });

  it("a user deleted after the mail cannot confirm it", async () => {
    const user = await createUser(tenant);
    await requestVerification(user.id);
    const token = await mailedToken(tenant, REQUESTED, user.id);
    await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key });
    await expectProblem(await confirmVerification(token), 400, "INVALID_TOKEN");
  });
});

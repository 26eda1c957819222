import { env } from "cloudflare:test";
import { generate } from "otplib";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, dumpDatabase, tenantDatabase } from "../helpers/db";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "MFA" });
});

interface Enrolment {
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

async function start(userId: string, body?: unknown) {
  return call("POST", `/v1/users/${userId}/mfa/totp`, { token: tenant.key, ...(body === undefined ? {} : { body }) });
}

async function verifyCode(userId: string, code: string) {
  return call("POST", `/v1/users/${userId}/mfa/totp/verify`, { token: tenant.key, body: { code } });
}

async function mfaOf(userId: string) {
  const response = await call("GET", `/v1/users/${userId}`, { token: tenant.key });
  return { mfa: (await json<{ mfa: { totp: boolean } }>(response)).mfa, etag: response.headers.get("etag") };
}

/** A current code from the secret, by an outside implementation (otplib). */
function codeFor(secret: string, offsetSeconds = 0) {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSeconds });
}

describe("TOTP enrolment", () => {
  it("start → a base32 160-bit secret, an otpauth URI and a QR SVG; verify with an authenticator's code → active", async () => {
    const user = await createUser(tenant);
    const before = await mfaOf(user.id);
    const response = await start(user.id, { issuer: "Acme" });
    expect(response.status).toBe(201);
    const enrolment = await json<Enrolment>(response);
    expect(enrolment.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrolment.otpauthUri);
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.host).toBe("totp");
    expect(decodeURIComponent(uri.pathname)).toBe(`/Acme:${user.email}`);
    expect(Object.fromEntries(uri.searchParams)).toEqual({
      secret: enrolment.secret,
      issuer: "Acme",
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
    expect(enrolment.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>$/);
    expect((await mfaOf(user.id)).mfa.totp).toBe(false); // pending until proven

    const verified = await verifyCode(user.id, await codeFor(enrolment.secret));
    expect(verified.status).toBe(200);
    const { recoveryCodes } = await json<{ recoveryCodes: string[] }>(verified);
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
    const after = await mfaOf(user.id);
    expect(after.mfa.totp).toBe(true);
    expect(after.etag).not.toBe(before.etag);

    const audit = await json<{ data: { action: string }[] }>(
      await call("GET", `/v1/audit-events?resourceId=${user.id}`, { token: tenant.key }),
    );
    expect(audit.data.map((e) => e.action).slice(0, 2)).toEqual(["user.mfa_enabled", "user.mfa_enrollment_started"]);
  });

  it("a code of the previous or next 30 s step is accepted (drift); one two steps away is not", async () => {
    const user = await createUser(tenant);
    const { secret } = await json<Enrolment>(await start(user.id));
    await expectProblem(await verifyCode(user.id, await codeFor(secret, -90)), 400, "INVALID_TOTP_CODE");
    expect((await verifyCode(user.id, await codeFor(secret, -30))).status).toBe(200);
  });

  it("a wrong code → 400 INVALID_TOTP_CODE naming `code`, and TOTP stays off", async () => {
    const user = await createUser(tenant);
    const { secret } = await json<Enrolment>(await start(user.id));
    const right = await codeFor(secret);
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, "0");
    const problem = await expectProblem(await verifyCode(user.id, wrong), 400, "INVALID_TOTP_CODE");
    expect(problem.errors?.[0]?.field).toBe("code");
    expect((await mfaOf(user.id)).mfa.totp).toBe(false);
    const malformed = await expectProblem(await verifyCode(user.id, "12ab56"), 400, "VALIDATION_FAILED");
    expect(malformed.errors?.[0]?.field).toBe("code");
  });

  it("conflicts: verify without enrolment, start or verify when active, remove when off → 409", async () => {
    const user = await createUser(tenant);
    await expectProblem(await verifyCode(user.id, "123456"), 409, "MFA_NOT_PENDING");
    await expectProblem(
      await call("DELETE", `/v1/users/${user.id}/mfa/totp`, { token: tenant.key }),
      409,
      "MFA_NOT_ENABLED",
    );
    const { secret } = await json<Enrolment>(await start(user.id));
    const code = await codeFor(secret);
    expect((await verifyCode(user.id, code)).status).toBe(200);
    await expectProblem(await start(user.id), 409, "MFA_ALREADY_ENABLED");
    await expectProblem(await verifyCode(user.id, code), 409, "MFA_ALREADY_ENABLED");
  });

  it("a restarted enrolment replaces the pending secret: the old secret's codes no longer work", async () => {
    const user = await createUser(tenant);
    const first = await json<Enrolment>(await start(user.id));
    const second = await json<Enrolment>(await start(user.id));
    expect(second.secret).not.toBe(first.secret);
    const oldCode = await codeFor(first.secret);
    if (oldCode !== (await codeFor(second.secret))) {
      await expectProblem(await verifyCode(user.id, oldCode), 400, "INVALID_TOTP_CODE");
    }
    expect((await verifyCode(user.id, await codeFor(second.secret))).status).toBe(200);
  });

  it("DELETE removes TOTP and its recovery codes → 204, mfa.totp false, audited", async () => {
    const user = await createUser(tenant);
    const { secret } = await json<Enrolment>(await start(user.id));
    await verifyCode(user.id, await codeFor(secret));
    const removed = await call("DELETE", `/v1/users/${user.id}/mfa/totp`, { token: tenant.key });
    expect(removed.status).toBe(204);
    expect((await mfaOf(user.id)).mfa.totp).toBe(false);
    const db = await tenantDatabase(tenant.id);
    expect(await count(db, "user_recovery_codes", "user_id = ?", user.id)).toBe(0);
    const audit = await json<{ data: { action: string; changes: unknown }[] }>(
      await call("GET", `/v1/audit-events?resourceId=${user.id}&action=user.mfa_disabled`, { token: tenant.key }),
    );
    expect(audit.data[0]?.changes).toEqual({ "mfa.totp": { from: true, to: false } });
  });

  it("no secret or recovery code is stored in plaintext", async () => {
    const user = await createUser(tenant);
    const { secret } = await json<Enrolment>(await start(user.id));
    const { recoveryCodes } = await json<{ recoveryCodes: string[] }>(await verifyCode(user.id, await codeFor(secret)));
    const db = await tenantDatabase(tenant.id);
    const dump = await dumpDatabase(db);
    expect(dump).toContain("user_recovery_codes"); // the dump covers the MFA tables
    expect(dump).not.toContain(secret);
    for (const code of recoveryCodes) expect(dump).not.toContain(code);
  });

  it("bad input → 400, nothing started; unknown or deleted users → 404", async () => {
    const user = await createUser(tenant);
    const colon = await expectProblem(await start(user.id, { issuer: "Acme:Evil" }), 400, "VALIDATION_FAILED");
    expect(colon.errors?.[0]?.field).toBe("issuer");
    await expectProblem(await start(user.id, { issuer: "Acme", extra: 1 }), 400, "VALIDATION_FAILED");
    await expectProblem(await verifyCode(user.id, "123456"), 409, "MFA_NOT_PENDING");
    await expectProblem(await start("usr_missing"), 404, "USER_NOT_FOUND");
    await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key });
    await expectProblem(await start(user.id), 404, "USER_NOT_FOUND");
    expect(env.MASTER_KEY).toBeTruthy();
  });
});

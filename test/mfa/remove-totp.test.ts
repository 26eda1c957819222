import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import {
  codeFor,
  createLoginUser,
  createPasswordClient,
  enrolTotp,
  PASSWORD,
  type PasswordClient,
  passwordGrant,
  wrongCodeFor,
} from "../login/helpers";

/** DELETE /v1/users/{id}/mfa/totp: a code from users removing their own, none from callers with users:write. */

let tenant: TestTenant;
let client: PasswordClient;

beforeAll(async () => {
  tenant = await createTenant({ name: "Remove TOTP" });
  client = await createPasswordClient(tenant);
});

/** An enrolled basic user and their own access token (logged in with a code, which that spends). */
async function enrolledUserWithToken(roles = ["basic"]) {
  const user = await createLoginUser(tenant, { roles });
  const enrolment = await enrolTotp(tenant, user.id);
  const loginCode = await codeFor(enrolment.secret);
  const granted = await passwordGrant(client, { username: user.email, password: PASSWORD, totp: loginCode });
  expect(granted.status).toBe(200);
  return { user, ...enrolment, loginCode, token: String(granted.body.access_token) };
}

function remove(userId: string, token: string, body?: unknown) {
  return call("DELETE", `/v1/users/${userId}/mfa/totp`, { token, ...(body === undefined ? {} : { body }) });
}

async function totpOf(userId: string): Promise<boolean> {
  const response = await call("GET", `/v1/users/${userId}`, { token: tenant.key });
  return (await json<{ mfa: { totp: boolean } }>(response)).mfa.totp;
}

describe("removing one's own TOTP", () => {
  it("needs a code: none, a wrong one or the one spent at login → 400 INVALID_TOTP_CODE; a current one → 204", async () => {
    const { user, secret, loginCode, token } = await enrolledUserWithToken();
    const missing = await expectProblem(await remove(user.id, token), 400, "INVALID_TOTP_CODE");
    expect(missing.errors?.[0]).toMatchObject({ field: "code", code: "required" });
    const wrong = await expectProblem(
      await remove(user.id, token, { code: await wrongCodeFor(secret) }),
      400,
      "INVALID_TOTP_CODE",
    );
    expect(wrong.errors?.[0]).toMatchObject({ field: "code", code: "invalid_code" });
    await expectProblem(await remove(user.id, token, { code: loginCode }), 400, "INVALID_TOTP_CODE");
    expect(await totpOf(user.id)).toBe(true);

    expect((await remove(user.id, token, { code: await codeFor(secret, 30) })).status).toBe(204);
    expect(await totpOf(user.id)).toBe(false);
  });

  it("an unused recovery code also proves it", async () => {
    const { user, recoveryCodes, token } = await enrolledUserWithToken();
    expect((await remove(user.id, token, { code: recoveryCodes[0] })).status).toBe(204);
    expect(await totpOf(user.id)).toBe(false);
  });

  it("wrong codes are throttled: after five, each further one locks the check (429 with Retry-After), right code or not", async () => {
    const { user, secret, token } = await enrolledUserWithToken();
    const wrong = await wrongCodeFor(secret);
    for (let i = 0; i < 6; i++)
      await expectProblem(await remove(user.id, token, { code: wrong }), 400, "INVALID_TOTP_CODE");
    const locked = await remove(user.id, token, { code: await codeFor(secret, 30) });
    await expectProblem(locked, 429, "TOO_MANY_CODE_ATTEMPTS");
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await totpOf(user.id)).toBe(true);
  });

  it("a pending enrolment (nothing to protect yet) is cancelled without a code", async () => {
    const user = await createLoginUser(tenant);
    const granted = await passwordGrant(client, { username: user.email, password: PASSWORD });
    const token = String(granted.body.access_token);
    expect((await call("POST", `/v1/users/${user.id}/mfa/totp`, { token })).status).toBe(201);
    expect((await remove(user.id, token)).status).toBe(204);
  });
});

describe("removing someone's TOTP with users:write", () => {
  it("an admin API key needs no code", async () => {
    const { user } = await enrolledUserWithToken();
    expect((await remove(user.id, tenant.key)).status).toBe(204);
    expect(await totpOf(user.id)).toBe(false);
  });

  it("a manager's access token needs no code for another user, but does for their own TOTP", async () => {
    const { user: target } = await enrolledUserWithToken();
    const manager = await enrolledUserWithToken(["manager"]);
    expect((await remove(target.id, manager.token)).status).toBe(204);
    await expectProblem(await remove(manager.user.id, manager.token), 400, "INVALID_TOTP_CODE");
  });

  it("a basic user cannot remove another user's TOTP", async () => {
    const { user: target } = await enrolledUserWithToken();
    const other = await enrolledUserWithToken();
    await expectProblem(await remove(target.id, other.token, { code: "123456" }), 403);
    expect(await totpOf(target.id)).toBe(true);
  });
});

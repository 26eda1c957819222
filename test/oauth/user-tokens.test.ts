import { generate } from "otplib";
import { beforeAll, describe, expect, it } from "vitest";
import { BUILT_IN_ROLES } from "../../src/core/auth/permissions";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, dumpDatabase, tenantDatabase } from "../helpers/db";
import {
  createClient,
  createLoginUser,
  introspect,
  oauthError,
  PASSWORD,
  passwordGrant,
  postForm,
  refreshGrant,
  type TestClient,
  verifyWithJwks,
} from "./support";

let tenant: TestTenant;
let app: TestClient;

beforeAll(async () => {
  tenant = await createTenant({ name: "OAuth users" });
  app = await createClient(tenant, { grantTypes: ["password", "refresh_token"], roles: ["manager"] });
});

describe("password grant", () => {
  it("logs a user in by email or username: an access token with the user's roles, and a refresh token", async () => {
    const user = await createLoginUser(tenant, ["manager"]);
    const byEmail = await passwordGrant(app, user.email, PASSWORD);
    expect(byEmail.expires_in).toBe(900);
    expect(byEmail.refresh_token).toMatch(/^uom_rt_/);
    expect(byEmail.scope).toBe(BUILT_IN_ROLES.manager?.grants.join(" "));
    const { payload } = await verifyWithJwks(byEmail.access_token);
    expect(payload).toMatchObject({ sub: user.id, tid: tenant.id, client_id: app.clientId, roles: ["manager"] });
    expect(payload.sid).toMatch(/^ses_/);
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);

    const named = await createUser(tenant, { email: "named@example.com", username: "named.user", password: PASSWORD });
    const byUsername = await passwordGrant(app, "named.user", PASSWORD);
    expect((await verifyWithJwks(byUsername.access_token)).payload.sub).toBe(named.id);

    // stored: only the hash of the refresh token
    const dump = await dumpDatabase(await tenantDatabase(tenant.id));
    expect(dump).not.toContain(byEmail.refresh_token);
    expect(dump).not.toContain(PASSWORD);
  });

  it("a wrong password or unknown user is 400 invalid_grant, the same answer", async () => {
    const user = await createLoginUser(tenant);
    const wrong = await postForm(
      "/oauth/token",
      { grant_type: "password", username: user.email, password: "not the password" },
      { authorization: `Basic ${btoa(`${app.clientId}:${app.clientSecret}`)}` },
    );
    const unknown = await postForm(
      "/oauth/token",
      { grant_type: "password", username: "nobody@example.com", password: "not the password" },
      { authorization: `Basic ${btoa(`${app.clientId}:${app.clientSecret}`)}` },
    );
    expect(wrong.status).toBe(400);
    expect(unknown.status).toBe(400);
    expect(wrong.headers.get("cache-control")).toBe("no-store");
    const [a, b] = [await wrong.json(), await unknown.json()];
    expect(a).toEqual({ error: "invalid_grant", error_description: expect.any(String) });
    expect(b).toEqual(a);
  });

  it("a missing username or password is invalid_request", async () => {
    expect(await oauthError(passwordGrant(app, "", PASSWORD))).toEqual({ error: "invalid_request", status: 400 });
  });

  it("the user's token works with the user's roles: a manager manages users", async () => {
    const manager = await createLoginUser(tenant, ["manager"]);
    const { access_token } = await passwordGrant(app, manager.email, PASSWORD);
    const created = await call("POST", "/v1/users", { token: access_token, body: { email: "by-manager@example.com" } });
    expect(created.status).toBe(201);
    const trail = await json<{ data: { actor: { type: string; id: string } }[] }>(
      await call("GET", "/v1/audit-events?action=user.created&limit=1", { token: access_token }),
    );
    expect(trail.data[0]?.actor).toEqual({ type: "user", id: manager.id });
    await expectProblem(
      await call("POST", "/v1/api-keys", { token: access_token, body: { name: "x", roles: ["basic"] } }),
      403,
      "FORBIDDEN",
    );
  });

  it("a basic user reads only their own user", async () => {
    const basic = await createLoginUser(tenant, ["basic"]);
    const other = await createLoginUser(tenant, ["basic"]);
    const { access_token, scope } = await passwordGrant(app, basic.email, PASSWORD);
    expect(scope).toBe("me:read");
    expect((await call("GET", `/v1/users/${basic.id}`, { token: access_token })).status).toBe(200);
    await expectProblem(await call("GET", `/v1/users/${other.id}`, { token: access_token }), 403, "FORBIDDEN");
    await expectProblem(await call("GET", "/v1/users", { token: access_token }), 403, "FORBIDDEN");
  });

  it("the user's permissions are cut to the client's: an admin through a manager client is a manager", async () => {
    const admin = await createLoginUser(tenant, ["admin"]);
    const { scope, access_token } = await passwordGrant(app, admin.email, PASSWORD);
    expect(scope).toBe(BUILT_IN_ROLES.manager?.grants.join(" "));
    await expectProblem(await call("GET", "/v1/api-keys", { token: access_token }), 403, "FORBIDDEN");
  });

  it("passes a second factor through: mfa_required without `totp`, a token with a current code", async () => {
    const user = await createLoginUser(tenant, ["manager"]);
    const started = await call("POST", `/v1/users/${user.id}/mfa/totp`, { token: tenant.key });
    const { secret } = await json<{ secret: string }>(started);
    const now = Math.floor(Date.now() / 1000);
    const verified = await call("POST", `/v1/users/${user.id}/mfa/totp/verify`, {
      token: tenant.key,
      body: { code: await generate({ secret, epoch: now }) },
    });
    expect(verified.status).toBe(200);
    expect(await oauthError(passwordGrant(app, user.email, PASSWORD))).toEqual({ error: "mfa_required", status: 400 });
    // the next time step's code (the current one was spent activating)
    const tokens = await passwordGrant(app, user.email, PASSWORD, {
      totp: await generate({ secret, epoch: now + 30 }),
    });
    expect((await verifyWithJwks(tokens.access_token)).payload.sub).toBe(user.id);
  });

  it("a client without the refresh_token grant gets no refresh token", async () => {
    const noRefresh = await createClient(tenant, { grantTypes: ["password"], roles: ["manager"] });
    const user = await createLoginUser(tenant);
    const tokens = await passwordGrant(noRefresh, user.email, PASSWORD);
    expect(tokens.refresh_token).toBeUndefined();
    expect((await verifyWithJwks(tokens.access_token)).payload.sid).toMatch(/^ses_/);
  });
});

describe("refresh_token grant", () => {
  it("rotates: a new refresh token each time, in the same session, with the user's current roles", async () => {
    const user = await createLoginUser(tenant, ["manager"]);
    const first = await passwordGrant(app, user.email, PASSWORD);
    const second = await refreshGrant(app, first.refresh_token as string);
    expect(second.refresh_token).toMatch(/^uom_rt_/);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    const [a, b] = [await verifyWithJwks(first.access_token), await verifyWithJwks(second.access_token)];
    expect(b.payload.sid).toBe(a.payload.sid);
    expect(b.payload.jti).not.toBe(a.payload.jti);

    // demoted: the manager's access token stops at once, and the next refresh carries the new roles
    expect((await call("GET", "/v1/users", { token: second.access_token })).status).toBe(200);
    const demoted = await call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: { roles: ["basic"] } });
    expect(demoted.status).toBe(200);
    await expectProblem(await call("GET", "/v1/users", { token: second.access_token }), 401, "INVALID_CREDENTIAL");
    const third = await refreshGrant(app, second.refresh_token as string);
    expect(third.scope).toBe("me:read");
    expect((await verifyWithJwks(third.access_token)).payload.roles).toEqual(["basic"]);
  });

  it("reusing a refresh token revokes its whole session: the newest refresh token and its access tokens", async () => {
    const user = await createLoginUser(tenant, ["manager"]);
    const first = await passwordGrant(app, user.email, PASSWORD);
    const second = await refreshGrant(app, first.refresh_token as string);
    expect((await call("GET", "/v1/users", { token: second.access_token })).status).toBe(200);

    // the stolen first token is replayed
    expect(await oauthError(refreshGrant(app, first.refresh_token as string))).toEqual({
      error: "invalid_grant",
      status: 400,
    });
    expect(await oauthError(refreshGrant(app, second.refresh_token as string))).toEqual({
      error: "invalid_grant",
      status: 400,
    });
    await expectProblem(await call("GET", "/v1/users", { token: second.access_token }), 401, "INVALID_CREDENTIAL");
    await expectProblem(await call("GET", "/v1/users", { token: first.access_token }), 401, "INVALID_CREDENTIAL");
    expect((await introspect(app, second.access_token)).active).toBe(false);
    const db = await tenantDatabase(tenant.id);
    expect(await count(db, "audit_events", "action = 'oauth_session.revoked' AND resource_id = ?", user.id)).toBe(1);

    // another login of the same user is another session, unaffected
    const again = await passwordGrant(app, user.email, PASSWORD);
    expect((await call("GET", "/v1/users", { token: again.access_token })).status).toBe(200);
  });

  it("two concurrent refreshes with one token: at most one wins, and a replay is detected", async () => {
    const user = await createLoginUser(tenant, ["manager"]);
    const { refresh_token } = await passwordGrant(app, user.email, PASSWORD);
    const results = await Promise.allSettled([
      refreshGrant(app, refresh_token as string),
      refreshGrant(app, refresh_token as string),
    ]);
    expect(results.filter((r) => r.status === "fulfilled").length).toBeLessThanOrEqual(1);
    expect(results.some((r) => r.status === "rejected")).toBe(true);
    for (const r of results)
      if (r.status === "fulfilled") {
        // the winner's session was revoked by the loser's replay
        await expectProblem(await call("GET", "/v1/users", { token: r.value.access_token }), 401, "INVALID_CREDENTIAL");
      }
  });

  it("a refresh token is bound to its client, and unknown ones are invalid_grant", async () => {
    const user = await createLoginUser(tenant);
    const { refresh_token } = await passwordGrant(app, user.email, PASSWORD);
    const otherApp = await createClient(tenant, { grantTypes: ["password", "refresh_token"], roles: ["manager"] });
    expect(await oauthError(refreshGrant(otherApp, refresh_token as string))).toEqual({
      error: "invalid_grant",
      status: 400,
    });
    expect(await oauthError(refreshGrant(app, "uom_rt_forged"))).toEqual({ error: "invalid_grant", status: 400 });
    // the owner still can (the other client's attempt did not spend it)
    expect((await refreshGrant(app, refresh_token as string)).access_token).toBeTruthy();
  });

  it("a disabled user's access token stops at once, and it cannot refresh", async () => {
    const user = await createLoginUser(tenant);
    const { access_token, refresh_token } = await passwordGrant(app, user.email, PASSWORD);
    expect((await call("GET", `/v1/users/${user.id}`, { token: access_token })).status).toBe(200);
    await call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: { status: "disabled" } });
    await expectProblem(await call("GET", `/v1/users/${user.id}`, { token: access_token }), 401, "INVALID_CREDENTIAL");
    expect(await oauthError(refreshGrant(app, refresh_token as string))).toEqual({
      error: "invalid_grant",
      status: 400,
    });
  });
});

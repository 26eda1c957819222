import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, expectProblem, type TestTenant } from "../helpers/api";
import { count, tenantDatabase } from "../helpers/db";
import {
  basicHeader,
  clientCredentials,
  createClient,
  createLoginUser,
  introspect,
  oauthError,
  PASSWORD,
  passwordGrant,
  postForm,
  refreshGrant,
  revoke,
  type TestClient,
} from "./support";

let tenant: TestTenant;
let service: TestClient;
let app: TestClient;

beforeAll(async () => {
  tenant = await createTenant({ name: "OAuth introspection" });
  service = await createClient(tenant, { roles: ["manager"] });
  app = await createClient(tenant, { grantTypes: ["password", "refresh_token"], roles: ["manager"] });
});

describe("introspection (RFC 7662)", () => {
  it("describes an active access token", async () => {
    const { access_token } = await clientCredentials(service, "users:read");
    const result = await introspect(service, access_token);
    expect(result).toMatchObject({
      active: true,
      token_type: "Bearer",
      scope: "users:read",
      client_id: service.clientId,
      sub: service.id,
      tid: tenant.id,
    });
    expect(result.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it("lets another client of the tenant introspect an access token (a resource server)", async () => {
    const { access_token } = await clientCredentials(service);
    expect((await introspect(app, access_token)).active).toBe(true);
  });

  it("describes a refresh token to its own client only", async () => {
    const user = await createLoginUser(tenant);
    const { refresh_token } = await passwordGrant(app, user.email, PASSWORD);
    expect(await introspect(app, refresh_token as string)).toMatchObject({
      active: true,
      sub: user.id,
      client_id: app.clientId,
    });
    expect(await introspect(service, refresh_token as string)).toEqual({ active: false });
  });

  it("is inactive for unknown, forged, another tenant's or revoked tokens", async () => {
    const other = await createTenant({ name: "Other tenant" });
    const foreign = await createClient(other);
    const { access_token: foreignToken } = await clientCredentials(foreign);
    expect(await introspect(service, foreignToken)).toEqual({ active: false });
    expect(await introspect(service, "uom_rt_unknown")).toEqual({ active: false });
    expect(await introspect(service, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")).toEqual({ active: false });

    const { access_token } = await clientCredentials(service);
    await revoke(service, access_token);
    expect(await introspect(service, access_token)).toEqual({ active: false });
  });

  it("needs client authentication and a token", async () => {
    const { access_token } = await clientCredentials(service);
    const anonymous = await postForm("/oauth/introspect", { token: access_token });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toBe("invalid_client");
    const missing = await postForm(
      "/oauth/introspect",
      {},
      { authorization: basicHeader(service.clientId, service.clientSecret) },
    );
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toBe("invalid_request");
  });
});

describe("revocation (RFC 7009)", () => {
  it("a revoked access token is refused at once", async () => {
    const { access_token } = await clientCredentials(service);
    expect((await call("GET", "/v1/users", { token: access_token })).status).toBe(200);
    await revoke(service, access_token);
    await expectProblem(await call("GET", "/v1/users", { token: access_token }), 401, "INVALID_CREDENTIAL");
    // the client's other tokens keep working
    const fresh = await clientCredentials(service);
    expect((await call("GET", "/v1/users", { token: fresh.access_token })).status).toBe(200);
  });

  it("a revoked user access token is refused at once; the session's refresh token still works", async () => {
    const user = await createLoginUser(tenant, ["manager"]);
    const tokens = await passwordGrant(app, user.email, PASSWORD);
    await revoke(app, tokens.access_token);
    await expectProblem(await call("GET", "/v1/users", { token: tokens.access_token }), 401, "INVALID_CREDENTIAL");
    const renewed = await refreshGrant(app, tokens.refresh_token as string);
    expect((await call("GET", "/v1/users", { token: renewed.access_token })).status).toBe(200);
  });

  it("revoking a refresh token ends its session: refresh token and access tokens stop, audited", async () => {
    const user = await createLoginUser(tenant, ["manager"]);
    const first = await passwordGrant(app, user.email, PASSWORD);
    const second = await refreshGrant(app, first.refresh_token as string);
    await revoke(app, second.refresh_token as string);
    expect(await oauthError(refreshGrant(app, second.refresh_token as string))).toEqual({
      error: "invalid_grant",
      status: 400,
    });
    await expectProblem(await call("GET", "/v1/users", { token: second.access_token }), 401, "INVALID_CREDENTIAL");
    const db = await tenantDatabase(tenant.id);
    expect(await count(db, "audit_events", "action = 'oauth_session.revoked' AND resource_id = ?", user.id)).toBe(1);
  });

  it("answers 200 and changes nothing for unknown tokens or tokens of another client", async () => {
    await revoke(service, "uom_rt_unknown");
    await revoke(service, "not-a-token");
    const user = await createLoginUser(tenant, ["manager"]);
    const tokens = await passwordGrant(app, user.email, PASSWORD);
    // service did not obtain these: revoking them is a no-op
    await revoke(service, tokens.access_token);
    await revoke(service, tokens.refresh_token as string);
    expect((await call("GET", "/v1/users", { token: tokens.access_token })).status).toBe(200);
    expect((await refreshGrant(app, tokens.refresh_token as string)).access_token).toBeTruthy();
  });

  it("needs client authentication", async () => {
    const anonymous = await postForm("/oauth/revoke", { token: "x" });
    expect(anonymous.status).toBe(401);
  });
});

describe("deleting a client", () => {
  it("stops its users' sessions too: access tokens and refresh tokens", async () => {
    const doomed = await createClient(tenant, { grantTypes: ["password", "refresh_token"], roles: ["manager"] });
    const user = await createLoginUser(tenant, ["manager"]);
    const tokens = await passwordGrant(doomed, user.email, PASSWORD);
    expect((await call("GET", "/v1/users", { token: tokens.access_token })).status).toBe(200);
    expect((await call("DELETE", `/v1/oauth/clients/${doomed.id}`, { token: tenant.key })).status).toBe(204);
    await expectProblem(await call("GET", "/v1/users", { token: tokens.access_token }), 401, "INVALID_CREDENTIAL");
    expect(await oauthError(refreshGrant(doomed, tokens.refresh_token as string))).toEqual({
      error: "invalid_client",
      status: 401,
    });
    const db = await tenantDatabase(tenant.id);
    expect(await count(db, "refresh_tokens", "client_id = ? AND revoked_at IS NULL", doomed.id)).toBe(0);
  });
});

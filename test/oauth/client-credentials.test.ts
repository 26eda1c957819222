import * as oauth from "oauth4webapi";
import { beforeAll, describe, expect, it } from "vitest";
import { BUILT_IN_ROLES } from "../../src/core/auth/permissions";
import { audienceOf, issuerOf } from "../../src/modules/oauth/oauth.config";
import { call, createTenant, expectProblem, fetchWorker, json, type TestTenant } from "../helpers/api";
import {
  authorizationServer,
  basicHeader,
  clientCredentials,
  createClient,
  ISSUER,
  oauthError,
  postForm,
  type TestClient,
  verifyWithJwks,
} from "./support";

let tenant: TestTenant;
let manager: TestClient;

beforeAll(async () => {
  tenant = await createTenant({ name: "OAuth client credentials" });
  manager = await createClient(tenant, { roles: ["manager"] });
});

describe("discovery (RFC 8414)", () => {
  it("serves metadata whose issuer is where it was fetched, with every endpoint", async () => {
    const as = await authorizationServer();
    expect(as.issuer).toBe(ISSUER.origin);
    expect(as.token_endpoint).toBe(`${ISSUER.origin}/oauth/token`);
    expect(as.introspection_endpoint).toBe(`${ISSUER.origin}/oauth/introspect`);
    expect(as.revocation_endpoint).toBe(`${ISSUER.origin}/oauth/revoke`);
    expect(as.jwks_uri).toBe(`${ISSUER.origin}/.well-known/jwks.json`);
    expect(as.grant_types_supported).toEqual(["client_credentials", "password", "refresh_token", "authorization_code"]);
    expect(as.token_endpoint_auth_methods_supported).toEqual(["client_secret_basic", "client_secret_post"]);
  });
});

describe("the issuer", () => {
  it("is OAUTH_ISSUER when configured (without a trailing slash), else the request's origin", () => {
    const configured = { OAUTH_ISSUER: "https://id.example.com/" } as unknown as Env;
    expect(issuerOf(configured, "http://uom.test")).toBe("https://id.example.com");
    expect(audienceOf(issuerOf(configured, "http://uom.test"))).toBe("https://id.example.com/v1");
    expect(issuerOf({ OAUTH_ISSUER: "" } as unknown as Env, "http://uom.test")).toBe("http://uom.test");
    expect(issuerOf({} as Env, "http://uom.test")).toBe("http://uom.test");
  });
});

describe("client_credentials", () => {
  it("issues an ES256 JWT that jose verifies against the served JWKS, with the client's scope", async () => {
    const tokens = await clientCredentials(manager);
    expect(tokens.token_type).toBe("bearer");
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.scope).toBe(BUILT_IN_ROLES.manager?.grants.join(" "));
    const { payload, kid } = await verifyWithJwks(tokens.access_token);
    expect(kid).toMatch(/^sig_/);
    expect(payload).toMatchObject({
      iss: ISSUER.origin,
      aud: `${ISSUER.origin}/v1`,
      sub: manager.id,
      tid: tenant.id,
      client_id: manager.clientId,
      scope: tokens.scope,
    });
    expect(payload.exp).toBe((payload.iat as number) + 3600);
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.jti).toMatch(/^tok_/);
  });

  it("authenticates the client by HTTP Basic or in the body, alike", async () => {
    const basic = await clientCredentials(manager, undefined, manager.basic);
    const post = await clientCredentials(manager, undefined, manager.post);
    expect(post.scope).toBe(basic.scope);
  });

  it("answers with Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1)", async () => {
    const response = await postForm(
      "/oauth/token",
      { grant_type: "client_credentials" },
      { authorization: basicHeader(manager.clientId, manager.clientSecret) },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("pragma")).toBe("no-cache");
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("narrows to a requested scope, and refuses one beyond the client's (invalid_scope)", async () => {
    const narrow = await clientCredentials(manager, "users:read");
    expect(narrow.scope).toBe("users:read");
    expect((await verifyWithJwks(narrow.access_token)).payload.scope).toBe("users:read");
    expect(await oauthError(clientCredentials(manager, "users:read api-keys:write"))).toEqual({
      error: "invalid_scope",
      status: 400,
    });
  });

  it("the token works on the API with the client's permissions, and no more", async () => {
    const { access_token } = await clientCredentials(manager);
    expect((await call("GET", "/v1/users", { token: access_token })).status).toBe(200);
    const created = await call("POST", "/v1/users", { token: access_token, body: { email: "cc@example.com" } });
    expect(created.status).toBe(201);
    await expectProblem(
      await call("POST", "/v1/api-keys", { token: access_token, body: { name: "x", roles: ["basic"] } }),
      403,
      "FORBIDDEN",
    );
    // the audit trail names the client as the actor
    const trail = await json<{ data: { action: string; actor: { type: string; id: string } }[] }>(
      await call("GET", "/v1/audit-events?action=user.created&limit=1", { token: access_token }),
    );
    expect(trail.data[0]?.actor).toEqual({ type: "client", id: manager.id });
  });

  it("a narrowed token is narrowed on the API too", async () => {
    const { access_token } = await clientCredentials(manager, "users:read");
    expect((await call("GET", "/v1/users", { token: access_token })).status).toBe(200);
    await expectProblem(
      await call("POST", "/v1/users", { token: access_token, body: { email: "narrow@example.com" } }),
      403,
      "FORBIDDEN",
    );
  });
});

describe("client authentication failures", () => {
  it("a wrong secret is 401 invalid_client, with a Basic challenge when Basic was used", async () => {
    const response = await postForm(
      "/oauth/token",
      { grant_type: "client_credentials" },
      { authorization: basicHeader(manager.clientId, `${manager.clientSecret}x`) },
    );
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Basic realm="uom"/);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.json()).toEqual({ error: "invalid_client", error_description: expect.any(String) });
  });

  it("a wrong secret in the body is 401 invalid_client (through oauth4webapi)", async () => {
    const wrong = { ...manager, post: oauth.ClientSecretPost("uom_cs_wrong") };
    expect(await oauthError(clientCredentials(wrong, undefined, wrong.post))).toEqual({
      error: "invalid_client",
      status: 401,
    });
  });

  it("an unknown client, no client authentication, or both methods at once are refused", async () => {
    const unknown = await postForm(
      "/oauth/token",
      { grant_type: "client_credentials" },
      { authorization: basicHeader("uom_ci_unknown", "uom_cs_unknown") },
    );
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { error: string }).error).toBe("invalid_client");

    const none = await postForm("/oauth/token", { grant_type: "client_credentials" });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: string }).error).toBe("invalid_client");

    const both = await postForm(
      "/oauth/token",
      { grant_type: "client_credentials", client_secret: manager.clientSecret },
      { authorization: basicHeader(manager.clientId, manager.clientSecret) },
    );
    expect(both.status).toBe(400);
    expect(((await both.json()) as { error: string }).error).toBe("invalid_request");
  });

  it("decodes form-urlencoded Basic credentials (RFC 6749 §2.3.1), and refuses malformed ones", async () => {
    // every character percent-encoded: a server that skipped the form-urldecoding would not know this client
    const encoded = (text: string) =>
      [...text].map((ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, "0")}`).join("");
    const authorization = `Basic ${btoa(`${encoded(manager.clientId)}:${encoded(manager.clientSecret)}`)}`;
    const response = await postForm("/oauth/token", { grant_type: "client_credentials" }, { authorization });
    expect(response.status).toBe(200);
    for (const bad of ["Basic !!!", `Basic ${btoa("no-colon")}`, "Bearer abc"]) {
      const refused = await postForm("/oauth/token", { grant_type: "client_credentials" }, { authorization: bad });
      expect(refused.status, bad).toBe(401);
      expect(((await refused.json()) as { error: string }).error).toBe("invalid_client");
    }
  });
});

describe("malformed token requests (RFC 6749 §5.2 bodies, never problem+json)", () => {
  const auth = () => ({ authorization: basicHeader(manager.clientId, manager.clientSecret) });

  it("a missing or unknown grant_type", async () => {
    const missing = await postForm("/oauth/token", {}, auth());
    expect(missing.status).toBe(400);
    expect(missing.headers.get("content-type")).toMatch(/^application\/json/);
    expect(((await missing.json()) as { error: string }).error).toBe("invalid_request");
    const unknown = await postForm("/oauth/token", { grant_type: "implicit" }, auth());
    expect(((await unknown.json()) as { error: string }).error).toBe("unsupported_grant_type");
  });

  it("a grant the client may not use is unauthorized_client", async () => {
    const response = await postForm("/oauth/token", { grant_type: "password", username: "a", password: "b" }, auth());
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("unauthorized_client");
  });

  it("JSON instead of a form, or a repeated parameter, is invalid_request", async () => {
    const asJson = await call("POST", "/oauth/token", { body: { grant_type: "client_credentials" }, headers: auth() });
    expect(asJson.status).toBe(400);
    expect(((await asJson.json()) as { error: string }).error).toBe("invalid_request");
    const repeated = await fetchWorker(`${ISSUER.origin}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...auth() },
      body: "grant_type=client_credentials&grant_type=client_credentials",
    });
    expect(repeated.status).toBe(400);
    expect(((await repeated.json()) as { error: string }).error).toBe("invalid_request");
  });
});

import { createRemoteJWKSet, type JWTPayload, customFetch as joseFetch, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import { expect } from "vitest";
import { call, createUser, fetchWorker, json, type TestTenant, uniqueEmail } from "../helpers/api";

/**
 * OAuth helpers driven by outside libraries: oauth4webapi for the grants, introspection and revocation (its
 * fetch routed to the worker under test), jose's createRemoteJWKSet for verifying tokens against the served JWKS.
 */

export const ISSUER = new URL("http://uom.test");

/** oauth4webapi's options: the worker under test instead of the network, plain http allowed (tests only). */
export const httpOptions = {
  [oauth.customFetch]: fetchWorker as unknown as typeof fetch,
  [oauth.allowInsecureRequests]: true,
};

let discovered: oauth.AuthorizationServer | undefined;

/** RFC 8414 discovery, as a client would do it (and checks that `issuer` matches where it was fetched). */
export async function authorizationServer(): Promise<oauth.AuthorizationServer> {
  discovered ??= await oauth.processDiscoveryResponse(
    ISSUER,
    await oauth.discoveryRequest(ISSUER, { algorithm: "oauth2", ...httpOptions }),
  );
  return discovered;
}

export interface TestClient {
  id: string;
  clientId: string;
  clientSecret: string;
  client: oauth.Client;
  /** HTTP Basic (RFC 6749 §2.3.1) with this client's secret. */
  basic: oauth.ClientAuth;
  /** client_id/client_secret in the body. */
  post: oauth.ClientAuth;
}

export async function createClient(
  tenant: TestTenant,
  body: { grantTypes?: string[]; roles?: string[]; name?: string } = {},
): Promise<TestClient> {
  const response = await call("POST", "/v1/oauth/clients", {
    token: tenant.key,
    body: { name: "Test client", grantTypes: ["client_credentials"], roles: ["manager"], ...body },
  });
  expect(response.status).toBe(201);
  const created = await json<{ id: string; clientId: string; clientSecret: string }>(response);
  return {
    ...created,
    client: { client_id: created.clientId },
    basic: oauth.ClientSecretBasic(created.clientSecret),
    post: oauth.ClientSecretPost(created.clientSecret),
  };
}

export async function clientCredentials(client: TestClient, scope?: string, auth = client.basic) {
  const as = await authorizationServer();
  const parameters = new URLSearchParams(scope ? { scope } : {});
  const response = await oauth.clientCredentialsGrantRequest(as, client.client, auth, parameters, httpOptions);
  return oauth.processClientCredentialsResponse(as, client.client, response);
}

export async function passwordGrant(client: TestClient, username: string, password: string, extra = {}) {
  const as = await authorizationServer();
  const parameters = new URLSearchParams({ username, password, ...extra });
  const response = await oauth.genericTokenEndpointRequest(
    as,
    client.client,
    client.basic,
    "password",
    parameters,
    httpOptions,
  );
  return oauth.processGenericTokenEndpointResponse(as, client.client, response);
}

export async function refreshGrant(client: TestClient, refreshToken: string) {
  const as = await authorizationServer();
  const response = await oauth.refreshTokenGrantRequest(as, client.client, client.basic, refreshToken, httpOptions);
  return oauth.processRefreshTokenResponse(as, client.client, response);
}

export async function introspect(client: TestClient, token: string) {
  const as = await authorizationServer();
  const response = await oauth.introspectionRequest(as, client.client, client.basic, token, httpOptions);
  return oauth.processIntrospectionResponse(as, client.client, response);
}

export async function revoke(client: TestClient, token: string) {
  const as = await authorizationServer();
  const response = await oauth.revocationRequest(as, client.client, client.basic, token, httpOptions);
  await oauth.processRevocationResponse(response);
}

/** The RFC 6749 §5.2 error an oauth4webapi call was refused with. */
export async function oauthError(promise: Promise<unknown>): Promise<{ error: string; status: number }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) return { error: error.error, status: error.status };
    if (error instanceof oauth.WWWAuthenticateChallengeError) {
      const body = (await error.response.json()) as { error: string };
      return { error: body.error, status: error.status };
    }
    throw error;
  }
  throw new Error("expected an OAuth error, the call succeeded");
}

/** Verifies a token with jose against the JWKS the worker serves (fetched like a relying party would). */
export async function verifyWithJwks(token: string): Promise<{ payload: JWTPayload; kid: string | undefined }> {
  const as = await authorizationServer();
  const jwks = createRemoteJWKSet(new URL(as.jwks_uri as string), {
    [joseFetch]: fetchWorker as unknown as typeof fetch,
  });
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: as.issuer,
    audience: `${as.issuer}/v1`,
    algorithms: ["ES256"],
  });
  return { payload, kid: protectedHeader.kid };
}

export const PASSWORD = "correct horse battery staple";

/** A user with a password and roles, and the identifiers to log in with. */
export async function createLoginUser(tenant: TestTenant, roles: string[] = ["basic"]) {
  const email = uniqueEmail("login");
  const user = await createUser(tenant, { email, password: PASSWORD, roles });
  return { id: user.id, email };
}

/** A form POST to an OAuth endpoint, for what oauth4webapi will not send (malformed requests). */
export function postForm(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return fetchWorker(`${ISSUER.origin}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form),
  });
}

export function basicHeader(clientId: string, secret: string): string {
  return `Basic ${btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`)}`;
}

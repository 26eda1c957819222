import { beforeAll, describe, expect, it } from "vitest";
import { signInWithCode } from "../../src/modules/oauth/authorization-codes";
import { call, createTenant, createUser, json, type TestTenant } from "../helpers/api";
import { count, tenantDatabase } from "../helpers/db";
import { loginContext } from "../login/helpers";

/**
 * The authorization_code grant that `ctx.sessions.signIn` (the plugin API; oidc-login) hands out codes for: each
 * code works once, for its client, its redirect_uri and its PKCE verifier only. test-e2e/oidc-login.test.ts drives
 * the whole flow against a real OpenID Connect provider.
 */

const REDIRECT = "https://app.example/callback";
let tenant: TestTenant;
let app: { clientId: string; clientSecret: string };
let other: { clientId: string; clientSecret: string };

async function client(grantTypes: string[]) {
  const response = await call("POST", "/v1/oauth/clients", {
    token: tenant.key,
    body: { name: "app", grantTypes, roles: ["basic"] },
  });
  expect(response.status).toBe(201);
  return json<{ clientId: string; clientSecret: string }>(response);
}

async function pkce() {
  const verifier = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const challenge = btoa(String.fromCharCode(...digest))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
  return { verifier, challenge };
}

async function codeFor(userId: string, challenge: string) {
  const ctx = { ...(await loginContext(tenant)), actor: { type: "system" as const, id: "plugin:oidc-login" } };
  return signInWithCode(ctx, {
    userId,
    clientId: app.clientId,
    redirectUri: REDIRECT,
    codeChallenge: challenge,
    method: "oidc",
  });
}

async function exchange(who: { clientId: string; clientSecret: string }, form: Record<string, string>) {
  const response = await call("POST", "/oauth/token", {
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${btoa(`${who.clientId}:${who.clientSecret}`)}`,
    },
    rawBody: new URLSearchParams({ grant_type: "authorization_code", redirect_uri: REDIRECT, ...form }).toString(),
  });
  return { status: response.status, body: await json<Record<string, string>>(response) };
}

beforeAll(async () => {
  tenant = await createTenant();
  app = await client(["authorization_code"]);
  other = await client(["authorization_code", "refresh_token"]);
});

describe("authorization_code grant", () => {
  it("exchanges a code once, with the verifier, for the user's tokens (no refresh token without the grant)", async () => {
    const user = await createUser(tenant);
    const { verifier, challenge } = await pkce();
    const { code } = await codeFor(user.id, challenge);
    const first = await exchange(app, { code, code_verifier: verifier });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ token_type: "Bearer" });
    expect(first.body.refresh_token).toBeUndefined();
    const again = await exchange(app, { code, code_verifier: verifier });
    expect(again).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("refuses another client, another redirect_uri, a wrong or missing verifier, and the code is then spent", async () => {
    const user = await createUser(tenant);
    const db = await tenantDatabase(tenant.id);
    for (const [who, form, error] of [
      [other, {}, "invalid_grant"],
      [app, { redirect_uri: "https://app.example/other" }, "invalid_grant"],
      [app, { code_verifier: (await pkce()).verifier }, "invalid_grant"],
      [app, { code_verifier: "" }, "invalid_request"],
    ] as const) {
      const { verifier, challenge } = await pkce();
      const { code } = await codeFor(user.id, challenge);
      const refused = await exchange(who, { code, code_verifier: verifier, ...form });
      expect(refused, JSON.stringify(form)).toMatchObject({ status: 400, body: { error } });
      expect(await exchange(app, { code, code_verifier: verifier })).toMatchObject({ status: 400 });
    }
    expect(await count(db, "refresh_tokens", "user_id = ?", user.id)).toBe(0);
  });

  it("signs in only an active user, for a client of the tenant allowed the grant", async () => {
    const user = await createUser(tenant, { status: "disabled" });
    const { challenge } = await pkce();
    await expect(codeFor(user.id, challenge)).rejects.toMatchObject({ status: 403 });
    const active = await createUser(tenant);
    const ctx = await loginContext(tenant);
    const backend = await client(["client_credentials"]);
    await expect(
      signInWithCode(ctx, {
        userId: active.id,
        clientId: backend.clientId,
        redirectUri: REDIRECT,
        codeChallenge: challenge,
        method: "oidc",
      }),
    ).rejects.toMatchObject({ status: 400 });
    expect(await count(await tenantDatabase(tenant.id), "oauth_authorization_codes", "user_id = ?", active.id)).toBe(0);
  });
});

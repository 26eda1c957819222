import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt } from "jose";
import Provider from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, type E2eTenant, expectCall, service, uniqueEmail } from "./helpers/service";

/**
 * The oidc-login plugin against a real OpenID Connect provider (the `oidc-provider` package on 127.0.0.1, its dev
 * login and consent pages), driven like a browser with fetch and manual redirects: our authorize → the provider →
 * our callback → the app's redirect_uri with our code → POST /oauth/token.
 */

const APP_REDIRECT = "http://127.0.0.1:9/app/callback";
const PROVIDER_CLIENT = { id: "uom-e2e", secret: `provider-secret-${randomBytes(8).toString("hex")}` };

let tenant: E2eTenant;
let server: Server;
let issuer: string;
let app: { clientId: string; clientSecret: string };
/** Accounts of the provider by login name: their claims. */
const accounts = new Map<string, { email: string; email_verified: boolean; name: string }>();

function base64Url(bytes: Buffer): string {
  return bytes.toString("base64url");
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = base64Url(randomBytes(32));
  return { verifier, challenge: base64Url(createHash("sha256").update(verifier).digest()) };
}

async function startProvider(callback: string): Promise<void> {
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: PROVIDER_CLIENT.id,
        client_secret: PROVIDER_CLIENT.secret,
        redirect_uris: [callback],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    cookies: { keys: [randomBytes(16).toString("hex")] },
    async findAccount(_ctx, id) {
      const claims = accounts.get(id);
      if (!claims) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
    },
  });
  server.on("request", provider.callback());
}

beforeAll(async () => {
  tenant = await createTenant({ name: "E2E oidc-login" });
  await startProvider(`${service().url}/v1/plugins/oidc-login/callback?tenant=${tenant.id}`);
  const client = await expectCall<{ clientId: string; clientSecret: string }>("POST", "/v1/oauth/clients", 201, {
    token: tenant.key,
    body: { name: "The app", grantTypes: ["authorization_code", "refresh_token"], roles: ["basic"] },
  });
  app = client;
  await configure({});
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function configure(overrides: Record<string, unknown>): Promise<void> {
  await expectCall("PUT", "/v1/plugins/oidc-login", 200, {
    token: tenant.key,
    body: {
      enabled: true,
      config: {
        issuer,
        clientId: PROVIDER_CLIENT.id,
        clientSecret: PROVIDER_CLIENT.secret,
        redirectUris: [APP_REDIRECT],
        ...overrides,
      },
    },
  });
}

/** A browser's cookies for the provider (its interaction and session cookies). */
class Browser {
  private cookies = new Map<string, string>();

  async go(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (url.startsWith(issuer) && this.cookies.size > 0) {
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    if (url.startsWith(issuer)) {
      for (const cookie of response.headers.getSetCookie()) {
        const [pair] = cookie.split(";");
        const at = (pair ?? "").indexOf("=");
        this.cookies.set((pair ?? "").slice(0, at), (pair ?? "").slice(at + 1));
      }
    }
    return response;
  }
}

/** Follows the provider's redirects and answers its dev login and consent forms, until it sends the browser to us. */
async function throughProvider(browser: Browser, start: string, login: string): Promise<string> {
  let url = start;
  for (let step = 0; step < 12; step++) {
    if (!url.startsWith(issuer)) return url;
    const response = await browser.go(url);
    if (response.status >= 300 && response.status < 400) {
      await response.text();
      url = new URL(response.headers.get("location") as string, url).toString();
      continue;
    }
    const html = await response.text();
    expect(response.status, html.slice(0, 300)).toBe(200);
    const action = /action="([^"]+)"/.exec(html)?.[1] as string;
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
    const form = new URLSearchParams({ prompt: prompt ?? "" });
    if (prompt === "login") {
      form.set("login", login);
      form.set("password", "any");
    }
    const posted = await browser.go(new URL(action, url).toString(), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
    await posted.text();
    expect(posted.status).toBeGreaterThanOrEqual(300);
    url = new URL(posted.headers.get("location") as string, url).toString();
  }
  throw new Error("the provider never sent the browser back");
}

interface Start {
  providerUrl: string;
  appState: string;
  verifier: string;
}

async function authorize(): Promise<Start> {
  const { verifier, challenge } = pkce();
  const appState = base64Url(randomBytes(12));
  const query = new URLSearchParams({
    tenant: tenant.id,
    client_id: app.clientId,
    redirect_uri: APP_REDIRECT,
    state: appState,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const response = await call("GET", `/v1/plugins/oidc-login/authorize?${query}`);
  expect(response.status, await response.text()).toBe(302);
  const providerUrl = response.headers.get("location") as string;
  expect(providerUrl.startsWith(`${issuer}/auth?`)).toBe(true);
  return { providerUrl, appState, verifier };
}

async function exchange(code: string, verifier: string): Promise<Response> {
  return fetch(new URL("/oauth/token", service().url), {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString("base64")}`,
    },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: APP_REDIRECT,
      code_verifier: verifier,
    }).toString(),
  });
}

/** The whole sign-in: returns the tokens and the user id they are for. */
async function signIn(login: string): Promise<{ userId: string; tokens: Record<string, unknown> }> {
  const start = await authorize();
  const browser = new Browser();
  const callback = await throughProvider(browser, start.providerUrl, login);
  const ours = await call("GET", callback.slice(service().url.length));
  expect(ours.status, await ours.text()).toBe(302);
  expect(ours.headers.get("cache-control")).toBe("no-store");
  const back = new URL(ours.headers.get("location") as string);
  expect(`${back.origin}${back.pathname}`).toBe(APP_REDIRECT);
  expect(back.searchParams.get("state")).toBe(start.appState);
  const code = back.searchParams.get("code") as string;
  expect(code).toMatch(/^uom_ac_/);
  expect([...back.searchParams.keys()].sort()).toEqual(["code", "state"]); // no token in the URL
  const response = await exchange(code, start.verifier);
  const tokens = (await response.json()) as Record<string, unknown>;
  expect(response.status, JSON.stringify(tokens)).toBe(200);
  // the code works once
  const again = await exchange(code, start.verifier);
  expect(again.status).toBe(400);
  expect(await again.json()).toMatchObject({ error: "invalid_grant" });
  return { userId: decodeJwt(tokens.access_token as string).sub as string, tokens };
}

async function usersWithEmail(email: string) {
  return (
    await expectCall<{ data: { id: string; email: string }[] }>(
      "GET",
      `/v1/users?filter=${encodeURIComponent(`email eq "${email}"`)}`,
      200,
      { token: tenant.key },
    )
  ).data;
}

async function auditOf(userId: string, action: string) {
  return (
    await expectCall<{ data: { action: string; actor: unknown; changes: Record<string, unknown> }[] }>(
      "GET",
      `/v1/audit-events?resourceId=${userId}&action=${action}`,
      200,
      { token: tenant.key },
    )
  ).data;
}

describe("oidc-login", () => {
  it("signs a new user in: created through the users service, identity linked, user.login with method oidc", async () => {
    const email = uniqueEmail("oidc");
    accounts.set("alice", { email, email_verified: true, name: "Alice Oidc" });
    const { userId, tokens } = await signIn("alice");
    expect(tokens).toMatchObject({ token_type: "Bearer", refresh_token: expect.stringMatching(/^uom_rt_/) });
    expect(decodeJwt(tokens.access_token as string)).toMatchObject({ tid: tenant.id, client_id: app.clientId });
    const [user] = await usersWithEmail(email);
    expect(user?.id).toBe(userId);
    expect(await auditOf(userId, "user.created")).toHaveLength(1);
    const linked = await auditOf(userId, "user.identity_linked");
    expect(linked).toHaveLength(1);
    expect(linked[0]?.changes).toMatchObject({ identity: { to: { issuer, subject: "alice" } } });
    const logins = await expectCall<{ data: { subjectId: string; data: Record<string, unknown> }[] }>(
      "GET",
      "/v1/events?type=user.login&limit=100",
      200,
      { token: tenant.key },
    );
    const mine = logins.data.filter((e) => e.subjectId === userId).map((e) => e.data);
    expect(mine).toEqual([expect.objectContaining({ userId, method: "oidc" })]);

    // the second sign-in reuses the link: the same user, no new user, no new link
    const second = await signIn("alice");
    expect(second.userId).toBe(userId);
    expect(await usersWithEmail(email)).toHaveLength(1);
    expect(await auditOf(userId, "user.identity_linked")).toHaveLength(1);
    // the refresh token works like a password login's
    const refreshed = await fetch(new URL("/oauth/token", service().url), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: second.tokens.refresh_token as string,
        client_id: app.clientId,
        client_secret: app.clientSecret,
      }).toString(),
    });
    expect(refreshed.status).toBe(200);
  });

  it("links an existing user by a verified email only when linkByVerifiedEmail is on", async () => {
    const email = uniqueEmail("existing");
    const existing = await expectCall<{ id: string }>("POST", "/v1/users", 201, {
      token: tenant.key,
      body: { email },
    });
    accounts.set("bob", { email, email_verified: true, name: "Bob" });
    // off (the default): refused, nothing linked
    const start = await authorize();
    const callback = await throughProvider(new Browser(), start.providerUrl, "bob");
    const refused = await call("GET", callback.slice(service().url.length));
    expect(refused.status).toBe(409);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");
    expect(await auditOf(existing.id, "user.identity_linked")).toHaveLength(0);

    await configure({ linkByVerifiedEmail: true });
    try {
      const { userId } = await signIn("bob");
      expect(userId).toBe(existing.id);
      expect(await usersWithEmail(email)).toHaveLength(1);
      expect(await auditOf(existing.id, "user.identity_linked")).toHaveLength(1);
      // an unverified email is never linked
      accounts.set("carol", { email: uniqueEmail("carol"), email_verified: false, name: "Carol" });
      const carolEmail = accounts.get("carol")?.email as string;
      await expectCall("POST", "/v1/users", 201, { token: tenant.key, body: { email: carolEmail } });
      const carol = await authorize();
      const back = await throughProvider(new Browser(), carol.providerUrl, "carol");
      expect((await call("GET", back.slice(service().url.length))).status).toBe(409);
    } finally {
      await configure({ linkByVerifiedEmail: false });
    }
  });

  it("refuses a tampered state, a replayed state and a wrong nonce with a problem, and changes nothing", async () => {
    const email = uniqueEmail("dave");
    accounts.set("dave", { email, email_verified: true, name: "Dave" });
    const start = await authorize();
    const callback = await throughProvider(new Browser(), start.providerUrl, "dave");
    const url = new URL(callback);

    const tampered = new URL(url);
    tampered.searchParams.set("state", `${url.searchParams.get("state")}x`);
    const refused = await call("GET", `${tampered.pathname}${tampered.search}`);
    expect(refused.status).toBe(400);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/state is unknown, expired or already used/);
    expect(await usersWithEmail(email)).toHaveLength(0);

    // the real answer once, then its replay
    expect((await call("GET", `${url.pathname}${url.search}`)).status).toBe(302);
    const replay = await call("GET", `${url.pathname}${url.search}`);
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as { detail: string }).detail).toMatch(/already used/);
    expect(await usersWithEmail(email)).toHaveLength(1);

    // the browser's request to the provider carries another nonce: the ID token's is not this sign-in's
    const erin = uniqueEmail("erin");
    accounts.set("erin", { email: erin, email_verified: true, name: "Erin" });
    const next = await authorize();
    const swapped = new URL(next.providerUrl);
    swapped.searchParams.set("nonce", base64Url(randomBytes(32)));
    const back = new URL(await throughProvider(new Browser(), swapped.toString(), "erin"));
    const wrongNonce = await call("GET", `${back.pathname}${back.search}`);
    expect(wrongNonce.status).toBe(400);
    expect(((await wrongNonce.json()) as { detail: string }).detail).toMatch(/nonce/);
    expect(await usersWithEmail(erin)).toHaveLength(0);
  });

  it("refuses a redirect_uri outside the allow-list and a client without the grant", async () => {
    const { challenge } = pkce();
    const query = (over: Record<string, string>) =>
      new URLSearchParams({
        tenant: tenant.id,
        client_id: app.clientId,
        redirect_uri: APP_REDIRECT,
        code_challenge: challenge,
        code_challenge_method: "S256",
        ...over,
      });
    const evil = await call(
      "GET",
      `/v1/plugins/oidc-login/authorize?${query({ redirect_uri: "https://evil.example/cb" })}`,
    );
    expect(evil.status).toBe(400);
    expect(((await evil.json()) as { detail: string }).detail).toMatch(/redirectUris/);
    const other = await expectCall<{ clientId: string }>("POST", "/v1/oauth/clients", 201, {
      token: tenant.key,
      body: { name: "Backend", grantTypes: ["client_credentials"], roles: ["basic"] },
    });
    const noGrant = await call("GET", `/v1/plugins/oidc-login/authorize?${query({ client_id: other.clientId })}`);
    expect(noGrant.status).toBe(400);
  });

  it("answers 403 PLUGIN_NOT_ENABLED once disabled", async () => {
    await expectCall("DELETE", "/v1/plugins/oidc-login", 204, { token: tenant.key });
    try {
      const { challenge } = pkce();
      const query = new URLSearchParams({
        tenant: tenant.id,
        client_id: app.clientId,
        redirect_uri: APP_REDIRECT,
        code_challenge: challenge,
        code_challenge_method: "S256",
      });
      const response = await call("GET", `/v1/plugins/oidc-login/authorize?${query}`);
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ code: "PLUGIN_NOT_ENABLED" });
    } finally {
      await configure({});
    }
  });
});

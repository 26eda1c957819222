import { definePlugin, type PluginContext, type PluginRequest, pluginProblem, z } from "../../src/core/plugins";
import { type Config, ConfigSchema } from "./config";
import { discover, exchangeCode, type IdentityClaims, verifyIdToken, withUserInfo } from "./provider";

/**
 * oidc-login: sign in with an external OpenID Connect provider (authorization code flow with PKCE), the provider's
 * identities (issuer + subject) linked to users. Built only on the public plugin API: two public routes, its own
 * tables, the guarded fetch, the users API (so hooks and events run on a user it creates) and `ctx.sessions`, which
 * hands the app a one-time code of ours that the app exchanges at POST /oauth/token. docs/plugins.md.
 */

const STATE_SECONDS = 10 * 60;
/** Expired states removed per authorize request (oldest first): the table stays about ten minutes deep. */
const SWEEP = 10;
const METHOD = "oidc";

const SCHEMA = [
  {
    version: 1,
    statements: [
      // one pending sign-in: single use (taken on the callback), for ten minutes; our PKCE verifier sealed
      `CREATE TABLE plugin_oidc_login_states (
         state_hash TEXT PRIMARY KEY,
         nonce TEXT NOT NULL,
         verifier_sealed TEXT NOT NULL,
         app_client_id TEXT NOT NULL,
         app_redirect_uri TEXT NOT NULL,
         app_state TEXT,
         app_code_challenge TEXT NOT NULL,
         created_at TEXT NOT NULL,
         expires_at TEXT NOT NULL)`,
      "CREATE INDEX plugin_oidc_login_states_created_idx ON plugin_oidc_login_states (created_at)",
      `CREATE TABLE plugin_oidc_login_identities (
         issuer TEXT NOT NULL,
         subject TEXT NOT NULL,
         user_id TEXT NOT NULL,
         linked_at TEXT NOT NULL,
         last_login_at TEXT NOT NULL,
         PRIMARY KEY (issuer, subject))`,
      "CREATE INDEX plugin_oidc_login_identities_user_idx ON plugin_oidc_login_identities (user_id)",
    ],
  },
];

function base64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

function randomToken(): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(32)));
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Our callback at the provider: the same for every sign-in of the tenant (register it at the provider). */
function callbackUrl(request: PluginRequest, tenantId: string): string {
  return `${new URL(request.url).origin}/v1/plugins/oidc-login/callback?tenant=${tenantId}`;
}

function redirect(location: string): Response {
  return new Response(null, {
    status: 302,
    headers: { location, "cache-control": "no-store", "referrer-policy": "no-referrer" },
  });
}

const AuthorizeQuery = z.object({
  client_id: z.string().min(1).max(128).openapi({ description: "Your app: an OAuth client of the tenant." }),
  redirect_uri: z.url().max(2048).openapi({ description: "One of the plugin's configured redirectUris." }),
  state: z.string().max(512).optional().openapi({ description: "Returned to the app as it was sent." }),
  code_challenge: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, "A PKCE S256 challenge (RFC 7636 §4.2).")
    .openapi({ description: "The app's PKCE challenge: BASE64URL(SHA256(code_verifier))." }),
  code_challenge_method: z.literal("S256"),
});

const CallbackQuery = z.object({
  code: z.string().max(2048).optional(),
  state: z.string().max(512).optional(),
  error: z.string().max(200).optional(),
  error_description: z.string().max(1000).optional(),
  iss: z.string().max(2048).optional(),
});

async function sweepExpiredStates(ctx: PluginContext<Config>): Promise<void> {
  const now = new Date().toISOString();
  const states = ctx.db.table("states");
  const oldest = await states.list({}, { orderBy: "created_at", limit: SWEEP });
  for (const row of oldest) {
    if (String(row.expires_at) <= now) await states.take({ state_hash: row.state_hash ?? null });
  }
}

async function authorize(request: PluginRequest, ctx: PluginContext<Config>): Promise<Response> {
  const query = request.query as z.infer<typeof AuthorizeQuery>;
  if (!ctx.config.redirectUris.includes(query.redirect_uri)) {
    throw pluginProblem(400, "redirect_uri is not one of the plugin's configured redirectUris.");
  }
  if (!(await ctx.sessions.acceptsClient(query.client_id))) {
    throw pluginProblem(
      400,
      `client_id ${query.client_id} is not a client of this tenant allowed the authorization_code grant.`,
    );
  }
  const discovery = await discover(ctx);
  const state = randomToken();
  const nonce = randomToken();
  const verifier = randomToken();
  const now = Date.now();
  await sweepExpiredStates(ctx);
  await ctx.db.table("states").insert({
    state_hash: base64Url(await sha256(state)),
    nonce,
    verifier_sealed: await ctx.seal(verifier),
    app_client_id: query.client_id,
    app_redirect_uri: query.redirect_uri,
    app_state: query.state ?? null,
    app_code_challenge: query.code_challenge,
    created_at: new Date(now).toISOString(),
    expires_at: new Date(now + STATE_SECONDS * 1000).toISOString(),
  });
  const target = new URL(discovery.authorization_endpoint);
  const params = {
    response_type: "code",
    client_id: ctx.config.clientId,
    redirect_uri: callbackUrl(request, ctx.tenantId),
    scope: ctx.config.scopes,
    state,
    nonce,
    code_challenge: base64Url(await sha256(verifier)),
    code_challenge_method: "S256",
  };
  for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value);
  return redirect(target.toString());
}

/** The user this identity signs in as: its link, else (with linkByVerifiedEmail) the user with its verified email, else a new user. */
async function userFor(ctx: PluginContext<Config>, claims: IdentityClaims): Promise<string> {
  const identities = ctx.db.table("identities");
  const key = { issuer: ctx.config.issuer, subject: claims.sub };
  const now = new Date().toISOString();
  const linked = await identities.get(key);
  if (linked) {
    const userId = String(linked.user_id);
    if (await ctx.users.get(userId)) {
      await identities.update(key, { last_login_at: now });
      return userId;
    }
    // the user was purged since: the link is stale
    await identities.take(key);
  }
  if (!claims.email)
    throw pluginProblem(400, "The provider did not share an email (scope email), which a new user needs.");
  let userId: string | null = null;
  if (ctx.config.linkByVerifiedEmail && claims.emailVerified) {
    userId = (await ctx.users.findByEmail(claims.email))?.id ?? null;
  }
  if (!userId) {
    if (await ctx.users.findByEmail(claims.email)) {
      throw pluginProblem(
        409,
        "A user with this email exists and is not linked to this identity (linkByVerifiedEmail is off, or the provider did not verify the email).",
      );
    }
    userId = (await ctx.users.create({ email: claims.email, name: claims.name })).id;
  }
  // a concurrent callback of the same identity may have linked it first: the first link stands
  if (await identities.insertIfAbsent({ ...key, user_id: userId, linked_at: now, last_login_at: now })) {
    await ctx.users.identityLinked(userId, key);
    return userId;
  }
  return String((await identities.get(key))?.user_id);
}

async function callback(request: PluginRequest, ctx: PluginContext<Config>): Promise<Response> {
  const query = request.query as z.infer<typeof CallbackQuery>;
  if (!query.state) throw pluginProblem(400, "The provider's answer has no state.");
  // taken whatever follows: a state works once (a replayed callback finds nothing)
  const [state] = await ctx.db.table("states").take({ state_hash: base64Url(await sha256(query.state)) });
  if (!state || String(state.expires_at) <= new Date().toISOString()) {
    throw pluginProblem(400, "The sign-in state is unknown, expired or already used: start the sign-in again.");
  }
  if (query.error) {
    throw pluginProblem(
      400,
      `The provider refused the sign-in: ${query.error}${query.error_description ? ` (${query.error_description})` : ""}.`,
    );
  }
  if (!query.code) throw pluginProblem(400, "The provider's answer has no code.");
  const discovery = await discover(ctx);
  // RFC 9207: when the provider names itself in the answer, it must be the issuer we sent the user to (mix-up)
  if (
    (query.iss !== undefined || discovery.authorization_response_iss_parameter_supported) &&
    query.iss !== ctx.config.issuer
  ) {
    throw pluginProblem(400, "The answer's iss is not the configured issuer.");
  }
  const tokens = await exchangeCode(ctx, discovery, {
    code: query.code,
    redirectUri: callbackUrl(request, ctx.tenantId),
    verifier: await ctx.open(String(state.verifier_sealed)),
  });
  const verified = await verifyIdToken(ctx, discovery, tokens.idToken, String(state.nonce));
  const claims = await withUserInfo(ctx, discovery, verified, tokens.accessToken);
  const userId = await userFor(ctx, claims);
  const { code } = await ctx.sessions.signIn({
    userId,
    clientId: String(state.app_client_id),
    redirectUri: String(state.app_redirect_uri),
    codeChallenge: String(state.app_code_challenge),
    method: METHOD,
  });
  const back = new URL(String(state.app_redirect_uri));
  back.searchParams.set("code", code);
  if (state.app_state !== null) back.searchParams.set("state", String(state.app_state));
  return redirect(back.toString());
}

const REDIRECT = { 302: { description: "A redirect (see the description)" } };

export const oidcLogin = definePlugin({
  id: "oidc-login",
  version: "1.0.0",
  description:
    "Sign in with an external OpenID Connect provider (authorization code + PKCE); identities linked to users.",
  grants: ["users:read", "users:write", "users.email:read", "users.email:write"],
  config: { schema: ConfigSchema, secrets: ["clientSecret"] },
  schema: SCHEMA,
  events: {
    // a purged user's links go with it (a soft-deleted user keeps them, for a restore)
    async "user.purged"(event, ctx) {
      if (event.subjectId) await ctx.db.table("identities").take({ user_id: event.subjectId });
    },
  },
  routes: [
    {
      method: "get",
      path: "/authorize",
      summary: "Start a sign-in with the provider",
      description:
        "Public (a browser navigation). Checks `redirect_uri` against the configured redirectUris and `client_id` " +
        "(an OAuth client of the tenant allowed the authorization_code grant), then redirects (302) to the " +
        "provider's authorization endpoint with our state, nonce and PKCE challenge (pending ten minutes, single " +
        "use).",
      access: { credential: "public" },
      query: AuthorizeQuery,
      responses: REDIRECT,
      handler: authorize,
    },
    {
      method: "get",
      path: "/callback",
      summary: "The provider's answer (register this URL at the provider, with ?tenant=)",
      description:
        "Public. Takes the state (once), exchanges the provider's code with our PKCE verifier, validates the ID " +
        "token (signature, iss, aud, exp, nonce), finds or links or creates the user, signs them in and redirects " +
        "(302) to the app's redirect_uri with `code` (ours: exchange it at POST /oauth/token, " +
        "grant_type=authorization_code, with the app's client credentials and code_verifier) and the app's `state`.",
      access: { credential: "public" },
      query: CallbackQuery,
      responses: REDIRECT,
      handler: callback,
    },
  ],
});

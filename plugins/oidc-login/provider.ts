import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTPayload, jwtVerify } from "jose";
import { type PluginContext, pluginProblem } from "../../src/core/plugins";
import type { Config } from "./config";

/** What we use of a provider's discovery document (OpenID Connect Discovery 1.0 §3). */
export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
  token_endpoint_auth_methods_supported?: string[];
  id_token_signing_alg_values_supported?: string[];
  code_challenge_methods_supported?: string[];
  authorization_response_iss_parameter_supported?: boolean;
}

interface Cached {
  discovery: Discovery;
  jwks: JSONWebKeySet | null;
  until: number;
}

/** Per isolate, briefly: a sign-in costs two fetches less, and a provider's key rotation is seen within minutes. */
const CACHE_MS = 5 * 60 * 1000;
const cache = new Map<string, Cached>();

async function getJson(ctx: PluginContext<Config>, url: string, what: string): Promise<unknown> {
  let response: Response;
  try {
    response = await ctx.fetch(url, { headers: { accept: "application/json" }, timeoutMs: 5000 });
  } catch (error) {
    throw pluginProblem(502, `The provider's ${what} could not be fetched: ${message(error)}.`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw pluginProblem(502, `The provider's ${what} answered HTTP ${response.status}.`);
  }
  try {
    return await response.json();
  } catch {
    throw pluginProblem(502, `The provider's ${what} is not JSON.`);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The provider's discovery document, checked: it must be the configured issuer's (Discovery §4.3). */
export async function discover(ctx: PluginContext<Config>): Promise<Discovery> {
  const { issuer } = ctx.config;
  const hit = cache.get(issuer);
  if (hit && hit.until > Date.now()) return hit.discovery;
  // Discovery §4: a terminating "/" of the issuer is removed before appending the well-known path
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const doc = (await getJson(ctx, url, "discovery document")) as Partial<Discovery>;
  if (doc.issuer !== issuer) {
    throw pluginProblem(502, `The discovery document names the issuer ${String(doc.issuer)}, not ${issuer}.`);
  }
  for (const member of ["authorization_endpoint", "token_endpoint", "jwks_uri"] as const) {
    if (typeof doc[member] !== "string") throw pluginProblem(502, `The discovery document has no ${member}.`);
  }
  if (doc.code_challenge_methods_supported && !doc.code_challenge_methods_supported.includes("S256")) {
    throw pluginProblem(502, "The provider does not support PKCE with S256.");
  }
  const discovery = doc as Discovery;
  cache.set(issuer, { discovery, jwks: null, until: Date.now() + CACHE_MS });
  return discovery;
}

async function keys(ctx: PluginContext<Config>, discovery: Discovery, fresh: boolean): Promise<JSONWebKeySet> {
  const hit = cache.get(ctx.config.issuer);
  if (!fresh && hit?.jwks && hit.until > Date.now()) return hit.jwks;
  const jwks = (await getJson(ctx, discovery.jwks_uri, "JWKS")) as JSONWebKeySet;
  if (!Array.isArray(jwks?.keys)) throw pluginProblem(502, "The provider's JWKS has no keys.");
  if (hit) hit.jwks = jwks;
  return jwks;
}

/** The client authentication at the token endpoint (RFC 6749 §2.3.1): Basic unless only client_secret_post is offered. */
function clientAuthentication(
  config: Config,
  discovery: Discovery,
): { headers: Record<string, string>; form: Record<string, string> } {
  const methods = discovery.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
  if (methods.includes("client_secret_basic")) {
    // the id and secret are form-urlencoded before base64 (RFC 6749 §2.3.1)
    const encode = (value: string) => encodeURIComponent(value).replaceAll("%20", "+");
    const basic = btoa(`${encode(config.clientId)}:${encode(config.clientSecret)}`);
    return { headers: { authorization: `Basic ${basic}` }, form: {} };
  }
  if (methods.includes("client_secret_post")) {
    return { headers: {}, form: { client_id: config.clientId, client_secret: config.clientSecret } };
  }
  throw pluginProblem(502, `The provider offers no client authentication we support (${methods.join(", ")}).`);
}

/** Exchanges the provider's code at its token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5). */
export async function exchangeCode(
  ctx: PluginContext<Config>,
  discovery: Discovery,
  exchange: { code: string; redirectUri: string; verifier: string },
): Promise<{ idToken: string; accessToken: string | null }> {
  const auth = clientAuthentication(ctx.config, discovery);
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    code: exchange.code,
    redirect_uri: exchange.redirectUri,
    code_verifier: exchange.verifier,
    ...auth.form,
  });
  let response: Response;
  try {
    response = await ctx.fetch(discovery.token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", ...auth.headers },
      body: body.toString(),
      timeoutMs: 10_000,
    });
  } catch (error) {
    throw pluginProblem(502, `The provider's token endpoint could not be reached: ${message(error)}.`);
  }
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // reported below
  }
  if (!response.ok) {
    const error = typeof json.error === "string" ? json.error : `HTTP ${response.status}`;
    throw pluginProblem(502, `The provider refused the code exchange: ${error}.`);
  }
  if (typeof json.id_token !== "string") throw pluginProblem(502, "The provider's token response has no id_token.");
  return { idToken: json.id_token, accessToken: typeof json.access_token === "string" ? json.access_token : null };
}

/**
 * Fills in what the ID token left to the UserInfo endpoint (Core §5.4: with an access token, a provider may return
 * the scope's claims only there). The answer must be about the ID token's subject (Core §5.3.2).
 */
export async function withUserInfo(
  ctx: PluginContext<Config>,
  discovery: Discovery,
  claims: IdentityClaims,
  accessToken: string | null,
): Promise<IdentityClaims> {
  if (claims.email || !accessToken || !discovery.userinfo_endpoint) return claims;
  let response: Response;
  try {
    response = await ctx.fetch(discovery.userinfo_endpoint, {
      headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
      timeoutMs: 5000,
    });
  } catch (error) {
    throw pluginProblem(502, `The provider's UserInfo endpoint could not be reached: ${message(error)}.`);
  }
  if (!response.ok || !(response.headers.get("content-type") ?? "").includes("application/json")) {
    await response.body?.cancel();
    throw pluginProblem(502, `The provider's UserInfo endpoint answered HTTP ${response.status} without JSON.`);
  }
  const info = (await response.json()) as Record<string, unknown>;
  if (info.sub !== claims.sub) throw pluginProblem(502, "The UserInfo answer is about another subject.");
  return {
    sub: claims.sub,
    email: typeof info.email === "string" ? info.email : null,
    emailVerified: info.email_verified === true,
    name: claims.name ?? (typeof info.name === "string" ? info.name.slice(0, 200) : null),
  };
}

export interface IdentityClaims {
  sub: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

/**
 * Validates the ID token (OpenID Connect Core §3.1.3.7): signature by a key of the provider's JWKS with an algorithm
 * it announces (never `none`), `iss` the configured issuer, `aud` our client id (and `azp` ours when present),
 * unexpired, and the nonce of this sign-in.
 */
export async function verifyIdToken(
  ctx: PluginContext<Config>,
  discovery: Discovery,
  idToken: string,
  nonce: string,
): Promise<IdentityClaims> {
  const algorithms = (discovery.id_token_signing_alg_values_supported ?? ["RS256"]).filter((alg) => alg !== "none");
  const verify = async (fresh: boolean) =>
    jwtVerify(idToken, createLocalJWKSet(await keys(ctx, discovery, fresh)), {
      issuer: ctx.config.issuer,
      audience: ctx.config.clientId,
      algorithms,
      requiredClaims: ["sub", "exp", "iat"],
    });
  let payload: JWTPayload;
  try {
    try {
      payload = (await verify(false)).payload;
    } catch (error) {
      // the provider rotated its keys since we cached them: fetch them once more
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      payload = (await verify(true)).payload;
    }
  } catch (error) {
    if (error instanceof Error && "status" in error) throw error; // a problem of ours (JWKS fetch)
    throw pluginProblem(502, `The provider's ID token is not valid: ${message(error)}.`);
  }
  if (payload.azp !== undefined && payload.azp !== ctx.config.clientId) {
    throw pluginProblem(502, "The ID token was issued to another client (azp).");
  }
  if (payload.nonce !== nonce) {
    throw pluginProblem(400, "The ID token's nonce is not this sign-in's: start again.");
  }
  return {
    sub: String(payload.sub),
    email: typeof payload.email === "string" ? payload.email : null,
    emailVerified: payload.email_verified === true,
    name: typeof payload.name === "string" ? payload.name.slice(0, 200) : null,
  };
}

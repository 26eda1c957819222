import { parseCustomRoles } from "../../core/auth/custom-roles";
import { credentialGuard } from "../../core/auth/guard";
import { grantsOfRoles } from "../../core/auth/permissions";
import type { ServiceContext } from "../../core/context";
import { randomBase62 } from "../../core/crypto/encoding";
import { sha256Hex } from "../../core/crypto/hash";
import { tenantDatabases } from "../../core/db/databases";
import { assertPreviousChanged, clearAssertions, isAssertionFailure } from "../../core/db/statements";
import { newId } from "../../core/ids";
import { runAfterHooks } from "../../core/plugins/hooks";
import type { RequestInfo } from "../../env";
import { authenticateUser } from "../login/login.service";
import { customRolesOf } from "../roles/roles.repo";
import { forgetCachedUsers } from "../users/users.cache";
import { grantedScope, permissionsOfScope, signAccessToken } from "./access-tokens";
import { takeAuthorizationCode } from "./authorization-codes";
import { type AuthenticatedClient, assertClientActive, assertGrantAllowed, type OAuthClient } from "./client-auth";
import { CLIENT_TOKEN_SECONDS, REFRESH_FAMILY_SECONDS, USER_TOKEN_SECONDS } from "./oauth.config";
import { OAuthError } from "./oauth-error";
import { findRefreshToken, insertRefreshToken, markRefreshTokenUsed } from "./refresh-tokens.repo";
import { endSession } from "./sessions";

/** What a grant needs of the request, without Hono. */
export interface GrantContext {
  env: Env;
  issuer: string;
  request: RequestInfo;
  waitUntil(promise: Promise<unknown>): void;
}

/** RFC 6749 §5.1 success body. */
export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

const REFRESH_TOKEN_PREFIX = "uom_rt_";

/** The client's tenant as a service context; the client is the actor of what the grant writes. */
export async function clientContext(g: GrantContext, client: OAuthClient): Promise<ServiceContext> {
  return {
    env: g.env,
    db: await tenantDatabases.forTenant(g.env, client.tenant),
    scope: client.tenant.id,
    tenant: client.tenant,
    actor: { type: "client", id: client.id },
    request: g.request,
    waitUntil: g.waitUntil,
  };
}

/**
 * RFC 6749 §4.4. The hot path: with the client and the signing key cached, no D1 query and no write (no audit
 * row per grant); one guard call, run while the token is signed.
 */
export async function clientCredentialsGrant(
  g: GrantContext,
  authenticated: AuthenticatedClient,
  form: URLSearchParams,
): Promise<TokenResponse> {
  const { client } = authenticated;
  assertGrantAllowed(client, "client_credentials");
  const scope = grantedScope(client.permissions, form.get("scope"));
  const [, signed] = await Promise.all([
    assertClientActive(authenticated),
    signAccessToken(
      g.env,
      g.issuer,
      { sub: client.id, tid: client.tenant.id, clientId: client.clientId, scope },
      CLIENT_TOKEN_SECONDS,
    ),
  ]);
  return { access_token: signed.token, token_type: "Bearer", expires_in: signed.expiresIn, scope };
}

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (value === null || value === "") throw new OAuthError("invalid_request", `The ${name} parameter is required.`);
  return value;
}

async function newRefreshToken(): Promise<{ token: string; hash: string }> {
  const token = `${REFRESH_TOKEN_PREFIX}${randomBase62(43)}`;
  return { token, hash: await sha256Hex(token) };
}

/** The user's access token (with its session id) and, when the client may refresh, the refresh token. */
async function userTokens(
  g: GrantContext,
  client: OAuthClient,
  user: { id: string; roles: readonly string[] },
  familyId: string,
  scope: string,
  refresh: { token: string } | null,
): Promise<TokenResponse> {
  const signed = await signAccessToken(
    g.env,
    g.issuer,
    { sub: user.id, tid: client.tenant.id, clientId: client.clientId, scope, sid: familyId, roles: user.roles },
    USER_TOKEN_SECONDS,
  );
  return {
    access_token: signed.token,
    token_type: "Bearer",
    expires_in: signed.expiresIn,
    scope,
    ...(refresh ? { refresh_token: refresh.token } : {}),
  };
}

/**
 * RFC 6749 §4.3, through the login service (throttling, equal answers, second factor). A login starts a session:
 * a refresh-token family, recorded even when the client may not refresh (then the token is not handed out), so
 * that deleting the client or revoking the session can find every login.
 */
export async function passwordGrant(
  g: GrantContext,
  authenticated: AuthenticatedClient,
  form: URLSearchParams,
): Promise<TokenResponse> {
  const { client } = authenticated;
  assertGrantAllowed(client, "password");
  const identifier = required(form, "username");
  const password = required(form, "password");
  const totp = form.get("totp") ?? undefined;
  const ctx = await clientContext(g, client);
  const [, result] = await Promise.all([
    assertClientActive(authenticated),
    authenticateUser(ctx, { identifier, password, totp, ip: g.request.ip }),
  ]);
  if (!result.ok) {
    if (result.statements.length > 0) await ctx.db.batch(result.statements);
    const retryAfter = result.retryAfterSeconds;
    throw new OAuthError(
      result.error,
      result.description,
      result.status ?? 400,
      retryAfter === undefined ? {} : { "Retry-After": String(retryAfter) },
    );
  }
  const tokens = await startSession(g, ctx, client, result.user, form.get("scope"), result.statements);
  ctx.waitUntil(runAfterHooks(ctx, "user.login", { userId: result.user.id }));
  return tokens;
}

/**
 * Starts a session of the user for the client: the scope (the user's grants within the client's), a refresh-token
 * family written in one batch with `statements` (the login's own rows), and the tokens.
 */
async function startSession(
  g: GrantContext,
  ctx: ServiceContext,
  client: OAuthClient,
  user: { id: string; roles: readonly string[] },
  requestedScope: string | null,
  statements: D1PreparedStatement[],
): Promise<TokenResponse> {
  // the user's custom roles count as the tenant's plan has them (none on a plan without custom roles)
  const custom = await customRolesOf(ctx.db, [...user.roles], client.tenant.plan);
  const userGrants = grantsOfRoles([...user.roles], custom);
  const scope = grantedScope(userGrants.intersect(client.permissions), requestedScope);
  const familyId = newId("ses");
  const refresh = await newRefreshToken();
  const now = Date.now();
  try {
    await ctx.db.batch([
      ...statements,
      insertRefreshToken(ctx.db, {
        token_hash: refresh.hash,
        family_id: familyId,
        user_id: user.id,
        client_id: client.id,
        scope,
        created_at: new Date(now).toISOString(),
        expires_at: new Date(now + REFRESH_FAMILY_SECONDS * 1000).toISOString(),
      }),
      clearAssertions(ctx.db),
    ]);
  } catch (error) {
    // a one-time code spent by a concurrent request: this login loses
    if (isAssertionFailure(error)) throw new OAuthError("invalid_grant", "The one-time code was already used.");
    throw error;
  }
  // the login's own rows moved the user's last_login_at and version
  if (statements.length > 0) await forgetCachedUsers(ctx, [user.id]);
  const handOut = client.grantTypes.includes("refresh_token") ? refresh : null;
  return userTokens(g, client, user, familyId, scope, handOut);
}

/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5): exchanges a code of a sign-in that happened elsewhere (a plugin's
 * external login, authorization-codes.ts; the login was recorded then). The code works once; the user must still
 * be active. The scope is what the token request asks for, within the user's and the client's grants.
 */
export async function authorizationCodeGrant(
  g: GrantContext,
  authenticated: AuthenticatedClient,
  form: URLSearchParams,
): Promise<TokenResponse> {
  const { client } = authenticated;
  assertGrantAllowed(client, "authorization_code");
  const code = required(form, "code");
  const ctx = await clientContext(g, client);
  const [, taken] = await Promise.all([
    assertClientActive(authenticated),
    takeAuthorizationCode(ctx.db, client.id, {
      code,
      redirectUri: form.get("redirect_uri"),
      verifier: form.get("code_verifier"),
    }),
  ]);
  const user = await ctx.db
    .prepare("SELECT status, roles FROM users WHERE id = ?")
    .bind(taken.userId)
    .first<{ status: string; roles: string }>();
  if (user?.status !== "active") {
    throw new OAuthError("invalid_grant", "The authorization code is invalid, expired or already used.");
  }
  const roles = JSON.parse(user.roles) as string[];
  return startSession(g, ctx, client, { id: taken.userId, roles }, form.get("scope"), []);
}

/** Reuse of a spent refresh token: the whole family is revoked (RFC 9700 §4.14.2), in D1 and on the guard. */
async function revokeReusedFamily(
  ctx: ServiceContext,
  row: { family_id: string; user_id: string; expires_at: string },
): Promise<OAuthError> {
  await endSession(ctx, row, "refresh_token_reused");
  return new OAuthError("invalid_grant", "The refresh token was already used; its session is revoked.");
}

/**
 * RFC 6749 §6 with rotation: each refresh token works once and is replaced by a new one of the same family
 * (which keeps the family's end). The user's current roles decide the new scope, within the original one.
 */
export async function refreshTokenGrant(
  g: GrantContext,
  authenticated: AuthenticatedClient,
  form: URLSearchParams,
): Promise<TokenResponse> {
  const { client } = authenticated;
  assertGrantAllowed(client, "refresh_token");
  const presented = required(form, "refresh_token");
  const ctx = await clientContext(g, client);
  const [, row] = await Promise.all([
    assertClientActive(authenticated),
    sha256Hex(presented).then((hash) => findRefreshToken(ctx.db, hash)),
  ]);
  const invalid = new OAuthError("invalid_grant", "The refresh token is invalid, expired or revoked.");
  // a token of another client is as unknown as a forged one (RFC 6749 §10.4: bound to its client)
  if (!row || row.client_id !== client.id || row.revoked_at !== null) throw invalid;
  if (row.used_at !== null) throw await revokeReusedFamily(ctx, row);
  if (Date.parse(row.expires_at) <= Date.now() || row.user_status !== "active" || row.user_roles === null) {
    throw invalid;
  }
  const userGuard = await credentialGuard(g.env, `user:${client.tenant.id}:${row.user_id}`).check({
    sid: row.family_id,
    issuedAtMs: Date.parse(row.created_at),
  });
  if (!userGuard.ok) throw invalid;

  const roles = JSON.parse(row.user_roles) as string[];
  const userGrants = grantsOfRoles(roles, parseCustomRoles(row.user_custom_roles, client.tenant.plan));
  const allowed = permissionsOfScope(row.scope).intersect(userGrants).intersect(client.permissions);
  const scope = grantedScope(allowed, form.get("scope"));
  const next = await newRefreshToken();
  const at = new Date().toISOString();
  try {
    await ctx.db.batch([
      markRefreshTokenUsed(ctx.db, row.token_hash, at),
      assertPreviousChanged(ctx.db),
      insertRefreshToken(ctx.db, {
        token_hash: next.hash,
        family_id: row.family_id,
        user_id: row.user_id,
        client_id: client.id,
        scope: row.scope,
        created_at: at,
        expires_at: row.expires_at,
      }),
      clearAssertions(ctx.db),
    ]);
  } catch (error) {
    // two requests raced with the same token: one of them is a replay
    if (isAssertionFailure(error)) throw await revokeReusedFamily(ctx, row);
    throw error;
  }
  return userTokens(g, client, { id: row.user_id, roles }, row.family_id, scope, next);
}

import {
  type AccessTokenClaims,
  checkTokenGuard,
  looksLikeJwt,
  tokenGuard,
  verifyAccessToken,
} from "../../core/auth/access-token-auth";
import { credentialGuard } from "../../core/auth/guard";
import { sha256Hex } from "../../core/crypto/hash";
import { type AuthenticatedClient, assertClientActive, type OAuthClient } from "./client-auth";
import { OAuthError } from "./oauth-error";
import { findRefreshToken } from "./refresh-tokens.repo";
import { endSession } from "./sessions";
import { clientContext, type GrantContext } from "./token.service";

const INACTIVE = { active: false } as const;

function tokenOf(form: URLSearchParams): string {
  const token = form.get("token");
  if (token === null || token === "") throw new OAuthError("invalid_request", "The token parameter is required.");
  return token;
}

/** An access token of this client's tenant, still valid and not revoked; else null. */
async function liveAccessToken(g: GrantContext, client: OAuthClient, token: string): Promise<AccessTokenClaims | null> {
  let claims: AccessTokenClaims;
  try {
    claims = await verifyAccessToken(g.env, token, g.issuer);
  } catch {
    return null;
  }
  // another tenant's token is not this client's business: as unknown as a forged one
  if (claims.tid !== client.tenant.id) return null;
  return (await checkTokenGuard(g.env, claims)).ok ? claims : null;
}

async function liveRefreshToken(g: GrantContext, client: OAuthClient, token: string) {
  const ctx = await clientContext(g, client);
  const row = await findRefreshToken(ctx.db, await sha256Hex(token));
  // refresh tokens are bound to their client (RFC 6749 §10.4): another client learns nothing of them
  if (!row || row.client_id !== client.id || row.used_at !== null || row.revoked_at !== null) return null;
  if (Date.parse(row.expires_at) <= Date.now() || row.user_status !== "active") return null;
  const verdict = await credentialGuard(g.env, `user:${client.tenant.id}:${row.user_id}`).check({
    sid: row.family_id,
    issuedAtMs: Date.parse(row.created_at),
  });
  return verdict.ok ? { ctx, row } : null;
}

/**
 * RFC 7662. Any client of the tenant may introspect the tenant's access tokens (a resource server's need);
 * a refresh token only by the client it was issued to. Everything else is `{active: false}`.
 */
export async function introspect(g: GrantContext, authenticated: AuthenticatedClient, form: URLSearchParams) {
  await assertClientActive(authenticated);
  const { client } = authenticated;
  const token = tokenOf(form);
  if (looksLikeJwt(token)) {
    const claims = await liveAccessToken(g, client, token);
    if (!claims) return INACTIVE;
    const { scope, client_id, sub, tid, sid, roles, exp, iat, nbf, iss, aud, jti } = claims;
    return { active: true, token_type: "Bearer", scope, client_id, sub, tid, sid, roles, exp, iat, nbf, iss, aud, jti };
  }
  const live = await liveRefreshToken(g, client, token);
  if (!live) return INACTIVE;
  const { row } = live;
  return {
    active: true,
    scope: row.scope,
    client_id: client.clientId,
    sub: row.user_id,
    tid: client.tenant.id,
    sid: row.family_id,
    exp: Math.floor(Date.parse(row.expires_at) / 1000),
    iat: Math.floor(Date.parse(row.created_at) / 1000),
  };
}

/**
 * RFC 7009. An access token is denied on its guard until it expires; a refresh token revokes its session (the
 * family in D1, and the family's access tokens on the user's guard). A client revokes only what was issued to
 * it; anything else is answered like an unknown token: 200, nothing done (§2.2).
 */
export async function revoke(g: GrantContext, authenticated: AuthenticatedClient, form: URLSearchParams) {
  await assertClientActive(authenticated);
  const { client } = authenticated;
  const token = tokenOf(form);
  if (looksLikeJwt(token)) {
    const claims = await liveAccessToken(g, client, token);
    if (claims && claims.client_id === client.clientId)
      await tokenGuard(g.env, claims).denyToken(claims.jti, claims.exp * 1000);
    return;
  }
  const live = await liveRefreshToken(g, client, token);
  if (!live) return;
  const { ctx, row } = live;
  await endSession(ctx, row, "revoked_by_client");
}

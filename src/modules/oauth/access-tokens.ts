import { SignJWT } from "jose";
import { Grants } from "../../core/auth/grants";
import { newId } from "../../core/ids";
import { audienceOf } from "./oauth.config";
import { OAuthError } from "./oauth-error";
import { signingKey } from "./signing-keys";

export interface AccessTokenSubject {
  /** The client's id (client_credentials) or the user's id. */
  sub: string;
  tid: string;
  /** The OAuth client_id the token is issued to. */
  clientId: string;
  scope: string;
  /** An end user's session (refresh-token family) and roles. */
  sid?: string;
  roles?: readonly string[];
}

export interface SignedAccessToken {
  token: string;
  jti: string;
  expiresIn: number;
}

/** An RFC 9068 JWT access token (`typ: at+jwt`), ES256 with the active key's kid. */
export async function signAccessToken(
  env: Env,
  issuer: string,
  subject: AccessTokenSubject,
  lifetimeSeconds: number,
): Promise<SignedAccessToken> {
  const { kid, key } = await signingKey(env);
  const now = Math.floor(Date.now() / 1000);
  const jti = newId("tok");
  const claims: Record<string, unknown> = { tid: subject.tid, client_id: subject.clientId, scope: subject.scope };
  if (subject.sid !== undefined) claims.sid = subject.sid;
  if (subject.roles !== undefined) claims.roles = [...subject.roles];
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
    .setIssuer(issuer)
    .setAudience(audienceOf(issuer))
    .setSubject(subject.sub)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + lifetimeSeconds)
    .setJti(jti)
    .sign(key);
  return { token, jti, expiresIn: lifetimeSeconds };
}

/** Grants, space-separated (RFC 6749 §3.3); a scope token may be a pattern such as `users.attributes.*:read`. */
export function scopeOf(grants: Grants): string {
  return grants.list.join(" ");
}

export function permissionsOfScope(scope: string): Grants {
  return new Grants(scope.split(" ").filter(Boolean));
}

/**
 * The scope to grant: everything allowed when none is asked for, else exactly what is asked — all of which must
 * be allowed (RFC 6749 §3.3 lets a server narrow a request; refusing says clearly what is wrong instead).
 */
export function grantedScope(allowed: Grants, requested: string | null): string {
  if (requested === null || requested.trim() === "") return scopeOf(allowed);
  const asked = requested.split(" ").filter(Boolean);
  const beyond = asked.filter((s) => !allowed.covers(s));
  if (beyond.length > 0) {
    throw new OAuthError("invalid_scope", `Not grantable to this client or user: ${beyond.join(" ")}.`);
  }
  return scopeOf(new Grants(asked));
}

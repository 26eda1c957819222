import type { Actor, Auth } from "../../env";
import { constantTimeEqual } from "../crypto/hash";
import { ApiError, CoreErrors } from "../errors";
import type { WaitUntil } from "../rate-limit/limiter";
import { authenticateAccessToken, forgetTokenTenant, looksLikeJwt } from "./access-token-auth";
import { forgetAccount } from "./account";
import { authenticateApiKey, forgetApiKeysOfTenant } from "./api-key-auth";
import { API_KEY_PREFIX } from "./api-key-format";

const ADMIN: Actor = { type: "admin", id: "admin" };

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header ?? "");
  return match?.[1];
}

/**
 * Who is calling: the platform admin token, a tenant API key, or an OAuth access token (JWT). `origin` is the
 * request's origin, from which the expected token issuer follows when OAUTH_ISSUER is not configured.
 */
export async function authenticate(
  env: Env,
  header: string | undefined,
  origin: string,
  waitUntil: WaitUntil,
): Promise<Auth> {
  if (!header) {
    throw new ApiError(CoreErrors.UNAUTHENTICATED, {
      detail: "Send a credential: Authorization: Bearer <token>.",
      headers: { "WWW-Authenticate": 'Bearer realm="uom"' },
    });
  }
  const token = bearerToken(header);
  if (!token) throw invalidCredential("The Authorization header must be 'Bearer <token>'.");
  if (token.startsWith(API_KEY_PREFIX)) return authenticateApiKey(env, token, waitUntil);
  if (looksLikeJwt(token)) return authenticateAccessToken(env, token, origin, waitUntil);
  if (env.ADMIN_TOKEN && (await constantTimeEqual(token, env.ADMIN_TOKEN))) return { kind: "admin", actor: ADMIN };
  throw invalidCredential("The credential is not recognised.");
}

/** 401 with the RFC 6750 §3 challenge. */
export function invalidCredential(detail: string): ApiError {
  return new ApiError(CoreErrors.INVALID_CREDENTIAL, {
    detail,
    headers: { "WWW-Authenticate": 'Bearer realm="uom", error="invalid_token"' },
  });
}

/**
 * Drops what this isolate caches about a tenant's credentials and about it as a sub-account (after the tenant is
 * deleted or its plan changes).
 */
export function forgetTenantCredentials(tenantId: string): void {
  forgetApiKeysOfTenant(tenantId);
  forgetTokenTenant(tenantId);
  forgetAccount(tenantId);
}

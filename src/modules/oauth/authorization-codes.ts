import type { ServiceContext } from "../../core/context";
import { randomBase62, toBase64Url, utf8 } from "../../core/crypto/encoding";
import { constantTimeEqual, sha256Hex } from "../../core/crypto/hash";
import { ApiError, CoreErrors } from "../../core/errors";
import { runAfterHooks } from "../../core/plugins/hooks";
import { applyLoginHooks } from "../login/login.service";
import { successStatements } from "../login/login.statements";
import { forgetCachedUsers } from "../users/users.cache";
import { getUser } from "../users/users.service";
import { findClient, type OAuthClient } from "./client-auth";
import { OAuthError } from "./oauth-error";

/**
 * One-time authorization codes (RFC 6749 §4.1) for sign-ins that happen outside the token endpoint: a plugin
 * authenticates the end user its own way (an external OpenID Connect provider), then calls `signInWithCode`, which
 * does what a password login does (user.login hooks, `last_login_at`, the audit row and the `user.login` event) and
 * returns a code for the app. The app exchanges it at POST /oauth/token (grant_type=authorization_code) with its
 * client credentials and its PKCE verifier: tokens never travel in a URL.
 */

/** How long a code can be exchanged: a redirect and a back-channel call take seconds (RFC 6749 §4.1.2: at most 10 min). */
export const AUTHORIZATION_CODE_SECONDS = 60;
const CODE_PREFIX = "uom_ac_";
/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)), 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const METHOD = /^[a-z][a-z0-9_-]{0,31}$/;

export interface CodeSignIn {
  userId: string;
  /** The OAuth client_id of this tenant's client the code is for; it must allow the authorization_code grant. */
  clientId: string;
  /** Where the app receives the code; the exchange must name the same (RFC 6749 §4.1.3). */
  redirectUri: string;
  /** The app's PKCE S256 code_challenge (RFC 7636 §4.2). */
  codeChallenge: string;
  /** The `user.login` event's method (`oidc`). */
  method: string;
}

function badRequest(detail: string): ApiError {
  return new ApiError(CoreErrors.BAD_REQUEST, { detail });
}

/** This tenant's client with this client_id, when it may exchange authorization codes. */
async function codeClient(env: Env, tenantId: string, clientId: string): Promise<OAuthClient | null> {
  const client = await findClient(env, clientId);
  return client?.tenant.id === tenantId && client.grantTypes.includes("authorization_code") ? client : null;
}

/** Whether this tenant has a client with this client_id that may exchange authorization codes. */
export async function clientAcceptsCodes(env: Env, tenantId: string, clientId: string): Promise<boolean> {
  return (await codeClient(env, tenantId, clientId)) !== null;
}

/**
 * Signs a verified user in for a client: the user.login before-hooks (a refusal throws 403 HOOK_REJECTED), then in
 * one batch the login's rows and the code's hash, then the after-hooks. Only an active user signs in.
 */
export async function signInWithCode(
  ctx: ServiceContext,
  signIn: CodeSignIn,
): Promise<{ code: string; expiresIn: number }> {
  const tenantId = ctx.tenant?.id;
  if (!tenantId) throw new Error("signInWithCode needs a tenant's service context");
  if (!METHOD.test(signIn.method) || signIn.method.startsWith("password")) {
    throw new Error(`signInWithCode: '${signIn.method}' is not a sign-in method name`);
  }
  if (!S256_CHALLENGE.test(signIn.codeChallenge)) throw badRequest("code_challenge must be an S256 challenge.");
  const client = await codeClient(ctx.env, tenantId, signIn.clientId);
  if (!client) throw badRequest(`No client ${signIn.clientId} of this tenant may use the authorization_code grant.`);
  const { user } = await getUser(ctx, signIn.userId, false);
  if (user.status !== "active") throw new ApiError(CoreErrors.FORBIDDEN, { detail: "This account is disabled." });
  await applyLoginHooks(ctx, signIn.userId);
  const code = `${CODE_PREFIX}${randomBase62(43)}`;
  const now = Date.now();
  const at = new Date(now).toISOString();
  await ctx.db.batch([
    ...(await successStatements(ctx, {
      userId: signIn.userId,
      rehash: null,
      secondFactor: null,
      method: signIn.method,
    })),
    ctx.db
      .prepare(
        `INSERT INTO oauth_authorization_codes
           (code_hash, client_id, user_id, redirect_uri, code_challenge, method, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        await sha256Hex(code),
        client.id,
        signIn.userId,
        signIn.redirectUri,
        signIn.codeChallenge,
        signIn.method,
        at,
        new Date(now + AUTHORIZATION_CODE_SECONDS * 1000).toISOString(),
      ),
  ]);
  await forgetCachedUsers(ctx, [signIn.userId]);
  ctx.waitUntil(runAfterHooks(ctx, "user.login", { userId: signIn.userId }));
  return { code, expiresIn: AUTHORIZATION_CODE_SECONDS };
}

interface CodeRow {
  client_id: string;
  user_id: string;
  redirect_uri: string;
  code_challenge: string;
  expires_at: string;
}

/**
 * Takes a code for the client (RFC 6749 §4.1.3): deleted as it is read, so it works once whatever happens next; it
 * must be the client's, unexpired, for the same redirect_uri, and the verifier must match its challenge.
 */
export async function takeAuthorizationCode(
  db: D1Database,
  clientRowId: string,
  form: { code: string; redirectUri: string | null; verifier: string | null },
): Promise<{ userId: string }> {
  const invalid = new OAuthError("invalid_grant", "The authorization code is invalid, expired or already used.");
  const row = await db
    .prepare(
      "DELETE FROM oauth_authorization_codes WHERE code_hash = ? RETURNING client_id, user_id, redirect_uri, code_challenge, expires_at",
    )
    .bind(await sha256Hex(form.code))
    .first<CodeRow>();
  // a code of another client is as unknown as a forged one (RFC 6749 §10.5: bound to its client)
  if (!row || row.client_id !== clientRowId || Date.parse(row.expires_at) <= Date.now()) throw invalid;
  if (form.redirectUri !== row.redirect_uri) {
    throw new OAuthError("invalid_grant", "redirect_uri differs from the one the code was issued for.");
  }
  if (form.verifier === null || !VERIFIER.test(form.verifier)) {
    throw new OAuthError("invalid_request", "code_verifier (RFC 7636 §4.1) is required.");
  }
  const digest = toBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(form.verifier))));
  if (!(await constantTimeEqual(digest, row.code_challenge))) {
    throw new OAuthError("invalid_grant", "code_verifier does not match the code_challenge.");
  }
  return { userId: row.user_id };
}

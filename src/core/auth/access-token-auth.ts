import { errors as joseErrors, jwtVerify } from "jose";
import type { CredentialProbe, CredentialVerdict } from "../../durable-objects/credential-state";
import type { Auth, TenantRef } from "../../env";
import { findClient, forgetClientsOfTenant } from "../../modules/oauth/client-auth";
import { audienceOf, issuerOf } from "../../modules/oauth/oauth.config";
import { verificationKey } from "../../modules/oauth/signing-keys";
import { controlDb } from "../db/databases";
import { idTime } from "../ids";
import type { Plan } from "../plans";
import { checkCredential, type WaitUntil } from "../rate-limit/limiter";
import { appliedPolicy, parseTenantRateLimits, type TenantRateLimits } from "../rate-limit/policy";
import { isScoped } from "./assignments";
import { invalidCredential } from "./credentials";
import { Grants } from "./grants";
import { credentialGuard, type GuardName } from "./guard";
import { scopedGrantsOfRoles } from "./permissions";

/** A compact JWS (RFC 7515 §7.1): three base64url parts, the header a JSON object. */
export function looksLikeJwt(token: string): boolean {
  return /^eyJ[\w-]*\.[\w-]*\.[\w-]*$/.test(token);
}

/** The claims of our access tokens (RFC 9068 §2.2, plus `tid`, and `sid`/`roles` on an end user's token). */
export interface AccessTokenClaims {
  iss: string;
  aud: string;
  /** The client's id (`cli_…`) for client_credentials, the user's id otherwise. */
  sub: string;
  tid: string;
  /** The OAuth client_id the token was issued to. */
  client_id: string;
  /** Space-separated permissions. */
  scope: string;
  jti: string;
  iat: number;
  nbf: number;
  exp: number;
  /** The refresh-token family (login session) of an end user's token. */
  sid?: string;
  roles?: string[];
}

const REQUIRED_CLAIMS = ["iss", "aud", "sub", "tid", "client_id", "scope", "jti", "iat", "nbf", "exp"];

function wellTyped(payload: Record<string, unknown>): payload is Record<string, unknown> & AccessTokenClaims {
  const strings = ["sub", "tid", "client_id", "scope", "jti"].every((name) => typeof payload[name] === "string");
  const sid = payload.sid === undefined || typeof payload.sid === "string";
  const roles =
    payload.roles === undefined || (Array.isArray(payload.roles) && payload.roles.every((r) => typeof r === "string"));
  // an end user's token names its session; a client's token is about the client itself
  const kind = payload.sid === undefined ? String(payload.sub).startsWith("cli_") : payload.roles !== undefined;
  return strings && sid && roles && kind;
}

/**
 * Verifies an access token as RFC 9068 §4 asks: ES256 only (no `none`, no HMAC with a public key), a kid we
 * publish, our issuer and audience, the `at+jwt` type, every claim present, within nbf/exp. Throws jose's
 * errors (or a TypeError for a malformed payload).
 */
export async function verifyAccessToken(env: Env, token: string, issuer: string): Promise<AccessTokenClaims> {
  const { payload } = await jwtVerify(
    token,
    async (header) => {
      const key = header.kid ? await verificationKey(env, header.kid) : null;
      if (!key) throw new joseErrors.JWKSNoMatchingKey();
      return key;
    },
    { algorithms: ["ES256"], issuer, audience: audienceOf(issuer), typ: "at+jwt", requiredClaims: REQUIRED_CLAIMS },
  );
  if (!wellTyped(payload)) throw new TypeError("malformed access-token claims");
  return payload;
}

/** The Durable Object that can stop a token at once: its client's, or its user's. */
export function tokenGuard(env: Env, claims: AccessTokenClaims) {
  return credentialGuard(env, guardNameOf(claims));
}

function guardNameOf(claims: AccessTokenClaims): GuardName {
  return claims.sid === undefined ? `client:${claims.sub}` : `user:${claims.tid}:${claims.sub}`;
}

function tokenProbe(claims: AccessTokenClaims): CredentialProbe {
  return {
    jti: claims.jti,
    issuedAtMs: idTime(claims.jti) ?? claims.iat * 1000,
    ...(claims.sid === undefined ? {} : { sid: claims.sid }),
  };
}

/** One call to the token's guard: is the client deleted, the token denied, the session revoked? */
export function checkTokenGuard(env: Env, claims: AccessTokenClaims): Promise<CredentialVerdict> {
  return tokenGuard(env, claims).check(tokenProbe(claims));
}

/** A token's tenant, with its rate limits (the token's bucket is its client's or its user's). */
interface TokenTenant {
  tenant: TenantRef;
  rateLimits: TenantRateLimits;
}

interface TenantEntry {
  tenant: Promise<TokenTenant | null>;
  until: number;
}

/** Tenants of verified tokens, kept per isolate for CREDENTIAL_CACHE_SECONDS (unknown ones briefly). */
const tenants = new Map<string, TenantEntry>();
const MAX_TENANTS = 10_000;
const NEGATIVE_SECONDS = 2;

interface TenantRow {
  id: string;
  plan: Plan;
  parent_id: string | null;
  database_binding: string;
  rate_limits: string | null;
}

async function lookupTenant(env: Env, id: string): Promise<TokenTenant | null> {
  const db = await controlDb(env);
  const row = await db
    .prepare("SELECT id, plan, parent_id, database_binding, rate_limits FROM tenants WHERE id = ?")
    .bind(id)
    .first<TenantRow>();
  if (!row) return null;
  return {
    tenant: { id: row.id, plan: row.plan, parentId: row.parent_id, databaseBinding: row.database_binding },
    rateLimits: parseTenantRateLimits(row.rate_limits),
  };
}

async function tenantOfToken(env: Env, tenantId: string): Promise<TokenTenant | null> {
  const now = Date.now();
  const hit = tenants.get(tenantId);
  if (hit && hit.until > now) return hit.tenant;
  if (tenants.size >= MAX_TENANTS) tenants.delete(tenants.keys().next().value as string);
  const entry: TenantEntry = { tenant: lookupTenant(env, tenantId), until: now + NEGATIVE_SECONDS * 1000 };
  tenants.set(tenantId, entry);
  try {
    const tenant = await entry.tenant;
    if (tenant) entry.until = now + Number(env.CREDENTIAL_CACHE_SECONDS ?? 10) * 1000;
    return tenant;
  } catch (error) {
    if (tenants.get(tenantId) === entry) tenants.delete(tenantId);
    throw error;
  }
}

function refusal(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "The access token has expired.";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "The access token was not signed by a key we publish.";
  return "The access token is not valid.";
}

/**
 * Authenticates an OAuth access token: signature and claims, then the tenant (`tid`, cached), then ONE call to the
 * guard that holds revocations (deleted client, revoked token or session) and the rate-limit bucket of the token's
 * client (client credentials) or user (a sign-in), under the tenant's policy.
 */
export async function authenticateAccessToken(
  env: Env,
  token: string,
  origin: string,
  waitUntil: WaitUntil,
): Promise<Auth> {
  let claims: AccessTokenClaims;
  try {
    claims = await verifyAccessToken(env, token, issuerOf(env, origin));
  } catch (error) {
    throw invalidCredential(refusal(error));
  }
  const found = await tenantOfToken(env, claims.tid);
  if (!found) throw invalidCredential("The access token's tenant no longer exists.");
  const { tenant } = found;
  const { verdict, rate } = await checkCredential(
    env,
    guardNameOf(claims),
    tokenProbe(claims),
    appliedPolicy(tenant.plan, found.rateLimits, null),
    waitUntil,
  );
  if (!verdict.ok) throw invalidCredential("The access token has been revoked.");
  const roles = claims.roles ?? [];
  const scoped = roles.some(isScoped) ? await scopedGrantsOfToken(env, tenant.id, claims.client_id, roles) : undefined;
  return {
    kind: "tenant",
    actor: claims.sid === undefined ? { type: "client", id: claims.sub } : { type: "user", id: claims.sub },
    tenant,
    roles,
    // the scope was bounded by the roles and the client when the token was issued (token.service.ts)
    permissions: new Grants(claims.scope.split(" ").filter(Boolean)),
    ...(scoped && scoped.size > 0 ? { scoped } : {}),
    ...(rate ? { rateLimit: rate } : {}),
  };
}

/**
 * An end user's assignments scoped to sub-accounts (`manager@ten_…`, carried in the `roles` claim): what their
 * built-in roles grant there, bounded by the client the token was issued to, as the token's scope is bounded by
 * it at home. Custom roles are not loaded with a token: a scoped custom role grants nothing through one. The
 * client comes from the per-isolate client cache; a client that is gone bounds to nothing.
 */
async function scopedGrantsOfToken(
  env: Env,
  tenantId: string,
  clientId: string,
  roles: readonly string[],
): Promise<ReadonlyMap<string, Grants>> {
  const client = await findClient(env, clientId);
  const bound = client && client.tenant.id === tenantId ? client.permissions : Grants.NONE;
  const scoped = new Map<string, Grants>();
  for (const [account, grants] of scopedGrantsOfRoles(roles)) scoped.set(account, grants.intersect(bound));
  return scoped;
}

/** Drops what this isolate caches about a tenant's tokens and clients (the tenant was deleted or changed). */
export function forgetTokenTenant(tenantId: string): void {
  tenants.delete(tenantId);
  forgetClientsOfTenant(tenantId);
}

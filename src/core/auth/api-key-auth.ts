import type { Actor, Auth, TenantRef } from "../../env";
import { sha256Hex } from "../crypto/hash";
import { controlDb, tenantDatabases } from "../db/databases";
import type { Plan } from "../plans";
import { checkCredential, type WaitUntil } from "../rate-limit/limiter";
import {
  appliedPolicy,
  parseKeyPolicy,
  parseTenantRateLimits,
  type RatePolicy,
  type TenantRateLimits,
} from "../rate-limit/policy";
import { isWellFormedApiKey } from "./api-key-format";
import { invalidCredential } from "./credentials";
import { customRolesColumn, parseCustomRoles } from "./custom-roles";
import type { Grants } from "./grants";
import { grantsOfRoles, scopedGrantsOfRoles } from "./permissions";

interface VerifiedKey {
  actor: Actor & { type: "api_key" };
  tenant: TenantRef;
  roles: readonly string[];
  /** What its roles grant, custom roles included (resolved with the key, cached with it). */
  grants: Grants;
  /** What its assignments scoped to sub-accounts grant, by account (resolved and cached the same way). */
  scoped: ReadonlyMap<string, Grants>;
  /** The key's expiry (immutable, so safe to cache). */
  expiresAt: number | null;
  /** When this secret of the key stops (rotated out with a grace period), as known at lookup time. */
  retiresAt: number | null;
  /** Its tenant's rate limits and its own policy (like its roles, a change reaches other isolates within the cache time). */
  rateLimits: TenantRateLimits;
  keyPolicy: RatePolicy | null;
  /** The dated API version it is pinned to (immutable, so safe to cache). */
  apiVersion: string;
}

interface CacheEntry {
  /** Shared by every request that misses at once, so a burst costs one lookup, not one each. */
  key: Promise<VerifiedKey | null>;
  until: number;
  tenantId?: string;
}

/**
 * Verified API keys, kept in the isolate for CREDENTIAL_CACHE_SECONDS so that the request path spends no
 * D1 query on authentication. Unknown hashes are cached too (briefly), so guessing costs no query either.
 * What must take effect at once (revocation, a rotated-out secret) is not cached: the key's Durable Object
 * is asked on every request.
 */
const cache = new Map<string, CacheEntry>();
const MAX_ENTRIES = 10_000;
const NEGATIVE_SECONDS = 2;
const UNKNOWN = "The API key is unknown or revoked.";

export async function authenticateApiKey(env: Env, token: string, waitUntil: WaitUntil): Promise<Auth> {
  if (!isWellFormedApiKey(token)) throw invalidCredential("The API key is malformed (its checksum does not match).");
  const secretHash = await sha256Hex(token);
  const key = await verifyApiKey(env, secretHash);
  if (!key) throw invalidCredential(UNKNOWN);
  const now = Date.now();
  if (key.expiresAt !== null && key.expiresAt <= now) throw invalidCredential("The API key has expired.");
  if (key.retiresAt !== null && key.retiresAt <= now) throw rotatedOut();
  // One call per request to the key's Durable Object: the revocation and retired secrets it holds take effect
  // at once in every isolate, cached or not; it also notes the use (lastUsedAt, written to D1 in batches) and
  // takes the request from the key's rate-limit bucket.
  const { verdict, rate } = await checkCredential(
    env,
    `key:${key.actor.id}`,
    { secretHash, touch: { binding: key.tenant.databaseBinding, keyId: key.actor.id } },
    appliedPolicy(key.tenant.plan, key.rateLimits, key.keyPolicy, now),
    waitUntil,
  );
  if (!verdict.ok) throw verdict.reason === "expired" ? rotatedOut() : invalidCredential(UNKNOWN);
  return {
    kind: "tenant",
    actor: key.actor,
    tenant: key.tenant,
    roles: key.roles,
    permissions: key.grants,
    ...(key.scoped.size > 0 ? { scoped: key.scoped } : {}),
    ...(rate ? { rateLimit: rate } : {}),
    apiVersion: key.apiVersion,
  };
}

function rotatedOut() {
  return invalidCredential("This secret of the API key was rotated out; use the new one.");
}

async function verifyApiKey(env: Env, hash: string): Promise<VerifiedKey | null> {
  const now = Date.now();
  const hit = cache.get(hash);
  if (hit && hit.until > now) return hit.key;
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  const entry: CacheEntry = { key: lookup(env, hash), until: now + NEGATIVE_SECONDS * 1000 };
  cache.set(hash, entry);
  try {
    const key = await entry.key;
    if (key) {
      entry.until = now + Number(env.CREDENTIAL_CACHE_SECONDS ?? 10) * 1000;
      entry.tenantId = key.tenant.id;
    }
    return key;
  } catch (error) {
    if (cache.get(hash) === entry) cache.delete(hash);
    throw error;
  }
}

interface IndexRow {
  key_id: string;
  tenant_id: string;
  plan: Plan;
  parent_id: string | null;
  database_binding: string;
  rate_limits: string | null;
}

interface KeyRow {
  roles: string;
  expires_at: string | null;
  retires_at: string | null;
  custom_roles: string | null;
  rate_limit: string | null;
  api_version: string;
}

/**
 * Two queries: the control database's index finds the tenant (and its database) from the hash, then the
 * tenant's database holds the key and the custom roles it holds. An index entry without its key row (a creation that failed half-way)
 * authenticates nobody.
 */
async function lookup(env: Env, hash: string): Promise<VerifiedKey | null> {
  const control = await controlDb(env);
  const entry = await control
    .prepare(
      `SELECT i.key_id, t.id AS tenant_id, t.plan, t.parent_id, t.database_binding, t.rate_limits
       FROM api_key_index i JOIN tenants t ON t.id = i.tenant_id
       WHERE i.secret_hash = ?`,
    )
    .bind(hash)
    .first<IndexRow>();
  if (!entry) return null;
  const tenant: TenantRef = {
    id: entry.tenant_id,
    plan: entry.plan,
    parentId: entry.parent_id,
    databaseBinding: entry.database_binding,
  };
  const db = await tenantDatabases.forTenant(env, tenant);
  const row = await db
    .prepare(
      `SELECT k.roles, k.expires_at, k.rate_limit, k.api_version, s.retires_at, ${customRolesColumn("k.roles")}
       FROM api_key_secrets s JOIN api_keys k ON k.id = s.key_id
       WHERE s.secret_hash = ? AND k.id = ? AND k.revoked_at IS NULL`,
    )
    .bind(hash, entry.key_id)
    .first<KeyRow>();
  if (!row) return null;
  const roles = JSON.parse(row.roles) as string[];
  const custom = parseCustomRoles(row.custom_roles, tenant.plan);
  return {
    actor: { type: "api_key", id: entry.key_id },
    tenant,
    roles,
    grants: grantsOfRoles(roles, custom),
    scoped: scopedGrantsOfRoles(roles, custom),
    expiresAt: row.expires_at ? Date.parse(row.expires_at) : null,
    retiresAt: row.retires_at ? Date.parse(row.retires_at) : null,
    rateLimits: parseTenantRateLimits(entry.rate_limits),
    keyPolicy: parseKeyPolicy(row.rate_limit),
    apiVersion: row.api_version,
  };
}

/** Drops this isolate's cached keys of a tenant (after the tenant is deleted or its plan changes). */
export function forgetApiKeysOfTenant(tenantId: string): void {
  for (const [hash, entry] of cache) {
    if (entry.tenantId === tenantId) cache.delete(hash);
  }
}

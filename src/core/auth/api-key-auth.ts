import type { Actor, Auth, TenantRef } from "../../env";
import type { Plan } from "../../modules/tenants/tenants.schema";
import { sha256Hex } from "../crypto/hash";
import { controlDb } from "../db/databases";
import { isWellFormedApiKey } from "./api-key-format";
import { invalidCredential } from "./credentials";
import { permissionsOfRoles } from "./permissions";

interface VerifiedKey {
  actor: Actor;
  tenant: TenantRef;
  roles: readonly string[];
  expiresAt: number | null;
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
 */
const cache = new Map<string, CacheEntry>();
const MAX_ENTRIES = 10_000;
const NEGATIVE_SECONDS = 2;

export async function authenticateApiKey(env: Env, token: string): Promise<Auth> {
  if (!isWellFormedApiKey(token)) throw invalidCredential("The API key is malformed (its checksum does not match).");
  const key = await verifyApiKey(env, token);
  if (!key) throw invalidCredential("The API key is unknown or revoked.");
  if (key.expiresAt !== null && key.expiresAt <= Date.now()) throw invalidCredential("The API key has expired.");
  return { kind: "tenant", actor: key.actor, tenant: key.tenant, permissions: permissionsOfRoles(key.roles) };
}

async function verifyApiKey(env: Env, secret: string): Promise<VerifiedKey | null> {
  const hash = await sha256Hex(secret);
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

interface KeyRow {
  id: string;
  roles: string;
  expires_at: string | null;
  tenant_id: string;
  plan: Plan;
  parent_id: string | null;
  database_binding: string;
}

async function lookup(env: Env, hash: string): Promise<VerifiedKey | null> {
  const db = await controlDb(env);
  const row = await db
    .prepare(
      `SELECT k.id, k.roles, k.expires_at, t.id AS tenant_id, t.plan, t.parent_id, t.database_binding
       FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
       WHERE k.secret_hash = ? AND k.revoked_at IS NULL`,
    )
    .bind(hash)
    .first<KeyRow>();
  if (!row) return null;
  return {
    actor: { type: "api_key", id: row.id },
    tenant: { id: row.tenant_id, plan: row.plan, parentId: row.parent_id, databaseBinding: row.database_binding },
    roles: JSON.parse(row.roles) as string[],
    expiresAt: row.expires_at ? Date.parse(row.expires_at) : null,
  };
}

/** Drops this isolate's cached keys of a tenant (after the tenant is deleted or its plan changes). */
export function forgetApiKeysOfTenant(tenantId: string): void {
  for (const [hash, entry] of cache) {
    if (entry.tenantId === tenantId) cache.delete(hash);
  }
}

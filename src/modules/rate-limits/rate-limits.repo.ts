import { parseTenantRateLimits, type TenantRateLimits } from "../../core/rate-limit/policy";

/** The `rate_limits` column of the tenant row (CONTROL_DB), with the row's version for guarded writes. */
export interface StoredTenantLimits {
  limits: TenantRateLimits;
  version: number;
}

export async function findTenantLimits(control: D1Database, tenantId: string): Promise<StoredTenantLimits | null> {
  const row = await control
    .prepare("SELECT rate_limits, version FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ rate_limits: string | null; version: number }>();
  return row ? { limits: parseTenantRateLimits(row.rate_limits), version: row.version } : null;
}

/** Replaces the limits only if the tenant row is still at `version`; moves the version on. */
export function updateTenantLimits(
  control: D1Database,
  tenantId: string,
  version: number,
  limits: TenantRateLimits,
  at: string,
) {
  const value = limits.policy || limits.boost ? JSON.stringify(limits) : null;
  return control
    .prepare("UPDATE tenants SET rate_limits = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?")
    .bind(value, at, tenantId, version);
}

export interface KeyLimitRow {
  id: string;
  rate_limit: string | null;
  version: number;
}

/** A key that still works (revoked keys have no policy to set). */
export function findKeyLimit(db: D1Database, keyId: string) {
  return db
    .prepare("SELECT id, rate_limit, version FROM api_keys WHERE id = ? AND revoked_at IS NULL")
    .bind(keyId)
    .first<KeyLimitRow>();
}

export function updateKeyLimit(db: D1Database, keyId: string, version: number, policy: string | null) {
  return db
    .prepare("UPDATE api_keys SET rate_limit = ?, version = version + 1 WHERE id = ? AND version = ?")
    .bind(policy, keyId, version);
}

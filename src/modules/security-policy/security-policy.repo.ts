/** The policy column of the tenant row (CONTROL_DB), with the row's version for guarded writes. */
export interface StoredPolicy {
  policy: unknown;
  version: number;
}

export async function findStoredPolicy(control: D1Database, tenantId: string): Promise<StoredPolicy | null> {
  const row = await control
    .prepare("SELECT security_policy, version FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ security_policy: string; version: number }>();
  return row ? { policy: JSON.parse(row.security_policy), version: row.version } : null;
}

/** Replaces the policy only if the tenant row is still at `version`; moves the version on. */
export function updateStoredPolicy(
  control: D1Database,
  tenantId: string,
  version: number,
  policy: unknown,
  at: string,
) {
  return control
    .prepare(
      "UPDATE tenants SET security_policy = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?",
    )
    .bind(JSON.stringify(policy), at, tenantId, version);
}

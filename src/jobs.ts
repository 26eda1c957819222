import { controlDb, tenantDatabases } from "./core/db/databases";
import { sealAuditTrail } from "./modules/audit/audit.service";
import { reclaimOrphanedDatabases } from "./modules/tenants/tenants.service";

interface AssignedDatabase {
  tenant_id: string;
  binding: string;
}

/** Every minute: seal the audit chains, so `hash` is set within a minute even on trails nobody reads. */
export async function sealAllAuditTrails(env: Env): Promise<void> {
  const control = await controlDb(env);
  await sealAuditTrail({ env, db: control, scope: "platform" });
  for (const { tenant_id, binding } of await assignedDatabases(control)) {
    const db = await tenantDatabases.forTenant(env, { databaseBinding: binding });
    await sealAuditTrail({ env, db, scope: tenant_id });
  }
}

/** Daily: drop expired Idempotency-Key records and finish tenant deletions that stopped half-way. */
export async function dailyMaintenance(env: Env): Promise<void> {
  const control = await controlDb(env);
  const now = new Date().toISOString();
  const purge = "DELETE FROM idempotency_keys WHERE expires_at <= ?";
  await control.prepare(purge).bind(now).run();
  for (const { binding } of await assignedDatabases(control)) {
    const db = await tenantDatabases.forTenant(env, { databaseBinding: binding });
    await db.prepare(purge).bind(now).run();
  }
  await reclaimOrphanedDatabases(env, control);
}

async function assignedDatabases(control: D1Database): Promise<AssignedDatabase[]> {
  const { results } = await control
    .prepare("SELECT t.id AS tenant_id, t.database_binding AS binding FROM tenants t ORDER BY t.id")
    .all<AssignedDatabase>();
  return results;
}

import type { TenantRef } from "../../env";
import { backgroundContext, type ServiceContext } from "../context";
import { controlDb, tenantDatabases } from "../db/databases";
import type { Plan } from "../plans";

/** A tenant by id, as a request's credential would name it; null when there is none. */
export async function tenantById(env: Env, tenantId: string): Promise<TenantRef | null> {
  const row = await (await controlDb(env))
    .prepare("SELECT id, plan, parent_id, database_binding FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ id: string; plan: Plan; parent_id: string | null; database_binding: string }>();
  return row ? { id: row.id, plan: row.plan, parentId: row.parent_id, databaseBinding: row.database_binding } : null;
}

/** Background work for a tenant (a queue task, a plugin's public route): no credential, so no role. */
export async function systemContext(
  env: Env,
  tenant: TenantRef,
  options: {
    actorId: string;
    requestId: string;
    ip?: string | null;
    userAgent?: string | null;
    waitUntil?: (p: Promise<unknown>) => void;
  },
): Promise<ServiceContext & { tenant: TenantRef }> {
  const base = backgroundContext(env, tenant.id, await tenantDatabases.forTenant(env, tenant), options.actorId, tenant);
  return {
    ...base,
    tenant,
    request: { requestId: options.requestId, ip: options.ip ?? null, userAgent: options.userAgent ?? null },
    waitUntil: options.waitUntil ?? base.waitUntil,
  };
}

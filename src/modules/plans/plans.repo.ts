import type { Plan } from "../../core/plans";
import type { ChangeRequest } from "./plans.schema";

/** Plan change requests live in the control database (migrations/control/0007_plan_change_requests.sql). */

interface ChangeRequestRow {
  id: string;
  tenant_id: string;
  from_plan: Plan;
  to_plan: Plan;
  note: string | null;
  status: ChangeRequest["status"];
  created_at: string;
  resolved_at: string | null;
}

export function toChangeRequest(row: ChangeRequestRow): ChangeRequest {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    fromPlan: row.from_plan,
    toPlan: row.to_plan,
    note: row.note,
    status: row.status,
    createdAt: row.created_at,
    resolvedAt: row.resolved_at,
  };
}

/**
 * Records a pending request, only while the tenant is still on `request.fromPlan` (a plan changed since it was
 * read records nothing). A second pending request of the tenant fails on the partial unique index.
 */
export function insertChangeRequest(db: D1Database, request: ChangeRequest): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO plan_change_requests (id, tenant_id, from_plan, to_plan, note, status, created_at, resolved_at)
       SELECT ?1, ?2, ?3, ?4, ?5, 'pending', ?6, NULL
       WHERE EXISTS (SELECT 1 FROM tenants WHERE id = ?2 AND plan = ?3)`,
    )
    .bind(request.id, request.tenantId, request.fromPlan, request.toPlan, request.note, request.createdAt);
}

/** Cancels a pending request (of `tenantId` only, when given); returns the row when it did. */
export function cancelChangeRequestStatement(
  db: D1Database,
  id: string,
  tenantId: string | null,
  at: string,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE plan_change_requests SET status = 'cancelled', resolved_at = ?1
       WHERE id = ?2 AND status = 'pending' AND (?3 IS NULL OR tenant_id = ?3)
       RETURNING *`,
    )
    .bind(at, id, tenantId);
}

/**
 * The hook of PATCH /v1/tenants/{id}: in the batch that changes the tenant's plan, the tenant's pending request for
 * that plan becomes `applied`. Guarded on the tenant row as the batch leaves it (plan and updated_at), so a plan
 * update that lost to a concurrent write marks nothing, wherever in the batch the statement sits.
 */
export function markAppliedStatements(db: D1Database, tenantId: string, plan: Plan, at: string): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `UPDATE plan_change_requests SET status = 'applied', resolved_at = ?1
         WHERE tenant_id = ?2 AND status = 'pending' AND to_plan = ?3
           AND EXISTS (SELECT 1 FROM tenants WHERE id = ?2 AND plan = ?3 AND updated_at = ?1)`,
      )
      .bind(at, tenantId, plan),
  ];
}

export async function findChangeRequest(
  db: D1Database,
  id: string,
  tenantId: string | null,
): Promise<ChangeRequest | null> {
  const row = await db
    .prepare("SELECT * FROM plan_change_requests WHERE id = ?1 AND (?2 IS NULL OR tenant_id = ?2)")
    .bind(id, tenantId)
    .first<ChangeRequestRow>();
  return row ? toChangeRequest(row) : null;
}

export function pendingRequestStatement(db: D1Database, tenantId: string): D1PreparedStatement {
  return db.prepare("SELECT * FROM plan_change_requests WHERE tenant_id = ? AND status = 'pending'").bind(tenantId);
}

export function firstChangeRequest(result: D1Result | undefined): ChangeRequest | null {
  const row = result?.results[0] as ChangeRequestRow | undefined;
  return row ? toChangeRequest(row) : null;
}

export interface ChangeRequestFilters {
  tenantId?: string | undefined;
  status?: ChangeRequest["status"] | undefined;
  /** Requests older than this position (newest first). */
  before?: { createdAt: string; id: string } | null;
}

export async function listChangeRequests(
  db: D1Database,
  filters: ChangeRequestFilters,
  limit: number,
): Promise<ChangeRequest[]> {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (filters.tenantId !== undefined) {
    conditions.push("tenant_id = ?");
    params.push(filters.tenantId);
  }
  if (filters.status !== undefined) {
    conditions.push("status = ?");
    params.push(filters.status);
  }
  if (filters.before) {
    conditions.push("(created_at < ? OR (created_at = ? AND id < ?))");
    params.push(filters.before.createdAt, filters.before.createdAt, filters.before.id);
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
  const { results } = await db
    .prepare(`SELECT * FROM plan_change_requests ${where} ORDER BY created_at DESC, id DESC LIMIT ?`)
    .bind(...params, limit)
    .all<ChangeRequestRow>();
  return results.map(toChangeRequest);
}

/** The tenant's plan as the control database has it (the credential caches it for a few seconds). */
export function tenantPlanStatement(db: D1Database, tenantId: string): D1PreparedStatement {
  return db.prepare("SELECT plan FROM tenants WHERE id = ?").bind(tenantId);
}

/** Direct sub-accounts (tenants.parent_id, indexed). */
export function subAccountCountStatement(db: D1Database, tenantId: string): D1PreparedStatement {
  return db.prepare("SELECT count(*) AS n FROM tenants WHERE parent_id = ?").bind(tenantId);
}

/** Users stored in a tenant database, soft-deleted ones included (they can be restored) until purged. */
export async function countUsers(tenantDb: D1Database): Promise<number> {
  const row = await tenantDb.prepare("SELECT count(*) AS n FROM users").first<{ n: number }>();
  return row?.n ?? 0;
}

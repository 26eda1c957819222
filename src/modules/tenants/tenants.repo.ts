import { and, asc, eq, gt, or, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { apiKeyIndex, tenants } from "../../core/db/control-schema";
import { toStatement } from "../../core/db/statements";

export type TenantRow = typeof tenants.$inferSelect;

export function findTenant(db: D1Database, id: string): Promise<TenantRow | undefined> {
  return drizzle(db).select().from(tenants).where(eq(tenants.id, id)).get();
}

export async function hasChildren(db: D1Database, id: string): Promise<boolean> {
  const child = await drizzle(db).select({ id: tenants.id }).from(tenants).where(eq(tenants.parentId, id)).get();
  return child !== undefined;
}

/** Tenants oldest first, after a keyset position; only the direct sub-accounts of `parentId` when given. */
export function listTenants(
  db: D1Database,
  after: { createdAt: string; id: string } | null,
  limit: number,
  parentId?: string,
) {
  const conditions: SQL[] = [];
  if (parentId !== undefined) conditions.push(eq(tenants.parentId, parentId));
  if (after) {
    conditions.push(
      or(
        gt(tenants.createdAt, after.createdAt),
        and(eq(tenants.createdAt, after.createdAt), gt(tenants.id, after.id)),
      ) as SQL,
    );
  }
  return drizzle(db)
    .select()
    .from(tenants)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(asc(tenants.createdAt), asc(tenants.id))
    .limit(limit);
}

export async function countChildren(db: D1Database, parentId: string): Promise<number> {
  const row = await db
    .prepare("SELECT count(*) AS n FROM tenants WHERE parent_id = ?")
    .bind(parentId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** What deleting a tenant needs to know of it. */
export type DoomedTenant = Pick<TenantRow, "id" | "name" | "plan" | "parentId" | "databaseBinding" | "version">;

/** The tenants below `id` (not itself), the deepest first: the order a cascading deletion takes. */
export async function descendantsOf(db: D1Database, id: string): Promise<DoomedTenant[]> {
  const { results } = await db
    .prepare(
      `WITH RECURSIVE below(id, depth) AS (
         SELECT id, 1 FROM tenants WHERE parent_id = ?1
         UNION ALL
         SELECT t.id, b.depth + 1 FROM tenants t JOIN below b ON t.parent_id = b.id WHERE b.depth < 10
       )
       SELECT t.id, t.name, t.plan, t.parent_id AS parentId, t.database_binding AS databaseBinding, t.version
       FROM below b JOIN tenants t ON t.id = b.id
       ORDER BY b.depth DESC, t.id`,
    )
    .bind(id)
    .all<DoomedTenant>();
  return results;
}

/**
 * The INSERT of a sub-account that inserts nothing once its parent has `limit` sub-accounts: followed by an
 * assertion in the same batch, the count and the insert are one step, so concurrent creations cannot both take
 * the last place.
 */
export function insertChildWithinQuota(db: D1Database, row: typeof tenants.$inferSelect, limit: number) {
  return db
    .prepare(
      `INSERT INTO tenants (id, name, plan, parent_id, database_binding, created_at, updated_at, version, security_policy)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
       WHERE (SELECT count(*) FROM tenants WHERE parent_id = ?4) < ?10`,
    )
    .bind(
      row.id,
      row.name,
      row.plan,
      row.parentId,
      row.databaseBinding,
      row.createdAt,
      row.updatedAt,
      row.version,
      JSON.stringify(row.securityPolicy),
      limit,
    );
}

/**
 * Claims a free pool database for `tenantId` in one statement (so two concurrent creations never get the
 * same one), skipping databases freed less than `restedBefore` ago.
 */
export async function claimDatabase(db: D1Database, tenantId: string, now: string, restedBefore: string) {
  const row = await db
    .prepare(
      `UPDATE tenant_databases SET tenant_id = ?1, claimed_at = ?2
       WHERE binding = (
         SELECT binding FROM tenant_databases
         WHERE tenant_id IS NULL AND (released_at IS NULL OR released_at <= ?3)
         ORDER BY CAST(substr(binding, 11) AS INTEGER) LIMIT 1
       ) AND tenant_id IS NULL
       RETURNING binding`,
    )
    .bind(tenantId, now, restedBefore)
    .first<{ binding: string }>();
  return row?.binding ?? null;
}

export function releaseDatabase(db: D1Database, binding: string, releasedAt: string | null) {
  return db
    .prepare(
      "UPDATE tenant_databases SET tenant_id = NULL, claimed_at = NULL, released_at = coalesce(?, released_at) WHERE binding = ?",
    )
    .bind(releasedAt, binding);
}

/** Databases still claimed by a tenant that no longer exists (a deletion stopped half-way). */
export async function orphanedDatabases(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT binding FROM tenant_databases d
       WHERE d.tenant_id IS NOT NULL AND d.claimed_at < ?
         AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = d.tenant_id)`,
    )
    .bind(new Date(Date.now() - 10 * 60 * 1000).toISOString())
    .all<{ binding: string }>();
  return results.map((r) => r.binding);
}

export function insertTenant(db: D1Database, row: typeof tenants.$inferInsert) {
  return toStatement(db, drizzle(db).insert(tenants).values(row));
}

export function updateTenant(db: D1Database, id: string, version: number, changes: Partial<TenantRow>) {
  return toStatement(
    db,
    drizzle(db)
      .update(tenants)
      .set({ ...changes, version: version + 1 })
      .where(and(eq(tenants.id, id), eq(tenants.version, version))),
  );
}

/**
 * Deletes the tenant row (only at `version`, when given) and then its API-key index entries. The entries go by
 * the foreign key's cascade already; the explicit delete keeps that true should the pragma ever be off, and
 * deletes nothing when the guarded tenant delete matched no row.
 */
export function deleteTenantRows(db: D1Database, id: string, version?: number) {
  const orm = drizzle(db);
  const where = version === undefined ? eq(tenants.id, id) : and(eq(tenants.id, id), eq(tenants.version, version));
  return {
    tenant: toStatement(db, orm.delete(tenants).where(where)),
    keyIndex: toStatement(
      db,
      orm
        .delete(apiKeyIndex)
        .where(and(eq(apiKeyIndex.tenantId, id), sql`NOT EXISTS (SELECT 1 FROM tenants WHERE id = ${id})`)),
    ),
  };
}

import { and, asc, eq, gt, or, sql } from "drizzle-orm";
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

export function listTenants(db: D1Database, after: { createdAt: string; id: string } | null, limit: number) {
  return drizzle(db)
    .select()
    .from(tenants)
    .where(
      after
        ? or(
            gt(tenants.createdAt, after.createdAt),
            and(eq(tenants.createdAt, after.createdAt), gt(tenants.id, after.id)),
          )
        : undefined,
    )
    .orderBy(asc(tenants.createdAt), asc(tenants.id))
    .limit(limit);
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

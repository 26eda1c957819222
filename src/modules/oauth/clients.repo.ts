import { and, asc, eq, getTableColumns, gt, isNull, or, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { customRolesColumn } from "../../core/auth/custom-roles";
import { oauthClientIndex } from "../../core/db/control-schema";
import { toStatement } from "../../core/db/statements";
import { oauthClients } from "../../core/db/tenant-schema";

export type ClientRow = typeof oauthClients.$inferSelect;

/**
 * A live client by its OAuth client_id with the grants of the custom roles it holds (`customRoles`, JSON), in the
 * same query: authentication resolves the client's permissions without a query of its own (client-auth.ts).
 */
export function findClientWithCustomRoles(db: D1Database, clientId: string) {
  return drizzle(db)
    .select({
      ...getTableColumns(oauthClients),
      customRoles: sql<string | null>`${sql.raw(customRolesColumn('"oauth_clients"."roles"'))}`,
    })
    .from(oauthClients)
    .where(and(eq(oauthClients.clientId, clientId), isNull(oauthClients.deletedAt)))
    .get();
}

/** A live client by its id. */
export function findClientById(db: D1Database, id: string): Promise<ClientRow | undefined> {
  return drizzle(db)
    .select()
    .from(oauthClients)
    .where(and(eq(oauthClients.id, id), isNull(oauthClients.deletedAt)))
    .get();
}

/** Live clients, oldest first, keyset-paged on (created_at, id). */
export function listClients(db: D1Database, after: { createdAt: string; id: string } | null, limit: number) {
  const live = isNull(oauthClients.deletedAt);
  return drizzle(db)
    .select()
    .from(oauthClients)
    .where(
      after
        ? and(
            live,
            or(
              gt(oauthClients.createdAt, after.createdAt),
              and(eq(oauthClients.createdAt, after.createdAt), gt(oauthClients.id, after.id)),
            ),
          )
        : live,
    )
    .orderBy(asc(oauthClients.createdAt), asc(oauthClients.id))
    .limit(limit);
}

export function insertClient(db: D1Database, row: typeof oauthClients.$inferInsert) {
  return toStatement(db, drizzle(db).insert(oauthClients).values(row));
}

/** Soft-deletes the client once (the row stays for the audit trail's references). */
export function markClientDeleted(db: D1Database, id: string, at: string) {
  return db.prepare("UPDATE oauth_clients SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL").bind(at, id);
}

// The control database's index: client_id → tenant.

export function insertIndexEntry(control: D1Database, row: typeof oauthClientIndex.$inferInsert) {
  return toStatement(control, drizzle(control).insert(oauthClientIndex).values(row));
}

export function deleteIndexEntry(control: D1Database, clientId: string) {
  return toStatement(control, drizzle(control).delete(oauthClientIndex).where(eq(oauthClientIndex.clientId, clientId)));
}

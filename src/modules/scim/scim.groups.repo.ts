import type { RoleRow } from "../../core/db/tenant-schema";

/** Roles known by name (the `roles` table), roles held by users, and a role's holders. */

interface StoredRole {
  name: string;
  grants: string;
  description: string | null;
  display_name: string;
  external_id: string | null;
  created_at: string;
  updated_at: string;
  version: number;
}

function toRole(row: StoredRole): RoleRow {
  return {
    name: row.name,
    displayName: row.display_name,
    externalId: row.external_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
    grants: JSON.parse(row.grants) as string[],
    description: row.description,
  };
}

export async function registeredRoles(db: D1Database): Promise<RoleRow[]> {
  const { results } = await db.prepare("SELECT * FROM roles ORDER BY name").all<StoredRole>();
  return results.map(toRole);
}

export async function findRole(db: D1Database, name: string): Promise<RoleRow | null> {
  const row = await db.prepare("SELECT * FROM roles WHERE name = ?").bind(name).first<StoredRole>();
  return row ? toRole(row) : null;
}

/** Every role some live user holds (one pass over the users; a tenant's role set is small). */
export async function rolesInUse(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare(
      "SELECT DISTINCT je.value AS name FROM users, json_each(users.roles) AS je WHERE users.status <> 'deleted' ORDER BY 1",
    )
    .all<{ name: string }>();
  return results.map((r) => r.name);
}

export interface Member {
  id: string;
  username: string | null;
}

export async function holdersOf(db: D1Database, role: string): Promise<Member[]> {
  const { results } = await db
    .prepare(
      `SELECT users.id, users.username FROM users, json_each(users.roles) AS je
       WHERE je.value = ? AND users.status <> 'deleted' ORDER BY users.created_at, users.id`,
    )
    .bind(role)
    .all<Member>();
  return results;
}

export function insertRole(db: D1Database, role: RoleRow): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO roles (name, display_name, external_id, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(role.name, role.displayName, role.externalId, role.createdAt, role.updatedAt, role.version);
}

/** Updates only if the row is still at `version` (optimistic concurrency). */
export function updateRole(db: D1Database, role: RoleRow, version: number): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE roles SET display_name = ?, external_id = ?, updated_at = ?, version = ? WHERE name = ? AND version = ?",
    )
    .bind(role.displayName, role.externalId, role.updatedAt, version + 1, role.name, version);
}

export function deleteRole(db: D1Database, name: string): D1PreparedStatement {
  return db.prepare("DELETE FROM roles WHERE name = ?").bind(name);
}

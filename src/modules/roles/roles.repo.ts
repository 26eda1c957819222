import { type CustomRoles, isBuiltInRole, NO_CUSTOM_ROLES } from "../../core/auth/permissions";
import type { RoleRow } from "../../core/db/tenant-schema";
import { type Plan, planIncludes } from "../../core/plans";

/**
 * The `roles` table (tenant database): custom roles and the SCIM groups, which are the same thing (a group a SCIM
 * client created is a role granting nothing until someone gives it grants). Built-in roles live in code.
 */

interface StoredRole {
  name: string;
  display_name: string;
  external_id: string | null;
  grants: string;
  description: string | null;
  created_at: string;
  updated_at: string;
  version: number;
}

function toRow(row: StoredRole): RoleRow {
  return {
    name: row.name,
    displayName: row.display_name,
    externalId: row.external_id,
    grants: JSON.parse(row.grants) as string[],
    description: row.description,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
  };
}

export async function listRoleRows(db: D1Database): Promise<RoleRow[]> {
  const { results } = await db.prepare("SELECT * FROM roles ORDER BY name").all<StoredRole>();
  return results.map(toRow);
}

export async function findRoleRow(db: D1Database, name: string): Promise<RoleRow | null> {
  const row = await db.prepare("SELECT * FROM roles WHERE name = ?").bind(name).first<StoredRole>();
  return row ? toRow(row) : null;
}

export function insertRoleRow(db: D1Database, role: RoleRow): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO roles (name, display_name, external_id, grants, description, created_at, updated_at, version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      role.name,
      role.displayName,
      role.externalId,
      JSON.stringify(role.grants),
      role.description,
      role.createdAt,
      role.updatedAt,
      role.version,
    );
}

/** Changes what the role grants and says, only while it is still at `version`. */
export function updateRoleRow(
  db: D1Database,
  name: string,
  version: number,
  change: { grants: readonly string[]; description: string | null; updatedAt: string },
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE roles SET grants = ?, description = ?, updated_at = ?, version = version + 1
       WHERE name = ? AND version = ?`,
    )
    .bind(JSON.stringify(change.grants), change.description, change.updatedAt, name, version);
}

// Who holds a role. Soft-deleted users count (a restore gives their roles back), revoked keys and deleted
// clients do not (they never come back). Each is a pass over the table's JSON arrays: a role's deletion is rare.
const USERS_HOLDING = "SELECT 1 FROM users u, json_each(u.roles) j WHERE j.value = ?1";
const KEYS_HOLDING = "SELECT 1 FROM api_keys k, json_each(k.roles) j WHERE j.value = ?1 AND k.revoked_at IS NULL";
const CLIENTS_HOLDING =
  "SELECT 1 FROM oauth_clients c, json_each(c.roles) j WHERE j.value = ?1 AND c.deleted_at IS NULL";

export interface Holders {
  users: number;
  apiKeys: number;
  oauthClients: number;
}

export async function holdersOfRole(db: D1Database, name: string): Promise<Holders> {
  const row = await db
    .prepare(
      `SELECT (SELECT count(*) FROM (${USERS_HOLDING})) AS users, (SELECT count(*) FROM (${KEYS_HOLDING})) AS keys,
              (SELECT count(*) FROM (${CLIENTS_HOLDING})) AS clients`,
    )
    .bind(name)
    .first<{ users: number; keys: number; clients: number }>();
  return { users: row?.users ?? 0, apiKeys: row?.keys ?? 0, oauthClients: row?.clients ?? 0 };
}

/**
 * Deletes the role at `version` only if nobody holds it, in one statement: an assignment racing the deletion
 * either lands first (and the deletion matches nothing) or finds the role gone.
 */
export function deleteUnheldRole(db: D1Database, name: string, version: number): D1PreparedStatement {
  return db
    .prepare(
      `DELETE FROM roles WHERE name = ?1 AND version = ?2
       AND NOT EXISTS (${USERS_HOLDING}) AND NOT EXISTS (${KEYS_HOLDING}) AND NOT EXISTS (${CLIENTS_HOLDING})`,
    )
    .bind(name, version);
}

/**
 * The definitions of the custom roles among `names` (name → grants; names nobody defined are absent). No query
 * when every name is built in. With a `plan` lacking custom roles, each role is still known but grants nothing
 * (a downgrade keeps the definitions); without a plan, the definitions as written (for escalation checks, which
 * must not let a role through that would grant more after an upgrade).
 */
export async function customRolesOf(db: D1Database, names: readonly string[], plan?: Plan): Promise<CustomRoles> {
  const custom = [...new Set(names.filter((name) => !isBuiltInRole(name)))];
  if (custom.length === 0) return NO_CUSTOM_ROLES;
  const { results } = await db
    .prepare("SELECT name, grants FROM roles WHERE name IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(custom))
    .all<{ name: string; grants: string }>();
  const inEffect = plan === undefined || planIncludes(plan, "custom-roles");
  return new Map(results.map((row) => [row.name, inEffect ? (JSON.parse(row.grants) as string[]) : []]));
}

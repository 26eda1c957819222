import { customRolesColumn } from "../../core/auth/custom-roles";

/** Refresh tokens, stored only as SHA-256 hashes, grouped in families (one login each). */

export interface RefreshTokenRow {
  token_hash: string;
  family_id: string;
  user_id: string;
  client_id: string;
  scope: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  revoked_at: string | null;
}

/**
 * The token with its user's current status and roles (null when the user row is gone) and the grants of the
 * user's custom roles (JSON `{name: grants}`): one query.
 */
export function findRefreshToken(db: D1Database, tokenHash: string) {
  return db
    .prepare(
      `SELECT r.*, u.status AS user_status, u.roles AS user_roles,
              ${customRolesColumn("u.roles", "user_custom_roles")}
       FROM refresh_tokens r LEFT JOIN users u ON u.id = r.user_id WHERE r.token_hash = ?`,
    )
    .bind(tokenHash)
    .first<
      RefreshTokenRow & { user_status: string | null; user_roles: string | null; user_custom_roles: string | null }
    >();
}

export function insertRefreshToken(db: D1Database, row: Omit<RefreshTokenRow, "used_at" | "revoked_at">) {
  return db
    .prepare(
      `INSERT INTO refresh_tokens (token_hash, family_id, user_id, client_id, scope, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(row.token_hash, row.family_id, row.user_id, row.client_id, row.scope, row.created_at, row.expires_at);
}

/** Marks a token used, only if it was neither used nor revoked (guard it with assertPreviousChanged). */
export function markRefreshTokenUsed(db: D1Database, tokenHash: string, at: string) {
  return db
    .prepare("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL")
    .bind(at, tokenHash);
}

export function revokeFamily(db: D1Database, familyId: string, at: string) {
  return db
    .prepare("UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL")
    .bind(at, familyId);
}

export function revokeFamiliesOfClient(db: D1Database, clientId: string, at: string) {
  return db
    .prepare("UPDATE refresh_tokens SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL")
    .bind(at, clientId);
}

/** The client's families still alive: whose access tokens its deletion must stop at once. */
export async function liveFamiliesOfClient(db: D1Database, clientId: string, now: string) {
  const { results } = await db
    .prepare(
      `SELECT family_id, user_id, max(expires_at) AS expires_at FROM refresh_tokens
       WHERE client_id = ? AND revoked_at IS NULL AND expires_at > ? GROUP BY family_id, user_id`,
    )
    .bind(clientId, now)
    .all<{ family_id: string; user_id: string; expires_at: string }>();
  return results;
}

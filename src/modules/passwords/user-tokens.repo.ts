/**
 * `user_tokens`: single-use tokens mailed to a user (password reset, email verification), stored as SHA-256
 * hashes only. Also the few `users` columns these flows read and write; none of them is personal data, so they
 * are read here directly rather than through the users module's decrypting reads.
 */

export type TokenPurpose = "password_reset" | "email_verification";

/** What these flows need to know of a user. */
export interface LiveUser {
  userId: string;
  status: "active" | "disabled" | "deleted";
  hasPassword: boolean;
  emailVerified: boolean;
  roles: string[];
}

/** SQLite answers booleans as 0/1. */
function liveUser(row: (Omit<LiveUser, "roles"> & { roles: string }) | null): LiveUser | null {
  if (!row) return null;
  const roles = JSON.parse(row.roles) as string[];
  return { ...row, hasPassword: Boolean(row.hasPassword), emailVerified: Boolean(row.emailVerified), roles };
}

export function insertToken(
  db: D1Database,
  token: { hash: string; userId: string; purpose: TokenPurpose; createdAt: string; expiresAt: string },
) {
  return db
    .prepare("INSERT INTO user_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
    .bind(token.hash, token.userId, token.purpose, token.createdAt, token.expiresAt);
}

/** The owner of a token that is still good (unused, unexpired, for this purpose, its user not deleted). */
export function findUsableToken(
  db: D1Database,
  hash: string,
  purpose: TokenPurpose,
  now: string,
): Promise<LiveUser | null> {
  return db
    .prepare(
      `SELECT u.id AS userId, u.status AS status, u.roles AS roles, u.password_hash IS NOT NULL AS hasPassword,
              u.email_verified_at IS NOT NULL AS emailVerified
       FROM user_tokens t JOIN users u ON u.id = t.user_id
       WHERE t.token_hash = ?1 AND t.purpose = ?2 AND t.used_at IS NULL AND t.expires_at > ?3
         AND u.status != 'deleted'`,
    )
    .bind(hash, purpose, now)
    .first<Omit<LiveUser, "roles"> & { roles: string }>()
    .then(liveUser);
}

/**
 * Spends a token: changes a row only while it is still good, so of two concurrent confirms exactly one
 * changes it (the other's batch then fails its assertion and rolls back whole).
 */
export function consumeToken(db: D1Database, hash: string, purpose: TokenPurpose, now: string) {
  return db
    .prepare(
      `UPDATE user_tokens SET used_at = ?3
       WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3`,
    )
    .bind(hash, purpose, now);
}

/** Spends every other outstanding token of the user for this purpose (a reset voids older reset mails). */
export function voidTokensOf(db: D1Database, userId: string, purpose: TokenPurpose, now: string) {
  return db
    .prepare("UPDATE user_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL")
    .bind(now, userId, purpose);
}

export function findLiveUser(db: D1Database, userId: string): Promise<LiveUser | null> {
  return db
    .prepare(
      `SELECT id AS userId, status, roles, password_hash IS NOT NULL AS hasPassword,
         email_verified_at IS NOT NULL AS emailVerified
       FROM users WHERE id = ? AND status != 'deleted'`,
    )
    .bind(userId)
    .first<Omit<LiveUser, "roles"> & { roles: string }>()
    .then(liveUser);
}

/** Sets the password hash of a live user, moving its version (so its ETag) on. */
export function setPasswordHash(db: D1Database, userId: string, passwordHash: string, at: string) {
  return db
    .prepare(
      "UPDATE users SET password_hash = ?, updated_at = ?, version = version + 1 WHERE id = ? AND status != 'deleted'",
    )
    .bind(passwordHash, at, userId);
}

/** Marks the user's email verified (keeps the first verification time), moving its version on. */
export function markEmailVerified(db: D1Database, userId: string, at: string) {
  return db
    .prepare(
      `UPDATE users SET email_verified_at = coalesce(email_verified_at, ?1), updated_at = ?1, version = version + 1
       WHERE id = ?2 AND status != 'deleted'`,
    )
    .bind(at, userId);
}

/**
 * A login's writes to the user row. `last_login_at` is part of the user's representation, so the version moves
 * with it (the ETag changes, and a concurrent read-modify-write of the row retries instead of writing back an
 * older `last_login_at`).
 */
export function recordLogin(db: D1Database, userId: string, at: string): D1PreparedStatement {
  return db.prepare("UPDATE users SET last_login_at = ?, version = version + 1 WHERE id = ?").bind(at, userId);
}

/** Replaces an outdated password hash, only if it is still the one the login verified (no password change raced it). */
export function rehashPassword(db: D1Database, userId: string, verifiedHash: string, newHash: string) {
  return db
    .prepare("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?")
    .bind(newHash, userId, verifiedHash);
}

/**
 * A login's writes to the user row. `last_login_at` is part of the user's representation, so the version moves
 * with it (the ETag changes, and a concurrent read-modify-write of the row retries instead of writing back an
 * older `last_login_at`). `last_active_at` moves here too, in the same single version step, so the login's activity
 * row (login.statements.ts) finds it current and leaves the row alone.
 */
export function recordLogin(db: D1Database, userId: string, at: string): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE users SET last_login_at = ?1, last_active_at = max(coalesce(last_active_at, ''), ?1),
         login_count = login_count + 1, version = version + 1
       WHERE id = ?2`,
    )
    .bind(at, userId);
}

/** Replaces an outdated password hash, only if it is still the one the login verified (no password change raced it). */
export function rehashPassword(db: D1Database, userId: string, verifiedHash: string, newHash: string) {
  return db
    .prepare("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?")
    .bind(newHash, userId, verifiedHash);
}

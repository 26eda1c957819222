import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { jsonChunks } from "../../core/db/json-rows";
import { userTotp } from "../../core/db/tenant-schema";

export type TotpRow = typeof userTotp.$inferSelect;

export function findTotp(db: D1Database, userId: string): Promise<TotpRow | undefined> {
  return drizzle(db).select().from(userTotp).where(eq(userTotp.userId, userId)).get();
}

/** A new pending enrolment, replacing a pending one but never an active one (then it changes nothing). */
export function startEnrolment(db: D1Database, userId: string, secretSealed: string, at: string) {
  return db
    .prepare(
      `INSERT INTO user_totp (user_id, secret_sealed, state, last_step, created_at) VALUES (?1, ?2, 'pending', 0, ?3)
       ON CONFLICT (user_id) DO UPDATE SET secret_sealed = ?2, last_step = 0, created_at = ?3
       WHERE user_totp.state = 'pending'`,
    )
    .bind(userId, secretSealed, at);
}

/** Activates a pending enrolment at `step`, only if nothing accepted that step (or a later one) first. */
export function activate(db: D1Database, userId: string, step: number, at: string) {
  return db
    .prepare(
      `UPDATE user_totp SET state = 'active', last_step = ?2, activated_at = ?3
       WHERE user_id = ?1 AND state = 'pending' AND last_step < ?2`,
    )
    .bind(userId, step, at);
}

export function deleteEnrolment(db: D1Database, userId: string) {
  return db.prepare("DELETE FROM user_totp WHERE user_id = ?").bind(userId);
}

export function deleteRecoveryCodes(db: D1Database, userId: string) {
  return db.prepare("DELETE FROM user_recovery_codes WHERE user_id = ?").bind(userId);
}

export function replaceRecoveryCodes(db: D1Database, userId: string, hashes: readonly string[], at: string) {
  return [
    deleteRecoveryCodes(db, userId),
    ...jsonChunks(hashes).map((chunk) =>
      db
        .prepare(
          "INSERT INTO user_recovery_codes (code_hash, user_id, created_at) SELECT value, ?, ? FROM json_each(?)",
        )
        .bind(userId, at, chunk),
    ),
  ];
}

/** The user's `mfa.totp` flag, with a new version (the representation, so the ETag, changes). */
export function setUserTotpFlag(db: D1Database, userId: string, enabled: boolean, at: string) {
  return db
    .prepare("UPDATE users SET mfa_totp = ?, updated_at = ?, version = version + 1 WHERE id = ?")
    .bind(enabled ? 1 : 0, at, userId);
}

/** Spends time step `step` of an active enrolment, only if no request spent it (or a later one) first. */
export function spendStep(db: D1Database, userId: string, step: number) {
  return db
    .prepare("UPDATE user_totp SET last_step = ?2 WHERE user_id = ?1 AND state = 'active' AND last_step < ?2")
    .bind(userId, step);
}

export function findRecoveryCode(db: D1Database, codeHash: string) {
  return db
    .prepare("SELECT user_id AS userId, used_at AS usedAt FROM user_recovery_codes WHERE code_hash = ?")
    .bind(codeHash)
    .first<{ userId: string; usedAt: string | null }>();
}

/** Marks a recovery code used, only if it is still unused. */
export function spendRecoveryCode(db: D1Database, userId: string, codeHash: string, at: string) {
  return db
    .prepare("UPDATE user_recovery_codes SET used_at = ? WHERE code_hash = ? AND user_id = ? AND used_at IS NULL")
    .bind(at, codeHash, userId);
}

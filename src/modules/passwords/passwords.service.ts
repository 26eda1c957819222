import type { ServiceContext } from "../../core/context";
import { hashPassword } from "../../core/crypto/password";
import { ApiError } from "../../core/errors";
import { auditStatement } from "../audit/audit.service";
import { UserErrors } from "../users/users.errors";
import { notFound } from "../users/users.plans";
import { findUser } from "../users/users.repo";

const WRITE_ATTEMPTS = 3;

/**
 * Sets (or replaces) a user's password. The audit event says that it changed, never what to; the user's
 * version moves so a cached representation's ETag no longer matches.
 */
export async function setPassword(ctx: ServiceContext, userId: string, password: string): Promise<void> {
  const passwordHash = await hashPassword(password);
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    const user = await findUser(ctx.db, userId);
    if (!user || user.status === "deleted") throw notFound(userId);
    const at = new Date().toISOString();
    const [update] = await ctx.db.batch([
      ctx.db
        .prepare(
          "UPDATE users SET password_hash = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?",
        )
        .bind(passwordHash, at, userId, user.version),
      await auditStatement(
        ctx,
        {
          action: "user.password_changed",
          resource: { type: "user", id: userId },
          changes: { password: { from: user.passwordHash ? "[redacted]" : null, to: "[redacted]" } },
        },
        { onlyIfPreviousChanged: true, at },
      ),
    ]);
    if (update?.meta.changes) return;
  }
  throw new ApiError(UserErrors.USER_WRITE_CONFLICT, { detail: `User ${userId} kept changing; try again.` });
}

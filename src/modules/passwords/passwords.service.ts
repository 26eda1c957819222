import { credentialGuard } from "../../core/auth/guard";
import type { ServiceContext } from "../../core/context";
import { assertPreviousChanged, clearAssertions, isAssertionFailure } from "../../core/db/statements";
import { eventStatement } from "../../core/events/outbox";
import { auditStatement } from "../audit/audit.service";
import { REDACTED } from "../audit/audit-changes";
import { forgetCachedUsers } from "../users/users.cache";
import { findUserByLogin } from "../users/users.lookup";
import { notFound } from "../users/users.plans";
import { assertWithinRights } from "../users/users.rights";
import { hashNewPassword } from "./password-policy";
import { invalidToken, issueToken, TOKEN_LIFETIME_MS, tokenHash } from "./user-tokens";
import { consumeToken, findLiveUser, findUsableToken, setPasswordHash, voidTokensOf } from "./user-tokens.repo";

/**
 * Sets (or replaces) a user's password, checked against the tenant's policy. The audit event says that it
 * changed, never what to; the user's version moves so a cached representation's ETag no longer matches.
 */
export async function setPassword(ctx: ServiceContext, userId: string, password: string): Promise<void> {
  const user = await findLiveUser(ctx.db, userId);
  if (!user) throw notFound(userId);
  await assertWithinRights(ctx, { id: user.userId, roles: user.roles });
  const passwordHash = await hashNewPassword(ctx, password);
  const at = new Date().toISOString();
  try {
    await ctx.db.batch([
      setPasswordHash(ctx.db, userId, passwordHash, at),
      assertPreviousChanged(ctx.db),
      await auditStatement(
        ctx,
        {
          action: "user.password_changed",
          resource: { type: "user", id: userId },
          changes: { password: { from: user.hasPassword ? REDACTED : null, to: REDACTED } },
        },
        { at },
      ),
      clearAssertions(ctx.db),
    ]);
  } catch (error) {
    // deleted while the password was being hashed
    if (isAssertionFailure(error)) throw notFound(userId);
    throw error;
  }
  await forgetCachedUsers(ctx, [userId]);
}

/**
 * Starts a reset for the user with this email, if there is one that is active: a token, mailed through the
 * `user.password_reset_requested` event. The answer is the same either way, so it tells no one which
 * addresses have accounts.
 */
export async function requestPasswordReset(ctx: ServiceContext, email: string): Promise<{ expiresAt: string }> {
  const now = Date.now();
  const user = await findUserByLogin(ctx, email);
  if (user?.status !== "active") {
    return { expiresAt: new Date(now + TOKEN_LIFETIME_MS.password_reset).toISOString() };
  }
  return issueToken(ctx, user.id, "password_reset", now);
}

/**
 * Spends a reset token and sets the new password, in one batch that also voids the user's other reset
 * tokens; then revokes every access token issued to the user before now (whoever reset the password may be
 * locking someone else out). Unknown, used and expired tokens get one and the same answer.
 */
export async function confirmPasswordReset(ctx: ServiceContext, token: string, password: string): Promise<void> {
  const hash = await tokenHash(token);
  const owner = await findUsableToken(ctx.db, hash, "password_reset", new Date().toISOString());
  if (!owner) throw invalidToken();
  // a password the policy refuses leaves the token unspent, so the user can try another
  const passwordHash = await hashNewPassword(ctx, password);
  const at = new Date().toISOString();
  const { userId } = owner;
  try {
    await ctx.db.batch([
      consumeToken(ctx.db, hash, "password_reset", at),
      assertPreviousChanged(ctx.db),
      voidTokensOf(ctx.db, userId, "password_reset", at),
      setPasswordHash(ctx.db, userId, passwordHash, at),
      assertPreviousChanged(ctx.db),
      await auditStatement(
        ctx,
        {
          action: "user.password_reset",
          resource: { type: "user", id: userId },
          changes: { password: { from: owner.hasPassword ? REDACTED : null, to: REDACTED } },
        },
        { at },
      ),
      await eventStatement(ctx, { type: "user.password_reset", subjectId: userId, data: { userId } }, at),
      clearAssertions(ctx.db),
    ]);
  } catch (error) {
    // another confirm spent the token first, or the user was deleted meanwhile
    if (isAssertionFailure(error)) throw invalidToken();
    throw error;
  }
  await forgetCachedUsers(ctx, [userId]);
  await credentialGuard(ctx.env, `user:${ctx.scope}:${userId}`).revokeIssuedBefore(Date.now());
}

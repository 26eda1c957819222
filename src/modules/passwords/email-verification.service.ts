import type { ServiceContext } from "../../core/context";
import { assertPreviousChanged, clearAssertions, isAssertionFailure } from "../../core/db/statements";
import { eventStatement } from "../../core/events/outbox";
import { auditStatement } from "../audit/audit.service";
import { forgetCachedUsers } from "../users/users.cache";
import { notFound } from "../users/users.plans";
import { invalidToken, issueToken, tokenHash } from "./user-tokens";
import { consumeToken, findLiveUser, findUsableToken, markEmailVerified, voidTokensOf } from "./user-tokens.repo";

/**
 * Mails the user a token that proves the address is theirs (`user.email_verification_requested`). A token is
 * for the address the user had when it was issued: changing the email voids it (trigger `users_email_changed`).
 */
export async function requestEmailVerification(ctx: ServiceContext, userId: string): Promise<{ expiresAt: string }> {
  const user = await findLiveUser(ctx.db, userId);
  if (!user) throw notFound(userId);
  return issueToken(ctx, userId, "email_verification");
}

/** Spends a verification token and marks the user's email verified (voiding the user's other such tokens). */
export async function confirmEmailVerification(ctx: ServiceContext, token: string): Promise<void> {
  const hash = await tokenHash(token);
  const at = new Date().toISOString();
  const owner = await findUsableToken(ctx.db, hash, "email_verification", at);
  if (!owner) throw invalidToken();
  const { userId } = owner;
  try {
    await ctx.db.batch([
      consumeToken(ctx.db, hash, "email_verification", at),
      assertPreviousChanged(ctx.db),
      voidTokensOf(ctx.db, userId, "email_verification", at),
      markEmailVerified(ctx.db, userId, at),
      assertPreviousChanged(ctx.db),
      await auditStatement(
        ctx,
        {
          action: "user.email_verified",
          resource: { type: "user", id: userId },
          changes: owner.emailVerified ? {} : { emailVerified: { from: false, to: true } },
        },
        { at },
      ),
      await eventStatement(ctx, { type: "user.email_verified", subjectId: userId, data: { userId } }, at),
      clearAssertions(ctx.db),
    ]);
  } catch (error) {
    if (isAssertionFailure(error)) throw invalidToken();
    throw error;
  }
  await forgetCachedUsers(ctx, [userId]);
}

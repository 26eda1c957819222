import type { ServiceContext } from "../../core/context";
import { toBase64Url } from "../../core/crypto/encoding";
import { sha256Hex } from "../../core/crypto/hash";
import { ApiError } from "../../core/errors";
import { eventStatement } from "../../core/events/outbox";
import { auditStatement } from "../audit/audit.service";
import { PasswordErrors } from "./passwords.errors";
import { insertToken, type TokenPurpose } from "./user-tokens.repo";

/** How long a mailed token works: a reset is urgent and sensitive, a verification may wait for the inbox. */
export const TOKEN_LIFETIME_MS: Record<TokenPurpose, number> = {
  password_reset: 30 * 60 * 1000,
  email_verification: 24 * 60 * 60 * 1000,
};

const EVENTS: Record<TokenPurpose, string> = {
  password_reset: "user.password_reset_requested",
  email_verification: "user.email_verification_requested",
};

/** 256 random bits, base64url: unguessable, so a fast hash (SHA-256) is enough to store it. */
export function newToken(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

export function tokenHash(token: string): Promise<string> {
  return sha256Hex(token);
}

export function invalidToken(): ApiError {
  return new ApiError(PasswordErrors.INVALID_TOKEN, {
    detail: "The token is unknown, already used or expired. Ask for a new one.",
  });
}

/**
 * Issues a token for a user: its hash in `user_tokens`, the audit row, and the event that carries the token
 * itself sealed (for the notifications dispatcher to mail), all in one batch.
 */
export async function issueToken(ctx: ServiceContext, userId: string, purpose: TokenPurpose, now = Date.now()) {
  const token = newToken();
  const at = new Date(now).toISOString();
  const expiresAt = new Date(now + TOKEN_LIFETIME_MS[purpose]).toISOString();
  const type = EVENTS[purpose];
  await ctx.db.batch([
    insertToken(ctx.db, { hash: await tokenHash(token), userId, purpose, createdAt: at, expiresAt }),
    await auditStatement(ctx, { action: type, resource: { type: "user", id: userId } }, { at }),
    await eventStatement(ctx, { type, subjectId: userId, data: { userId, expiresAt }, secret: { token } }, at),
  ]);
  return { expiresAt };
}

import { credentialGuard } from "../../core/auth/guard";
import type { ServiceContext } from "../../core/context";
import { auditStatement } from "../audit/audit.service";
import { USER_TOKEN_SECONDS } from "./oauth.config";
import { revokeFamily } from "./refresh-tokens.repo";

/** A login session: a refresh-token family, whose access tokens carry its id as `sid`. */
export interface Session {
  family_id: string;
  user_id: string;
  /** When the family's refresh tokens end (ISO): no access token of it outlives this by more than its lifetime. */
  expires_at: string;
}

const PARALLEL = 25;

/**
 * Stops every access token of these sessions at once: each user's guard refuses the `sid` until the last
 * access token the family could have issued has expired.
 */
export async function revokeSessions(env: Env, tenantId: string, sessions: readonly Session[]): Promise<void> {
  for (let i = 0; i < sessions.length; i += PARALLEL) {
    await Promise.all(
      sessions
        .slice(i, i + PARALLEL)
        .map((s) =>
          credentialGuard(env, `user:${tenantId}:${s.user_id}`).revokeSession(
            s.family_id,
            Date.parse(s.expires_at) + USER_TOKEN_SECONDS * 1000,
          ),
        ),
    );
  }
}

/**
 * Ends one session: its access tokens stop at once (the user's guard, first: fail closed), then its refresh tokens
 * are revoked in D1 with the audit event, which is written only if this call revoked them.
 */
export async function endSession(
  ctx: ServiceContext,
  session: Session,
  reason: "refresh_token_reused" | "revoked_by_client",
): Promise<void> {
  const at = new Date().toISOString();
  await revokeSessions(ctx.env, ctx.scope, [session]);
  await ctx.db.batch([
    revokeFamily(ctx.db, session.family_id, at),
    await auditStatement(
      ctx,
      {
        action: "oauth_session.revoked",
        resource: { type: "user", id: session.user_id },
        changes: { session: { from: session.family_id, to: null }, reason: { from: null, to: reason } },
      },
      { at, onlyIfPreviousChanged: true },
    ),
  ]);
}

import type { ServiceContext } from "../../core/context";
import { eventStatement } from "../../core/events/outbox";
import { loginActivity } from "../activity/activity.service";
import { auditStatement } from "../audit/audit.service";
import { REDACTED } from "../audit/audit-changes";
import type { SecondFactorMethod } from "../mfa/second-factor";
import { deviceOf } from "./login.device";
import { recordLogin, rehashPassword } from "./login.repo";

/** Why a login failed, for the tenant's event log (never shown to the client, who gets one answer for all). */
export type FailureReason =
  | "unknown_user"
  | "user_disabled"
  | "no_password"
  | "invalid_password"
  | "invalid_second_factor"
  | "mfa_enrollment_required";

export interface SuccessfulLogin {
  userId: string;
  /** The verified hash and its replacement, when the hash was of an older kind. */
  rehash: { from: string; to: string } | null;
  secondFactor: { method: SecondFactorMethod; statements: D1PreparedStatement[] } | null;
  /** The `user.login` event's method when the sign-in was not by password (`oidc`: an external provider). */
  method?: string;
}

/**
 * What a login writes, in the caller's one batch: the spent one-time code first (guarded: the batch fails if it
 * was spent concurrently), the rehash, `last_login_at` and the login count, the activity row (with the client's IP
 * and user agent: docs/activity.md), the audit event and the `user.login` event. The events (which webhooks carry
 * out) hold neither the identifier, the password nor the client's IP; they carry `device`, a keyed hash of the user
 * agent (login.device.ts).
 */
export async function successStatements(ctx: ServiceContext, login: SuccessfulLogin): Promise<D1PreparedStatement[]> {
  const at = new Date().toISOString();
  const method = login.method ?? (login.secondFactor ? `password+${login.secondFactor.method}` : "password");
  // a keyed hash of the user agent, so notifications can tell a new device (login.device.ts); never the agent itself
  const device = await deviceOf(ctx.env, ctx.scope, ctx.request.userAgent);
  return [
    ...(login.secondFactor?.statements ?? []),
    ...(login.rehash ? [rehashPassword(ctx.db, login.userId, login.rehash.from, login.rehash.to)] : []),
    recordLogin(ctx.db, login.userId, at),
    ...loginActivity(ctx, login.userId, "login", at),
    await auditStatement(
      ctx,
      {
        action: "user.login",
        resource: { type: "user", id: login.userId },
        changes: login.rehash ? { password: { from: REDACTED, to: REDACTED } } : {},
      },
      { at },
    ),
    await eventStatement(
      ctx,
      {
        type: "user.login",
        subjectId: login.userId,
        data: { userId: login.userId, method, ...(device ? { device } : {}) },
      },
      at,
    ),
  ];
}

/** A failed login's audit and event rows; `userId` null when no account has that identifier. */
export async function failureStatements(
  ctx: ServiceContext,
  userId: string | null,
  reason: FailureReason,
  lockedForSeconds?: number,
): Promise<D1PreparedStatement[]> {
  const at = new Date().toISOString();
  return [
    ...loginActivity(ctx, userId, "login_failed", at),
    await auditStatement(ctx, { action: "user.login_failed", resource: { type: "user", id: userId } }, { at }),
    await eventStatement(
      ctx,
      {
        type: "user.login_failed",
        subjectId: userId,
        data: { userId, reason, ...(lockedForSeconds ? { lockedForSeconds } : {}) },
      },
      at,
    ),
  ];
}

import { renderSVG } from "uqr";
import { throttleGuard } from "../../core/auth/throttle";
import type { ServiceContext } from "../../core/context";
import { newTotpSecret, otpauthUri } from "../../core/crypto/totp";
import { assertPreviousChanged, clearAssertions, isAssertionFailure } from "../../core/db/statements";
import { ApiError } from "../../core/errors";
import { auditStatement } from "../audit/audit.service";
import { forgetCachedUsers } from "../users/users.cache";
import { notFound } from "../users/users.plans";
import { findUser } from "../users/users.repo";
import { assertWithinRights } from "../users/users.rights";
import { MfaErrors } from "./mfa.errors";
import {
  activate,
  deleteEnrolment,
  deleteRecoveryCodes,
  findTotp,
  replaceRecoveryCodes,
  setUserTotpFlag,
  startEnrolment,
} from "./mfa.repo";
import { checkSecondFactor, hashRecoveryCode, newRecoveryCode } from "./second-factor";
import { sealTotpSecret, stepOfCode } from "./totp-secret";

const DEFAULT_ISSUER = "User Ops Manager";
const RECOVERY_CODES = 10;

async function liveUser(ctx: ServiceContext, userId: string) {
  const user = await findUser(ctx, userId);
  if (!user || user.status === "deleted") throw notFound(userId);
  await assertWithinRights(ctx, user);
  return user;
}

/** Starts (or restarts) an enrolment: a new secret, shown once, that becomes active only once a code proves it. */
export async function startTotp(ctx: ServiceContext, userId: string, issuer = DEFAULT_ISSUER) {
  const user = await liveUser(ctx, userId);
  const secret = newTotpSecret();
  const sealed = await sealTotpSecret(ctx, userId, secret);
  const at = new Date().toISOString();
  const [started] = await ctx.db.batch([
    startEnrolment(ctx.db, userId, sealed, at),
    await auditStatement(
      ctx,
      { action: "user.mfa_enrollment_started", resource: { type: "user", id: userId } },
      { onlyIfPreviousChanged: true, at },
    ),
  ]);
  if (!started?.meta.changes) throw alreadyEnabled(userId);
  const uri = otpauthUri(issuer, user.email, secret);
  return { secret, otpauthUri: uri, qrSvg: renderSVG(uri) };
}

/** Proves the pending secret with a code and activates it; returns the recovery codes, once. */
export async function verifyTotp(ctx: ServiceContext, userId: string, code: string) {
  await liveUser(ctx, userId);
  const enrolment = await findTotp(ctx.db, userId);
  if (enrolment?.state === "active") throw alreadyEnabled(userId);
  if (!enrolment) {
    throw new ApiError(MfaErrors.MFA_NOT_PENDING, { detail: `Start with POST /v1/users/${userId}/mfa/totp.` });
  }
  const step = await stepOfCode(ctx, enrolment, code);
  if (step === null) {
    throw new ApiError(MfaErrors.INVALID_TOTP_CODE, {
      detail: "The code does not match the current time window (or was already used).",
      errors: [{ field: "code", code: "invalid_code", detail: "Not a current code for this secret." }],
    });
  }
  const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
  const hashes = await Promise.all(codes.map(hashRecoveryCode));
  const at = new Date().toISOString();
  try {
    await ctx.db.batch([
      activate(ctx.db, userId, step, at),
      assertPreviousChanged(ctx.db),
      ...replaceRecoveryCodes(ctx.db, userId, hashes, at),
      setUserTotpFlag(ctx.db, userId, true, at),
      await auditStatement(
        ctx,
        {
          action: "user.mfa_enabled",
          resource: { type: "user", id: userId },
          changes: { "mfa.totp": { from: false, to: true } },
        },
        { at },
      ),
      clearAssertions(ctx.db),
    ]);
  } catch (error) {
    if (isAssertionFailure(error)) {
      throw new ApiError(MfaErrors.MFA_NOT_PENDING, { detail: "Another request verified or replaced this enrolment." });
    }
    throw error;
  }
  await forgetCachedUsers(ctx, [userId]);
  return { recoveryCodes: codes };
}

/**
 * Removes TOTP (pending or active) and its recovery codes. A user removing their own active TOTP proves it with
 * a current code or a recovery code (a stolen access token alone must not strip the second factor); any other
 * caller got here with the `users:write` permission and needs none.
 */
export async function removeUserTotp(ctx: ServiceContext, userId: string, code?: string): Promise<void> {
  await liveUser(ctx, userId);
  const enrolment = await findTotp(ctx.db, userId);
  if (!enrolment) throw new ApiError(MfaErrors.MFA_NOT_ENABLED, { detail: `User ${userId} has no TOTP.` });
  const self = ctx.actor.type === "user" && ctx.actor.id === userId;
  const proof = self && enrolment.state === "active" ? await proveOwnSecondFactor(ctx, userId, code) : null;
  const at = new Date().toISOString();
  try {
    await ctx.db.batch([
      ...(proof?.statements ?? []),
      deleteEnrolment(ctx.db, userId),
      assertPreviousChanged(ctx.db),
      deleteRecoveryCodes(ctx.db, userId),
      ...(enrolment.state === "active" ? [setUserTotpFlag(ctx.db, userId, false, at)] : []),
      await auditStatement(
        ctx,
        {
          action: "user.mfa_disabled",
          resource: { type: "user", id: userId },
          changes: enrolment.state === "active" ? { "mfa.totp": { from: true, to: false } } : {},
        },
        { at },
      ),
      clearAssertions(ctx.db),
    ]);
  } catch (error) {
    if (isAssertionFailure(error)) {
      if (proof && (await findTotp(ctx.db, userId))) {
        throw invalidCode("This code was just used by another request.", "used");
      }
      throw new ApiError(MfaErrors.MFA_NOT_ENABLED, { detail: "Another request removed it first." });
    }
    throw error;
  }
  await forgetCachedUsers(ctx, [userId]);
  await proof?.settle();
}

/**
 * Checks the user's own second factor, throttled per user like a login (`mfa:<tenant>:<user>`): five wrong codes
 * are free, then each locks for twice as long, so the six-digit space cannot be walked through.
 */
async function proveOwnSecondFactor(ctx: ServiceContext, userId: string, code: string | undefined) {
  if (!code) throw invalidCode("Removing your own TOTP needs a current code or a recovery code.", "required");
  const guard = throttleGuard(ctx.env, `mfa:${ctx.scope}:${userId}`);
  const verdict = await guard.throttleBegin("account");
  if (!verdict.allowed) {
    throw new ApiError(MfaErrors.TOO_MANY_CODE_ATTEMPTS, {
      detail: `Too many wrong codes; try again in ${verdict.retryAfterSeconds} s.`,
      headers: { "Retry-After": String(verdict.retryAfterSeconds) },
    });
  }
  const check = await checkSecondFactor(ctx, userId, code);
  // a wrong code stays counted (it was counted when the attempt began)
  if (!check.ok) throw invalidCode("Not a current TOTP code or an unused recovery code of this user.", "invalid_code");
  return { statements: check.statements, settle: () => guard.throttleReset() };
}

function invalidCode(detail: string, code: string): ApiError {
  return new ApiError(MfaErrors.INVALID_TOTP_CODE, { detail, errors: [{ field: "code", code, detail }] });
}

function alreadyEnabled(userId: string): ApiError {
  return new ApiError(MfaErrors.MFA_ALREADY_ENABLED, {
    detail: `User ${userId} already has TOTP; DELETE /v1/users/${userId}/mfa/totp first to enrol a new device.`,
  });
}

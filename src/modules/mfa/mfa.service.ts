import { renderSVG } from "uqr";
import type { ServiceContext } from "../../core/context";
import { sha256Hex } from "../../core/crypto/hash";
import { open, seal } from "../../core/crypto/sealed-box";
import { base32Encode, matchingStep, newTotpSecret, otpauthUri } from "../../core/crypto/totp";
import { assertPreviousChanged, clearAssertions, isAssertionFailure } from "../../core/db/statements";
import { ApiError } from "../../core/errors";
import { auditStatement } from "../audit/audit.service";
import { notFound } from "../users/users.plans";
import { findUser } from "../users/users.repo";
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

const SECRET_PURPOSE = "uom/totp-secret/v1";
const DEFAULT_ISSUER = "User Ops Manager";
const RECOVERY_CODES = 10;

/** The key context of a user's TOTP secret: the tenant and the user, so a sealed secret moved elsewhere won't open. */
function secretContext(ctx: ServiceContext, userId: string): string {
  return `${ctx.scope}\u0000${userId}`;
}

async function liveUser(ctx: ServiceContext, userId: string) {
  const user = await findUser(ctx.db, userId);
  if (!user || user.status === "deleted") throw notFound(userId);
  return user;
}

/** Starts (or restarts) an enrolment: a new secret, shown once, that becomes active only once a code proves it. */
export async function startTotp(ctx: ServiceContext, userId: string, issuer = DEFAULT_ISSUER) {
  const user = await liveUser(ctx, userId);
  const secret = newTotpSecret();
  const sealed = await seal(ctx.env.MASTER_KEY, SECRET_PURPOSE, secretContext(ctx, userId), secret);
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
  const secret = await open(ctx.env.MASTER_KEY, SECRET_PURPOSE, secretContext(ctx, userId), enrolment.secretSealed);
  const step = matchingStep(secret, code, Date.now(), enrolment.lastStep);
  if (step === null) {
    throw new ApiError(MfaErrors.INVALID_TOTP_CODE, {
      detail: "The code does not match the current time window (or was already used).",
      errors: [{ field: "code", code: "invalid_code", detail: "Not a current code for this secret." }],
    });
  }
  const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
  const hashes = await Promise.all(codes.map((c) => sha256Hex(c)));
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
  return { recoveryCodes: codes };
}

/** Removes TOTP (pending or active) and its recovery codes. */
export async function removeUserTotp(ctx: ServiceContext, userId: string): Promise<void> {
  await liveUser(ctx, userId);
  const enrolment = await findTotp(ctx.db, userId);
  if (!enrolment) throw new ApiError(MfaErrors.MFA_NOT_ENABLED, { detail: `User ${userId} has no TOTP.` });
  const at = new Date().toISOString();
  try {
    await ctx.db.batch([
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
      throw new ApiError(MfaErrors.MFA_NOT_ENABLED, { detail: "Another request removed it first." });
    }
    throw error;
  }
}

function alreadyEnabled(userId: string): ApiError {
  return new ApiError(MfaErrors.MFA_ALREADY_ENABLED, {
    detail: `User ${userId} already has TOTP; DELETE /v1/users/${userId}/mfa/totp first to enrol a new device.`,
  });
}

/** 80 random bits as four groups of base32 (`k7qm-2xrp-9tfa-m4ze`), easy to type from a printout. */
function newRecoveryCode(): string {
  const text = base32Encode(crypto.getRandomValues(new Uint8Array(10))).toLowerCase();
  return `${text.slice(0, 4)}-${text.slice(4, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}`;
}

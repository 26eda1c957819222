import type { ServiceContext } from "../../core/context";
import { sha256Hex } from "../../core/crypto/hash";
import { base32Encode } from "../../core/crypto/totp";
import { assertPreviousChanged, clearAssertions } from "../../core/db/statements";
import { findRecoveryCode, findTotp, spendRecoveryCode, spendStep } from "./mfa.repo";
import { stepOfCode } from "./totp-secret";

/**
 * The second factor of a user with active TOTP, shared by login and by the removal of one's own TOTP: a current
 * code from the authenticator, or one of the ten recovery codes.
 */
export type SecondFactorMethod = "totp" | "recovery_code";

export type SecondFactorCheck =
  | {
      ok: true;
      method: SecondFactorMethod;
      /**
       * Spend the code: a guarded update then an assertion, so the batch they join fails (`isAssertionFailure`)
       * when another request spent the same code first — a code works once, even under concurrency.
       */
      statements: D1PreparedStatement[];
    }
  | { ok: false };

const RECOVERY_CODE = /^[a-z2-7]{16}$/;

/** 80 random bits as four groups of base32 (`k7qm-2xrp-9tfa-m4ze`), easy to type from a printout. */
export function newRecoveryCode(): string {
  const text = base32Encode(crypto.getRandomValues(new Uint8Array(10))).toLowerCase();
  return formatRecoveryCode(text);
}

function formatRecoveryCode(text: string): string {
  return `${text.slice(0, 4)}-${text.slice(4, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}`;
}

/** A recovery code as typed (any case, spaces or dashes anywhere) in its issued form, or null. */
export function normalizeRecoveryCode(input: string): string | null {
  const text = input.toLowerCase().replace(/[\s-]/g, "");
  return RECOVERY_CODE.test(text) ? formatRecoveryCode(text) : null;
}

export function hashRecoveryCode(code: string): Promise<string> {
  return sha256Hex(code);
}

/** Checks `code` (six digits: TOTP; otherwise: a recovery code) against the user's active second factor. */
export async function checkSecondFactor(
  ctx: ServiceContext,
  userId: string,
  code: string,
  nowMs = Date.now(),
): Promise<SecondFactorCheck> {
  const trimmed = code.trim();
  if (/^\d{6}$/.test(trimmed)) {
    const enrolment = await findTotp(ctx.db, userId);
    if (enrolment?.state !== "active") return { ok: false };
    const step = await stepOfCode(ctx, enrolment, trimmed, nowMs);
    if (step === null) return { ok: false };
    return { ok: true, method: "totp", statements: guarded(ctx.db, spendStep(ctx.db, userId, step)) };
  }
  const recovery = normalizeRecoveryCode(trimmed);
  if (!recovery) return { ok: false };
  // a random 80-bit value: finding it by its hash leaks nothing a timing attack could use
  const hash = await hashRecoveryCode(recovery);
  const row = await findRecoveryCode(ctx.db, hash);
  if (!row || row.userId !== userId || row.usedAt !== null) return { ok: false };
  const at = new Date(nowMs).toISOString();
  return {
    ok: true,
    method: "recovery_code",
    statements: guarded(ctx.db, spendRecoveryCode(ctx.db, userId, hash, at)),
  };
}

function guarded(db: D1Database, statement: D1PreparedStatement): D1PreparedStatement[] {
  return [statement, assertPreviousChanged(db), clearAssertions(db)];
}

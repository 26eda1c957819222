import { parseAssignment } from "../../core/auth/assignments";
import type { ServiceContext } from "../../core/context";
import { burnPasswordHash, hashPassword, verifyPassword } from "../../core/crypto/password";
import { ApiError } from "../../core/errors";
import { toPluginUser } from "../../core/plugins/context";
import { prepareBeforeHooks } from "../../core/plugins/hooks";
import { checkSecondFactor, type SecondFactorMethod } from "../mfa/second-factor";
import type { SecurityPolicy } from "../security-policy/security-policy.schema";
import { securityPolicyOf } from "../security-policy/security-policy.service";
import { findUserByLogin, type LoginCandidate } from "../users/users.lookup";
import { getUser, updateUser } from "../users/users.service";
import { type FailureReason, failureStatements, successStatements } from "./login.statements";
import { beginLoginAttempt } from "./login.throttle";

export interface LoginAttempt {
  identifier: string;
  password: string;
  totp?: string | undefined;
  ip: string | null;
}

export type LoginResult =
  | { ok: true; user: { id: string; roles: string[] }; statements: D1PreparedStatement[] }
  | {
      ok: false;
      error: "invalid_grant" | "mfa_required" | "mfa_enrollment_required" | "access_denied" | "temporarily_unavailable";
      description: string;
      retryAfterSeconds?: number;
      /** The HTTP status when not 400: a before-hook's refusal (403) or its failure (503). */
      status?: 403 | 503;
      statements: D1PreparedStatement[];
    };

/** The answers a client sees. Unknown user, disabled user and wrong password share one, word for word. */
export const LOGIN_DESCRIPTIONS = {
  invalidCredentials: "Invalid username or password.",
  locked: "Too many failed attempts; try again later.",
  invalidSecondFactor: "The one-time code is not valid, or was already used.",
  mfaRequired: "This account has two-factor authentication: send `totp`, an authenticator code or a recovery code.",
  enrollmentRequired: "This account's role requires two-factor authentication: enrol TOTP before signing in.",
} as const;

type Verdict =
  | {
      kind: "success";
      user: LoginCandidate;
      passwordHash: string;
      needsRehash: boolean;
      secondFactor: SecondFactorProof;
    }
  | { kind: "failure"; userId: string | null; reason: FailureReason }
  | { kind: "mfa_required" }
  | { kind: "mfa_enrollment_required"; userId: string };

type SecondFactorProof = { method: SecondFactorMethod; statements: D1PreparedStatement[] } | null;

/**
 * Checks an end user's login (issue 3 §4, §5): throttled per account and per IP, the same answer in the same time
 * for an unknown user as for a wrong password, TOTP or a recovery code when enrolled, the tenant's "2FA required
 * for role X" policy. Reads with one indexed lookup (plus the enrolment, for TOTP users) and writes nothing
 * itself: the caller runs `statements` in ONE batch — with its own on success; an assertion failure in that batch
 * means the one-time code was spent by a concurrent request and must be answered `invalid_grant`.
 */
export async function authenticateUser(ctx: ServiceContext, attempt: LoginAttempt): Promise<LoginResult> {
  const tenantId = ctx.tenant?.id;
  if (!tenantId) throw new Error("authenticateUser needs a tenant's service context");
  const [throttle, user, policy] = await Promise.all([
    beginLoginAttempt(ctx.env, tenantId, attempt.identifier, attempt.ip),
    findUserByLogin(ctx, attempt.identifier),
    securityPolicyOf(ctx.env, tenantId),
  ]);
  // refused before the password is looked at; not counted, and not written down (hammering costs no writes)
  if (throttle.retryAfterSeconds !== null) {
    return refusal("invalid_grant", LOGIN_DESCRIPTIONS.locked, [], throttle.retryAfterSeconds);
  }
  const verdict = await judge(ctx, attempt, user, policy);
  switch (verdict.kind) {
    case "success": {
      const refused = await loginHooks(ctx, verdict.user.id);
      if (refused) {
        // the credentials were right: not a failed guess
        await throttle.released();
        return refused;
      }
      const newHash = verdict.needsRehash ? await hashPassword(ctx.env, attempt.password) : null;
      // reset before answering: a failure right after this success starts afresh (in the background it could still
      // find the old count, and lock the account for a typo)
      await throttle.succeeded();
      return {
        ok: true,
        user: { id: verdict.user.id, roles: verdict.user.roles },
        statements: await successStatements(ctx, {
          userId: verdict.user.id,
          rehash: newHash ? { from: verdict.passwordHash, to: newHash } : null,
          secondFactor: verdict.secondFactor,
        }),
      };
    }
    case "failure": {
      // the attempt was counted when it began; a lock it started is announced now
      const lockedForSeconds = throttle.lockSecondsIfFailed ?? undefined;
      const statements = await failureStatements(ctx, verdict.userId, verdict.reason, lockedForSeconds);
      const description =
        verdict.reason === "invalid_second_factor"
          ? LOGIN_DESCRIPTIONS.invalidSecondFactor
          : LOGIN_DESCRIPTIONS.invalidCredentials;
      return refusal("invalid_grant", description, statements, lockedForSeconds);
    }
    case "mfa_required":
      // the first half of a two-step login, not a failed guess
      await throttle.released();
      return refusal("mfa_required", LOGIN_DESCRIPTIONS.mfaRequired, []);
    case "mfa_enrollment_required":
      // the password was right: not a failed guess, but a refusal the tenant wants to see
      await throttle.released();
      return refusal(
        "mfa_enrollment_required",
        LOGIN_DESCRIPTIONS.enrollmentRequired,
        await failureStatements(ctx, verdict.userId, "mfa_enrollment_required"),
      );
  }
}

/**
 * Runs the user.login before-hooks for a user whose sign-in is verified, and writes the attributes they set; a
 * refusal throws their ApiError (403 HOOK_REJECTED, 503 when a fail-closed action cannot be reached). Also used by
 * sign-ins outside the token endpoint (oauth/authorization-codes.ts).
 */
export async function applyLoginHooks(ctx: ServiceContext, userId: string): Promise<void> {
  const hooks = await prepareBeforeHooks(ctx, "user.login");
  if (hooks.size === 0) return;
  const { user } = await getUser(ctx, userId, false);
  const { attributes } = await hooks({ user: toPluginUser(user) });
  if (Object.keys(attributes).length > 0) await updateUser(ctx, userId, { attributes }, undefined);
}

/**
 * The user.login before-hooks (plugins, HTTP actions; docs/actions.md), once the credentials are verified: they may
 * refuse the sign-in (403 access_denied with their message; 503 temporarily_unavailable when a fail-closed action
 * cannot be reached) or set custom attributes, written through the users service before tokens are issued.
 */
async function loginHooks(ctx: ServiceContext, userId: string): Promise<LoginResult | null> {
  try {
    await applyLoginHooks(ctx, userId);
    return null;
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 403 && error.status !== 503)) throw error;
    const unavailable = error.status === 503;
    return {
      ok: false,
      error: unavailable ? "temporarily_unavailable" : "access_denied",
      description: error.detail ?? error.title,
      status: unavailable ? 503 : 403,
      statements: [],
    };
  }
}

async function judge(
  ctx: ServiceContext,
  attempt: LoginAttempt,
  user: LoginCandidate | undefined,
  policy: SecurityPolicy,
): Promise<Verdict> {
  if (user?.status !== "active" || !user.passwordHash) {
    // the same work as checking a real password, so the answer's timing does not tell who has an account
    await burnPasswordHash(ctx.env, attempt.password);
    return { kind: "failure", userId: user?.id ?? null, reason: failureReason(user) };
  }
  const password = await verifyPassword(ctx.env, attempt.password, user.passwordHash);
  if (!password.ok) return { kind: "failure", userId: user.id, reason: "invalid_password" };
  const success = {
    kind: "success",
    user,
    passwordHash: user.passwordHash,
    needsRehash: password.needsRehash,
  } as const;
  if (user.mfaTotp) {
    if (!attempt.totp) return { kind: "mfa_required" };
    const check = await checkSecondFactor(ctx, user.id, attempt.totp);
    if (!check.ok) return { kind: "failure", userId: user.id, reason: "invalid_second_factor" };
    return { ...success, secondFactor: { method: check.method, statements: check.statements } };
  }
  // a role scoped to a sub-account (`admin@ten_…`) is that role: the policy requires the second factor for it too
  const held = new Set(user.roles.map((entry) => parseAssignment(entry).role));
  if (policy.mfa.requiredForRoles.some((role) => held.has(role))) {
    return { kind: "mfa_enrollment_required", userId: user.id };
  }
  return { ...success, secondFactor: null };
}

function failureReason(user: LoginCandidate | undefined): FailureReason {
  if (!user) return "unknown_user";
  return user.status !== "active" ? "user_disabled" : "no_password";
}

function refusal(
  error: "invalid_grant" | "mfa_required" | "mfa_enrollment_required",
  description: string,
  statements: D1PreparedStatement[],
  retryAfterSeconds?: number,
): LoginResult {
  return { ok: false, error, description, statements, ...(retryAfterSeconds ? { retryAfterSeconds } : {}) };
}

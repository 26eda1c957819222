import type { ServiceContext } from "../../core/context";
import { hashPassword } from "../../core/crypto/password";
import { validationError } from "../../core/http/validation";
import { securityPolicyOf } from "../security-policy/security-policy.service";

/** Length as a person counts it: Unicode code points, so an emoji or an accented letter is one character. */
export function passwordLength(password: string): number {
  return [...password].length;
}

/**
 * Checks a new password against the tenant's policy (within the API's global 8–256, which the request schema
 * already enforced) and throws a 400 naming `field` when it falls outside. Bad input changes nothing.
 */
export async function assertPasswordPolicy(ctx: ServiceContext, password: string, field = "password"): Promise<void> {
  const { minLength, maxLength } = (await securityPolicyOf(ctx.env, ctx.scope)).password;
  const length = passwordLength(password);
  if (length < minLength) {
    throw validationError([
      { field, code: "too_short", detail: `At least ${minLength} characters (this tenant's policy); got ${length}.` },
    ]);
  }
  if (length > maxLength) {
    throw validationError([
      { field, code: "too_long", detail: `At most ${maxLength} characters (this tenant's policy); got ${length}.` },
    ]);
  }
}

/** A new password, checked against the tenant's policy, then hashed (scrypt + pepper). */
export async function hashNewPassword(ctx: ServiceContext, password: string, field = "password"): Promise<string> {
  await assertPasswordPolicy(ctx, password, field);
  return hashPassword(ctx.env, password);
}

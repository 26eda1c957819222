import type { ServiceContext } from "../../core/context";
import { open, seal } from "../../core/crypto/sealed-box";
import { matchingStep } from "../../core/crypto/totp";
import type { TotpRow } from "./mfa.repo";

const SECRET_PURPOSE = "uom/totp-secret/v1";

/** The key context of a user's TOTP secret: the tenant and the user, so a sealed secret moved elsewhere won't open. */
function secretContext(ctx: Pick<ServiceContext, "scope">, userId: string): string {
  return `${ctx.scope}\u0000${userId}`;
}

export function sealTotpSecret(ctx: Pick<ServiceContext, "env" | "scope">, userId: string, secret: string) {
  return seal(ctx.env.MASTER_KEY, SECRET_PURPOSE, secretContext(ctx, userId), secret);
}

/**
 * The time step `code` proves for this enrolment (±1 step, strictly after the last step accepted, compared in
 * constant time), or null. Whoever accepts it records the step with a guard, so the code works once.
 */
export async function stepOfCode(
  ctx: Pick<ServiceContext, "env" | "scope">,
  enrolment: TotpRow,
  code: string,
  nowMs = Date.now(),
): Promise<number | null> {
  const secret = await open(
    ctx.env.MASTER_KEY,
    SECRET_PURPOSE,
    secretContext(ctx, enrolment.userId),
    enrolment.secretSealed,
  );
  return matchingStep(secret, code, nowMs, enrolment.lastStep);
}

import { createHmac } from "node:crypto";
import { beginAttempt, type ThrottledAttempt, type ThrottleTarget } from "../../core/auth/throttle";
import { longLivedKeyBytes } from "../../core/crypto/master-key";
import { ipBucket } from "../../core/http/client-address";
import { normalizeEmail, normalizeUsername } from "../users/users.mapping";

const IDENTIFIER_PURPOSE = "uom/login-throttle/v1";

/**
 * The account a login guesses at, named by a keyed hash of its normalized identifier (normalized as the user
 * lookup does, so `Ada@Example.com` and `ada@example.com` share one count). It does not depend on whether the
 * account exists, so a lockout reveals nothing; keyed, so the name is no dictionary-reversible email hash.
 */
export async function accountThrottleName(env: Env, tenantId: string, identifier: string) {
  const normalized = identifier.includes("@") ? normalizeEmail(identifier) : (normalizeUsername(identifier) ?? "");
  const hash = createHmac("sha256", await longLivedKeyBytes(env.MASTER_KEY, IDENTIFIER_PURPOSE))
    .update(normalized)
    .digest("hex");
  return `login:${tenantId}:${hash}` as const;
}

/** Begins a login attempt against its account's throttle and its client IP's (when the IP is known). */
export async function beginLoginAttempt(
  env: Env,
  tenantId: string,
  identifier: string,
  ip: string | null,
): Promise<ThrottledAttempt> {
  const targets: ThrottleTarget[] = [
    { name: await accountThrottleName(env, tenantId, identifier), kind: "account", onSuccess: "reset" },
  ];
  if (ip) targets.push({ name: `ip:${tenantId}:${ipBucket(ip)}`, kind: "ip", onSuccess: "release" });
  return beginAttempt(env, targets);
}

import { z } from "@hono/zod-openapi";
import { PLAN_CONFIG, type Plan } from "../plans";

/**
 * Rate-limit policies (docs/rate-limits.md). A credential's requests are limited by one policy: its API key's own,
 * else its tenant's, else its plan's default — clamped to the plan's maximum, then multiplied by a campaign boost
 * while one runs. The bucket is the credential's (one per API key, OAuth client or signed-in user), so the check
 * is part of the one Durable Object call each authenticated request already makes.
 */
export const RATE_LIMIT_ALGORITHMS = ["token-bucket", "sliding-window"] as const;
export type RateLimitAlgorithm = (typeof RATE_LIMIT_ALGORITHMS)[number];

export interface RatePolicy {
  algorithm: RateLimitAlgorithm;
  /** Token bucket: its capacity. Sliding window: the requests one window admits. */
  burst: number;
  /** Token bucket: tokens added per second. Sliding window: the window is burst / ratePerSecond seconds long. */
  ratePerSecond: number;
}

/** Where the policy in force came from; also its name in the RateLimit-Policy header. */
export type PolicySource = "plan" | "tenant" | "api-key" | "ip";

/** The policy a request is checked against. */
export interface AppliedPolicy extends RatePolicy {
  name: PolicySource;
  /** The campaign boost's multiplier, when one is running. */
  boost?: number;
}

/** Smallest steady rate a policy may have: one request per 1000 s. */
export const MIN_RATE_PER_SECOND = 0.001;
export const MAX_BOOST_MULTIPLIER = 5;
export const MAX_BOOST_HOURS = 7 * 24;

export const StoredPolicySchema = z.object({
  algorithm: z.enum(RATE_LIMIT_ALGORITHMS),
  burst: z.number().int().min(1),
  ratePerSecond: z.number().min(MIN_RATE_PER_SECOND),
});

const BoostSchema = z.object({
  multiplier: z.number().gt(1).max(MAX_BOOST_MULTIPLIER),
  startsAt: z.string(),
  endsAt: z.string(),
});
export type Boost = z.infer<typeof BoostSchema>;

/** The `rate_limits` column of a tenant row (CONTROL_DB): its own policy and its campaign boost, both optional. */
export const TenantRateLimitsSchema = z.object({
  policy: StoredPolicySchema.optional(),
  boost: BoostSchema.optional(),
});
export type TenantRateLimits = z.infer<typeof TenantRateLimitsSchema>;

/** Stored JSON → limits; anything unreadable counts as "none set", so a bad row never locks a tenant out. */
export function parseTenantRateLimits(raw: string | null | undefined): TenantRateLimits {
  if (!raw) return {};
  const parsed = TenantRateLimitsSchema.safeParse(JSON.parse(raw));
  return parsed.success ? parsed.data : {};
}

export function parseKeyPolicy(raw: string | null | undefined): RatePolicy | null {
  if (!raw) return null;
  const parsed = StoredPolicySchema.safeParse(JSON.parse(raw));
  return parsed.success ? parsed.data : null;
}

export function activeBoost(limits: TenantRateLimits, now = Date.now()): Boost | null {
  const boost = limits.boost;
  return boost && Date.parse(boost.startsAt) <= now && now < Date.parse(boost.endsAt) ? boost : null;
}

/** The plan's default policy (a token bucket). */
export function planDefault(plan: Plan): RatePolicy {
  return { algorithm: "token-bucket", ...PLAN_CONFIG[plan].rateLimits.default };
}

/** The policy in force for a credential of a tenant on `plan`. */
export function appliedPolicy(
  plan: Plan,
  limits: TenantRateLimits,
  keyPolicy: RatePolicy | null,
  now = Date.now(),
): AppliedPolicy {
  const { max } = PLAN_CONFIG[plan].rateLimits;
  const [name, chosen]: [PolicySource, RatePolicy] = keyPolicy
    ? ["api-key", keyPolicy]
    : limits.policy
      ? ["tenant", limits.policy]
      : ["plan", planDefault(plan)];
  // a policy set under a larger plan stays stored, but a downgrade's bounds apply at once
  const burst = Math.min(chosen.burst, max.burst);
  const ratePerSecond = Math.min(chosen.ratePerSecond, max.ratePerSecond);
  const boost = activeBoost(limits, now);
  if (!boost) return { name, algorithm: chosen.algorithm, burst, ratePerSecond };
  return {
    name,
    algorithm: chosen.algorithm,
    burst: Math.floor(burst * boost.multiplier),
    ratePerSecond: ratePerSecond * boost.multiplier,
    boost: boost.multiplier,
  };
}

/** The per-client-IP policy of the endpoints that take no credential (token, password reset, …). */
export function ipPolicy(env: Env): AppliedPolicy {
  return {
    name: "ip",
    algorithm: "token-bucket",
    burst: Number(env.IP_RATE_LIMIT_BURST ?? 200),
    ratePerSecond: Number(env.IP_RATE_LIMIT_PER_SECOND ?? 50),
  };
}

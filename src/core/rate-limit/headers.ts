import { ApiError, CoreErrors } from "../errors";
import type { RateDecision } from "./bucket";

/**
 * The IETF httpapi RateLimit fields (draft-ietf-httpapi-ratelimit-headers, structured-field Lists, RFC 9651):
 * `RateLimit-Policy: "tenant";q=200;w=4` — the policy's quota (q requests per w seconds), and
 * `RateLimit: "tenant";r=150;t=1` — r requests left, t seconds until the quota is whole again.
 * A token bucket's quota is its burst, refilled over burst / ratePerSecond seconds.
 */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  const { policy } = decision;
  const window = Math.max(1, Math.round(policy.burst / policy.ratePerSecond));
  return {
    "RateLimit-Policy": `"${policy.name}";q=${policy.burst};w=${window}`,
    RateLimit: `"${policy.name}";r=${decision.remaining};t=${decision.resetSeconds}`,
  };
}

/** 429 RATE_LIMITED, naming the policy it broke, with Retry-After and the RateLimit fields. */
export function rateLimited(decision: RateDecision): ApiError {
  const { policy } = decision;
  const boost = policy.boost ? ` (boosted ×${policy.boost})` : "";
  return new ApiError(CoreErrors.RATE_LIMITED, {
    detail:
      `The ${policy.name} rate limit${boost} admits ${policy.burst} requests at once and ${policy.ratePerSecond} ` +
      `per second after that (${policy.algorithm}); retry in ${decision.retryAfterSeconds} s.`,
    extensions: {
      retryAfterSeconds: decision.retryAfterSeconds,
      policy: {
        name: policy.name,
        algorithm: policy.algorithm,
        burst: policy.burst,
        ratePerSecond: policy.ratePerSecond,
        ...(policy.boost ? { boost: policy.boost } : {}),
      },
    },
    headers: { ...rateLimitHeaders(decision), "Retry-After": String(decision.retryAfterSeconds) },
  });
}

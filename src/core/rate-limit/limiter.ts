import type { CredentialProbe, CredentialVerdict } from "../../durable-objects/credential-state";
import { credentialGuard, type GuardName, rateLimiterObject } from "../auth/guard";
import { ApiError, CoreErrors } from "../errors";
import type { RateDecision } from "./bucket";
import type { AppliedPolicy } from "./policy";
import { takeUpstash } from "./upstash";

/**
 * Where buckets live (docs/rate-limits.md, "Backends and failure"):
 * - `durable-object` (the default): in the credential's `RATE_LIMITER` object, decided in the same call that checks
 *   revocation. Should that object be unreachable the request fails, limit and revocation alike (fail closed): a
 *   revocation that may not be checked must not be waved through.
 * - `upstash`: in Redis through `@upstash/ratelimit`, beside the revocation call (in parallel). When Redis cannot be
 *   reached, RATE_LIMIT_FAILURE decides: `open` (the default) lets the request through unlimited and logs it,
 *   `closed` answers 503 RATE_LIMITER_UNAVAILABLE.
 */
export type WaitUntil = (promise: Promise<unknown>) => void;

const useUpstash = (env: Env) => env.RATE_LIMIT_BACKEND === "upstash";

/** TRAFFIC_CONTROL=off (benchmarks only): no rate limits, no usage metering. */
export const trafficControlOff = (env: Env) => env.TRAFFIC_CONTROL === "off";

/** The credential's verdict and, when it is good, the request's rate decision (none: the limiter failed open). */
export async function checkCredential(
  env: Env,
  name: GuardName,
  probe: CredentialProbe,
  limit: AppliedPolicy,
  waitUntil: WaitUntil,
): Promise<{ verdict: CredentialVerdict; rate?: RateDecision }> {
  const guard = credentialGuard(env, name);
  if (trafficControlOff(env)) return { verdict: await guard.check(probe) };
  if (!useUpstash(env)) {
    const { rate, ...verdict } = await guard.check(probe, limit);
    return rate ? { verdict, rate } : { verdict };
  }
  const [verdict, rate] = await Promise.all([guard.check(probe), upstashOrFailure(env, name, limit, waitUntil)]);
  return rate && verdict.ok ? { verdict, rate } : { verdict };
}

/** One request of a client address against its bucket (`ip-rate:<address>`). */
export async function takeForAddress(
  env: Env,
  address: string,
  limit: AppliedPolicy,
  waitUntil: WaitUntil,
): Promise<RateDecision | undefined> {
  const name = `ip-rate:${address}`;
  if (useUpstash(env)) return upstashOrFailure(env, name, limit, waitUntil);
  return rateLimiterObject(env, name).take(limit);
}

async function upstashOrFailure(
  env: Env,
  identifier: string,
  limit: AppliedPolicy,
  waitUntil: WaitUntil,
): Promise<RateDecision | undefined> {
  try {
    return await takeUpstash(env, identifier, limit, waitUntil);
  } catch (error) {
    if (env.RATE_LIMIT_FAILURE === "closed") {
      throw new ApiError(CoreErrors.RATE_LIMITER_UNAVAILABLE, {
        detail: "The rate limiter cannot be reached; the request was not served (RATE_LIMIT_FAILURE=closed).",
        headers: { "Retry-After": "1" },
        cause: error,
      });
    }
    if (env.LOG_LEVEL !== "silent") {
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "rate limiter unreachable; request let through (RATE_LIMIT_FAILURE=open)",
          time: new Date().toISOString(),
          error: error instanceof Error ? error.message : String(error),
        }),
      );
    }
    return undefined;
  }
}

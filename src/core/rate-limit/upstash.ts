import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis/cloudflare";
import type { RateDecision } from "./bucket";
import type { AppliedPolicy } from "./policy";

/**
 * The optional backend (`RATE_LIMIT_BACKEND=upstash`): buckets in an Upstash Redis through `@upstash/ratelimit`,
 * for deployments that want the limits in a store of their own. Clients and limiters live at module scope, one per
 * URL and policy, so a warm isolate reuses them (and the library's cache of identifiers known to be blocked).
 */
const clients = new Map<string, Redis>();
const limiters = new Map<string, Ratelimit>();
const MAX_LIMITERS = 1_000;

function redisOf(env: Env): Redis {
  const url = env.UPSTASH_REDIS_REST_URL ?? "";
  const id = `${url}|${env.UPSTASH_REDIS_REST_TOKEN}`;
  let client = clients.get(id);
  if (!client) {
    client = new Redis({
      url,
      token: env.UPSTASH_REDIS_REST_TOKEN ?? "",
      // one request's failure is its own: no retries (the failure mode answers at once), and no batching of
      // different requests' commands into one fetch (a Worker may not settle one request's I/O in another's)
      retry: false,
      enableAutoPipelining: false,
    });
    clients.set(id, client);
  }
  return client;
}

/** The library's token bucket refills `refillRate` tokens per interval: whole tokens, so a slow rate is 1 per n ms. */
function algorithmOf(policy: AppliedPolicy) {
  if (policy.algorithm === "sliding-window") {
    return Ratelimit.slidingWindow(
      policy.burst,
      `${Math.max(1, Math.round((policy.burst / policy.ratePerSecond) * 1000))} ms`,
    );
  }
  return Number.isInteger(policy.ratePerSecond)
    ? Ratelimit.tokenBucket(policy.ratePerSecond, "1 s", policy.burst)
    : Ratelimit.tokenBucket(1, `${Math.max(1, Math.round(1000 / policy.ratePerSecond))} ms`, policy.burst);
}

function limiterOf(env: Env, policy: AppliedPolicy): Ratelimit {
  const id = `${env.UPSTASH_REDIS_REST_URL}|${env.UPSTASH_REDIS_REST_TOKEN}|${policy.algorithm}|${policy.burst}|${policy.ratePerSecond}`;
  let limiter = limiters.get(id);
  if (!limiter) {
    if (limiters.size >= MAX_LIMITERS) limiters.delete(limiters.keys().next().value as string);
    limiter = new Ratelimit({
      redis: redisOf(env),
      limiter: algorithmOf(policy),
      // one bucket per credential and policy: a changed policy starts a fresh bucket, as the library keys it
      prefix: `uom:rl:${policy.algorithm}:${policy.burst}:${policy.ratePerSecond}`,
      analytics: false,
      // a timeout is an error here: the failure mode (RATE_LIMIT_FAILURE) decides, not the library
      timeout: 0,
    });
    limiters.set(id, limiter);
  }
  return limiter;
}

/** One request against the credential's (or address's) bucket in Redis; throws when Redis cannot be reached. */
export async function takeUpstash(
  env: Env,
  identifier: string,
  policy: AppliedPolicy,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<RateDecision> {
  const result = await limiterOf(env, policy).limit(identifier);
  waitUntil(result.pending);
  const untilReset = Math.max(0, Math.ceil((result.reset - Date.now()) / 1000));
  return {
    allowed: result.success,
    policy,
    remaining: Math.max(0, result.remaining),
    resetSeconds: untilReset,
    retryAfterSeconds: result.success ? 0 : Math.max(1, untilReset),
  };
}

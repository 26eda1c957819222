import type { AttemptVerdict, ThrottleKind } from "../../durable-objects/login-throttle";
import { rateLimiterObject } from "./guard";

/**
 * Brute-force throttles: the `RATE_LIMITER` Durable Objects that count guesses at one thing (logic and policy
 * in durable-objects/login-throttle.ts). Names: `login:<tenantId>:<HMAC of the normalized identifier>`,
 * `ip:<tenantId>:<address, or its /64 for IPv6>`, `mfa:<tenantId>:<userId>`.
 */
export type ThrottleName = `login:${string}:${string}` | `ip:${string}:${string}` | `mfa:${string}:${string}`;

export function throttleGuard(env: Env, name: ThrottleName) {
  return rateLimiterObject(env, name);
}

export interface ThrottleTarget {
  name: ThrottleName;
  kind: ThrottleKind;
  /** What a success does: `reset` the count (the account guessed at), or `release` this attempt only (an IP). */
  onSuccess: "reset" | "release";
}

/**
 * One attempt, counted against every target at once (each counts it as a failure until it is settled). A
 * failure needs no further call: it was counted when it began.
 */
export interface ThrottledAttempt {
  /** Refused without being counted: the seconds until the longest lock ends. */
  retryAfterSeconds: number | null;
  /** The lock (seconds) this attempt started, should it fail. */
  lockSecondsIfFailed: number | null;
  succeeded(): Promise<void>;
  /** Neither a success nor a failure (a second factor was asked for): takes the count back. */
  released(): Promise<void>;
}

export async function beginAttempt(env: Env, targets: readonly ThrottleTarget[]): Promise<ThrottledAttempt> {
  const guards = targets.map((target) => throttleGuard(env, target.name));
  const verdicts: AttemptVerdict[] = await Promise.all(
    guards.map((guard, i) => guard.throttleBegin((targets[i] as ThrottleTarget).kind)),
  );
  const release = () =>
    Promise.all(
      verdicts.map((verdict, i) =>
        verdict.allowed ? guards[i]?.throttleRelease(verdict.lockedUntilIfFailed) : undefined,
      ),
    ).then(() => undefined);
  const refusals = verdicts.flatMap((v) => (v.allowed ? [] : [v.retryAfterSeconds]));
  if (refusals.length > 0) {
    // refused attempts are not counted anywhere: take back what the other targets counted
    await release();
    return {
      retryAfterSeconds: Math.max(...refusals),
      lockSecondsIfFailed: null,
      succeeded: release,
      released: release,
    };
  }
  const lock = Math.max(0, ...verdicts.map((v) => (v.allowed ? v.lockSecondsIfFailed : 0)));
  return {
    retryAfterSeconds: null,
    lockSecondsIfFailed: lock > 0 ? lock : null,
    succeeded: () =>
      Promise.all(
        verdicts.map((verdict, i) => {
          if (!verdict.allowed) return undefined;
          return (targets[i] as ThrottleTarget).onSuccess === "reset"
            ? guards[i]?.throttleReset()
            : guards[i]?.throttleRelease(verdict.lockedUntilIfFailed);
        }),
      ).then(() => undefined),
    released: release,
  };
}

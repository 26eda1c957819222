import type { SyncKv } from "./credential-state";

/**
 * Brute-force throttling of logins (and of second-factor codes), one Durable Object per thing guessed at: an
 * account (`login:<tenant>:<HMAC of the identifier>`), a client IP (`ip:<tenant>:<ip>`), a user's second factor
 * (`mfa:<tenant>:<user>`). A Durable Object runs one call at a time, so the count is exact under concurrency.
 *
 * Every attempt is counted as a failure the moment it begins (`begin`), before the password is checked: a
 * hundred concurrent guesses cannot all slip past the check-then-record gap. The attempt is then settled:
 * a success `reset`s the count (accounts) or `release`s the provisional failure (an IP: a success from a shared
 * address must not unlock another account's guesser); an outcome that is no failure (a second factor asked for)
 * `release`s it; a real failure leaves it standing, so a failure costs one call.
 *
 * Policy: the first `freeFailures` consecutive failures cost nothing; the n-th after them locks for 2^(n-free) s,
 * at most `maxLockSeconds`. While locked, attempts are refused without being counted (an attacker hammering a
 * locked account neither extends the lock nor costs a write). Failures are forgotten `forgetAfterMs` after the last.
 */
export interface ThrottlePolicy {
  freeFailures: number;
  maxLockSeconds: number;
  forgetAfterMs: number;
}

export type ThrottleKind = "account" | "ip";

const HOUR_MS = 3_600_000;

export const THROTTLE_POLICIES: Readonly<Record<ThrottleKind, ThrottlePolicy>> = {
  account: { freeFailures: 5, maxLockSeconds: 15 * 60, forgetAfterMs: 24 * HOUR_MS },
  // many people can share an address (offices, carrier NAT): generous, and only ever counts failures
  ip: { freeFailures: 50, maxLockSeconds: 15 * 60, forgetAfterMs: HOUR_MS },
};

export type AttemptVerdict =
  | {
      allowed: true;
      /** The lock this attempt set provisionally (ms since the epoch): it holds if the attempt fails. */
      lockedUntilIfFailed: number | null;
      /** That lock's length in seconds (0: none). */
      lockSecondsIfFailed: number;
      /** When this object's state may be dropped (for the purge alarm). */
      forgetAt: number;
    }
  | { allowed: false; retryAfterSeconds: number };

interface ThrottleState {
  /** Consecutive failures, the attempts in flight included. */
  failures: number;
  /** 0: not locked. */
  lockedUntil: number;
  forgetAt: number;
}

const STATE = "throttle";

/** The lock the n-th consecutive failure sets, in seconds (0: none). */
export function lockSeconds(failures: number, policy: ThrottlePolicy): number {
  const over = failures - policy.freeFailures;
  return over <= 0 ? 0 : Math.min(2 ** over, policy.maxLockSeconds);
}

export class LoginThrottle {
  constructor(private readonly kv: SyncKv) {}

  begin(policy: ThrottlePolicy, now = Date.now()): AttemptVerdict {
    const state = this.current(now);
    if (state.lockedUntil > now) {
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((state.lockedUntil - now) / 1000)) };
    }
    const failures = state.failures + 1;
    const lock = lockSeconds(failures, policy);
    const lockedUntil = lock > 0 ? now + lock * 1000 : 0;
    const forgetAt = now + policy.forgetAfterMs;
    this.kv.put<ThrottleState>(STATE, { failures, lockedUntil, forgetAt });
    return { allowed: true, lockedUntilIfFailed: lockedUntil || null, lockSecondsIfFailed: lock, forgetAt };
  }

  /** The attempt succeeded: the account starts afresh. */
  reset(): void {
    this.kv.delete(STATE);
  }

  /**
   * The attempt was no failure: take back its provisional count, and the lock it set — unless that lock is no
   * longer the one it set (it expired and another attempt set a new one).
   */
  release(lockedUntilSet: number | null): void {
    const state = this.kv.get<ThrottleState>(STATE);
    if (!state) return;
    const failures = Math.max(0, state.failures - 1);
    const lockedUntil = lockedUntilSet !== null && state.lockedUntil === lockedUntilSet ? 0 : state.lockedUntil;
    if (failures === 0 && lockedUntil === 0) this.kv.delete(STATE);
    else this.kv.put<ThrottleState>(STATE, { ...state, failures, lockedUntil });
  }

  /** Drops forgotten state; returns when the state left will be forgotten, if any. */
  purge(now = Date.now()): number | undefined {
    const state = this.kv.get<ThrottleState>(STATE);
    if (!state) return undefined;
    if (state.forgetAt > now) return state.forgetAt;
    this.kv.delete(STATE);
    return undefined;
  }

  private current(now: number): ThrottleState {
    const state = this.kv.get<ThrottleState>(STATE);
    return state && state.forgetAt > now ? state : { failures: 0, lockedUntil: 0, forgetAt: 0 };
  }
}

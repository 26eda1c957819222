import type { SyncKv } from "../../durable-objects/credential-state";
import type { AppliedPolicy } from "./policy";

/**
 * One rate-limit bucket, kept in a Durable Object's storage. A Durable Object runs one call at a time, so with N
 * concurrent requests against a limit of L at most L are admitted. Two algorithms:
 * - token bucket: `burst` tokens at most, `ratePerSecond` added continuously; a request takes one;
 * - sliding window: at most `burst` requests in any window of burst / ratePerSecond seconds, estimated from the
 *   current and the previous fixed window (the previous one weighted by how much of it the window still covers).
 */
export interface RateDecision {
  allowed: boolean;
  policy: AppliedPolicy;
  /** Requests left now (after this one, when admitted). */
  remaining: number;
  /** Seconds until the bucket is whole again. */
  resetSeconds: number;
  /** Refused: seconds until a request would be admitted. */
  retryAfterSeconds: number;
}

interface Stored {
  /** When the bucket is whole again, after which the state no longer matters (the purge alarm drops it). */
  forgetAt: number;
}

interface TokenState extends Stored {
  kind: "token-bucket";
  tokens: number;
  at: number;
}

interface WindowState extends Stored {
  kind: "sliding-window";
  windowMs: number;
  /** Start of the current fixed window (a multiple of windowMs). */
  start: number;
  current: number;
  previous: number;
}

const STATE = "rate";
const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

export class RateBucket {
  constructor(private readonly kv: SyncKv) {}

  /** One request against the bucket; `purgeAt` is set when this request created it (for the purge alarm). */
  take(policy: AppliedPolicy, now = Date.now()): { decision: RateDecision; purgeAt?: number } {
    const state = this.kv.get<TokenState | WindowState>(STATE);
    const decision =
      policy.algorithm === "token-bucket"
        ? this.takeToken(policy, state?.kind === "token-bucket" ? state : undefined, now)
        : this.takeWindow(policy, state?.kind === "sliding-window" ? state : undefined, now);
    if (state) return { decision };
    return { decision, purgeAt: this.kv.get<Stored>(STATE)?.forgetAt ?? now };
  }

  /** Drops a bucket that is whole again; returns when the one left will be, if any. */
  purge(now = Date.now()): number | undefined {
    const state = this.kv.get<Stored>(STATE);
    if (!state) return undefined;
    if (state.forgetAt > now) return state.forgetAt;
    this.kv.delete(STATE);
    return undefined;
  }

  private takeToken(policy: AppliedPolicy, state: TokenState | undefined, now: number): RateDecision {
    const rate = policy.ratePerSecond / 1000;
    const before = Math.min(policy.burst, state ? state.tokens + Math.max(0, now - state.at) * rate : policy.burst);
    const allowed = before >= 1;
    const tokens = allowed ? before - 1 : before;
    this.kv.put<TokenState>(STATE, {
      kind: "token-bucket",
      tokens,
      at: now,
      forgetAt: Math.ceil(now + (policy.burst - tokens) / rate),
    });
    return {
      allowed,
      policy,
      remaining: Math.floor(tokens),
      resetSeconds: seconds((policy.burst - tokens) / rate),
      retryAfterSeconds: allowed ? 0 : Math.max(1, seconds((1 - tokens) / rate)),
    };
  }

  private takeWindow(policy: AppliedPolicy, state: WindowState | undefined, now: number): RateDecision {
    const windowMs = Math.max(1, Math.round((policy.burst / policy.ratePerSecond) * 1000));
    const start = now - (now % windowMs);
    let current = 0;
    let previous = 0;
    if (state && state.windowMs === windowMs) {
      if (state.start === start) ({ current, previous } = state);
      else if (state.start === start - windowMs) previous = state.current;
    }
    const covered = 1 - (now - start) / windowMs;
    const used = previous * covered + current;
    const allowed = used + 1 <= policy.burst;
    if (allowed) current += 1;
    const end = start + windowMs;
    // the estimate falls to zero once the current window has slid out too
    const wholeAt = current > 0 ? end + windowMs : previous > 0 ? end : now;
    this.kv.put<WindowState>(STATE, { kind: "sliding-window", windowMs, start, current, previous, forgetAt: wholeAt });
    return {
      allowed,
      policy,
      remaining: Math.max(0, Math.floor(policy.burst - (previous * covered + current))),
      resetSeconds: seconds(wholeAt - now),
      retryAfterSeconds: allowed
        ? 0
        : Math.max(1, seconds(admitsAgainAt(policy.burst, windowMs, start, current, previous) - now)),
    };
  }
}

/** When the window's estimate first leaves room for one more request. */
function admitsAgainAt(burst: number, windowMs: number, start: number, current: number, previous: number): number {
  // within this window: previous * (1 - f) + current + 1 <= burst
  if (current + 1 <= burst && previous > 0) {
    const f = 1 - (burst - 1 - current) / previous;
    return start + Math.ceil(f * windowMs);
  }
  // in the next window, where this window's count is the previous one: current * (1 - f) + 1 <= burst
  const f = current > 0 ? 1 - (burst - 1) / current : 0;
  return start + windowMs + Math.ceil(Math.max(0, f) * windowMs);
}

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
  /** When the bucket is whole again, after which its state no longer matters (dropped IDLE_MS later). */
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
/**
 * A whole bucket is forgotten only after resting this long: a busy one is whole again a moment after each request
 * (at 10,000 a second, a tenth of a millisecond), and dropping it each time would cost a write and an alarm per
 * request.
 */
const IDLE_MS = 10 * 60_000;
const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

type State = TokenState | WindowState;

/**
 * The state lives in the object's memory, where every request reads and changes it (a Durable Object runs one call
 * at a time: exact); it is written to storage at most every `persistEveryMs` (a write per request would cost a
 * commit per request), and a take left unwritten asks for a flush within that time (`flushAt`, the object's alarm).
 * A restart loses at most the takes of that last interval. `persistEveryMs` 0 writes on every take.
 */
export class RateBucket {
  #state: State | undefined;
  #loaded = false;
  #dirty = false;
  #persistedAt = 0;

  constructor(
    private readonly kv: SyncKv,
    private readonly persistEveryMs = 0,
  ) {}

  /**
   * One request against the bucket. `purgeAt`: this request created the bucket (the alarm drops it once it rests);
   * `flushAt`: this request left the state unwritten (the alarm writes it by then).
   */
  take(policy: AppliedPolicy, now = Date.now()): { decision: RateDecision; purgeAt?: number; flushAt?: number } {
    const state = this.#current();
    const { decision, next } =
      policy.algorithm === "token-bucket"
        ? this.takeToken(policy, state?.kind === "token-bucket" ? state : undefined, now)
        : this.takeWindow(policy, state?.kind === "sliding-window" ? state : undefined, now);
    const wasDirty = this.#dirty;
    this.#state = next;
    this.#dirty = true;
    if (now - this.#persistedAt >= this.persistEveryMs) this.flush(now);
    return {
      decision,
      ...(state ? {} : { purgeAt: next.forgetAt + IDLE_MS }),
      ...(this.#dirty && !wasDirty ? { flushAt: this.#persistedAt + this.persistEveryMs } : {}),
    };
  }

  /** Writes the state if a take left it unwritten. */
  flush(now = Date.now()): void {
    if (this.#dirty && this.#state) this.kv.put(STATE, this.#state);
    this.#dirty = false;
    this.#persistedAt = now;
  }

  /** Drops a bucket that has been whole for IDLE_MS; returns when the one left may be dropped, if any. */
  purge(now = Date.now()): number | undefined {
    this.flush(now);
    const state = this.#current();
    if (!state) return undefined;
    if (state.forgetAt + IDLE_MS > now) return state.forgetAt + IDLE_MS;
    this.kv.delete(STATE);
    this.#state = undefined;
    return undefined;
  }

  #current(): State | undefined {
    if (!this.#loaded) {
      this.#state = this.kv.get<State>(STATE);
      this.#loaded = true;
    }
    return this.#state;
  }

  private takeToken(
    policy: AppliedPolicy,
    state: TokenState | undefined,
    now: number,
  ): { decision: RateDecision; next: State } {
    const rate = policy.ratePerSecond / 1000;
    const before = Math.min(policy.burst, state ? state.tokens + Math.max(0, now - state.at) * rate : policy.burst);
    const allowed = before >= 1;
    const tokens = allowed ? before - 1 : before;
    const next: TokenState = {
      kind: "token-bucket",
      tokens,
      at: now,
      forgetAt: Math.ceil(now + (policy.burst - tokens) / rate),
    };
    const decision = {
      allowed,
      policy,
      remaining: Math.floor(tokens),
      resetSeconds: seconds((policy.burst - tokens) / rate),
      retryAfterSeconds: allowed ? 0 : Math.max(1, seconds((1 - tokens) / rate)),
    };
    return { decision, next };
  }

  private takeWindow(
    policy: AppliedPolicy,
    state: WindowState | undefined,
    now: number,
  ): { decision: RateDecision; next: State } {
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
    const next: WindowState = { kind: "sliding-window", windowMs, start, current, previous, forgetAt: wholeAt };
    const decision = {
      allowed,
      policy,
      remaining: Math.max(0, Math.floor(policy.burst - (previous * covered + current))),
      resetSeconds: seconds(wholeAt - now),
      retryAfterSeconds: allowed
        ? 0
        : Math.max(1, seconds(admitsAgainAt(policy.burst, windowMs, start, current, previous) - now)),
    };
    return { decision, next };
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

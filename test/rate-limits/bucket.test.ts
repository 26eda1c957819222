import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { RateBucket } from "../../src/core/rate-limit/bucket";
import type { AppliedPolicy } from "../../src/core/rate-limit/policy";

/** The two algorithms on a real Durable Object's storage, with the clock in the test's hands. */

const T0 = Date.parse("2026-11-28T00:00:00.000Z");

function inBucket<T>(run: (bucket: RateBucket) => T): Promise<T> {
  const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`ip-rate:bucket-test-${crypto.randomUUID()}`));
  return runInDurableObject(stub, (_instance, state) => run(new RateBucket(state.storage.kv)));
}

const tokenBucket = (burst: number, ratePerSecond: number): AppliedPolicy => ({
  name: "tenant",
  algorithm: "token-bucket",
  burst,
  ratePerSecond,
});
const window = (burst: number, ratePerSecond: number): AppliedPolicy => ({
  name: "tenant",
  algorithm: "sliding-window",
  burst,
  ratePerSecond,
});

describe("token bucket", () => {
  it("starts full, empties, refills continuously, and says when to retry and when it is whole", () =>
    inBucket((bucket) => {
      const policy = tokenBucket(4, 2);
      const taken = [0, 0, 0, 0, 0].map(() => bucket.take(policy, T0).decision);
      expect(taken.map((d) => d.allowed)).toEqual([true, true, true, true, false]);
      expect(taken.map((d) => d.remaining)).toEqual([3, 2, 1, 0, 0]);
      expect(taken[4]).toMatchObject({ retryAfterSeconds: 1, resetSeconds: 2 });
      // half a second later one token is back
      expect(bucket.take(policy, T0 + 500).decision).toMatchObject({ allowed: true, remaining: 0 });
      expect(bucket.take(policy, T0 + 500).decision.allowed).toBe(false);
      // never more than the burst, however long it rests
      expect(bucket.take(policy, T0 + 3_600_000).decision.remaining).toBe(3);
    }));

  it("a smaller policy caps what the bucket holds; a refused request takes nothing", () =>
    inBucket((bucket) => {
      bucket.take(tokenBucket(100, 1), T0);
      expect(bucket.take(tokenBucket(3, 1), T0).decision.remaining).toBe(2);
      bucket.take(tokenBucket(3, 1), T0);
      bucket.take(tokenBucket(3, 1), T0);
      expect(bucket.take(tokenBucket(3, 1), T0).decision.allowed).toBe(false);
      expect(bucket.take(tokenBucket(3, 1), T0 + 999).decision.allowed).toBe(false);
      expect(bucket.take(tokenBucket(3, 1), T0 + 1_000).decision.allowed).toBe(true);
    }));
});

describe("sliding window", () => {
  it("admits the burst per window, weighting the previous window by how much of it still counts", () =>
    inBucket((bucket) => {
      // 10 requests per 10 s window
      const policy = window(10, 1);
      const start = T0 - (T0 % 10_000);
      for (let i = 0; i < 10; i++) expect(bucket.take(policy, start + 1_000).decision.allowed).toBe(true);
      const refused = bucket.take(policy, start + 1_000).decision;
      // room again once 10 × (1 - f) + 1 <= 10 in the next window: f = 0.1, 1 s into it
      expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 10 });
      expect(bucket.take(policy, start + 10_500).decision.allowed).toBe(false);
      // 3 s into the next window 70% of the previous one still counts: 7 used, room for 3
      const later = [0, 0, 0, 0].map(() => bucket.take(policy, start + 13_000).decision.allowed);
      expect(later).toEqual([true, true, true, false]);
    }));

  it("forgets a window two windows old", () =>
    inBucket((bucket) => {
      const policy = window(2, 1);
      bucket.take(policy, T0);
      bucket.take(policy, T0);
      expect(bucket.take(policy, T0).decision.allowed).toBe(false);
      expect(bucket.take(policy, T0 + 4_000).decision).toMatchObject({ allowed: true, remaining: 1 });
    }));
});

describe("purge", () => {
  it("drops a bucket ten minutes after it is whole again (a busy one is whole a moment after each request)", () =>
    inBucket((bucket) => {
      const rest = 10 * 60_000;
      const { purgeAt } = bucket.take(tokenBucket(10, 1), T0);
      expect(purgeAt).toBe(T0 + 1_000 + rest);
      expect(bucket.take(tokenBucket(10, 1), T0).purgeAt).toBeUndefined();
      expect(bucket.purge(T0 + 1_000 + rest)).toBe(T0 + 2_000 + rest);
      expect(bucket.purge(T0 + 2_000 + rest)).toBeUndefined();
      expect(bucket.take(tokenBucket(10, 1), T0 + 2_000 + rest).purgeAt).toBeDefined();
    }));
});

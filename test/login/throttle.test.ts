import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type ThrottleName, throttleGuard } from "../../src/core/auth/throttle";
import { ipBucket } from "../../src/core/http/client-address";
import { LoginThrottle, lockSeconds, THROTTLE_POLICIES } from "../../src/durable-objects/login-throttle";

/** The throttle Durable Objects themselves (real objects and storage), without passwords in the way. */

let counter = 0;
function freshName(): ThrottleName {
  counter++;
  return `login:ten_throttle_tests:${counter}-${crypto.randomUUID()}`;
}

async function lapse(name: ThrottleName) {
  await runInDurableObject(throttleGuard(env, name), (_instance, state) => {
    const stored = state.storage.kv.get<{ lockedUntil: number }>("throttle");
    if (stored) state.storage.kv.put("throttle", { ...stored, lockedUntil: Date.now() - 1 });
  });
}

describe("lockout policy", () => {
  it("lock lengths: none for five failures, then 2, 4, 8 … seconds, at most 15 minutes", () => {
    const lengths = Array.from({ length: 16 }, (_, i) => lockSeconds(i + 1, THROTTLE_POLICIES.account));
    expect(lengths).toEqual([0, 0, 0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
    expect(lockSeconds(50, THROTTLE_POLICIES.ip)).toBe(0);
    expect(lockSeconds(51, THROTTLE_POLICIES.ip)).toBe(2);
  });

  it("an account object: five attempts pass freely, the sixth passes but locks should it fail, the seventh is refused", async () => {
    const guard = throttleGuard(env, freshName());
    const verdicts = [];
    for (let i = 0; i < 7; i++) verdicts.push(await guard.throttleBegin("account"));
    expect(verdicts.slice(0, 5).every((v) => v.allowed && v.lockSecondsIfFailed === 0)).toBe(true);
    expect(verdicts[5]).toMatchObject({ allowed: true, lockSecondsIfFailed: 2 });
    expect(verdicts[6]).toMatchObject({ allowed: false });
    const refused = verdicts[6];
    if (refused?.allowed !== false) throw new Error("expected a refusal");
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(2);
  });

  it("refused attempts are not counted: the lock does not grow while an attacker hammers it", async () => {
    const name = freshName();
    const guard = throttleGuard(env, name);
    for (let i = 0; i < 6; i++) await guard.throttleBegin("account");
    for (let i = 0; i < 20; i++) expect((await guard.throttleBegin("account")).allowed).toBe(false);
    await lapse(name);
    expect(await guard.throttleBegin("account")).toMatchObject({ allowed: true, lockSecondsIfFailed: 4 });
  });

  it("exact under concurrency: of 20 attempts begun at once, six pass", async () => {
    const guard = throttleGuard(env, freshName());
    const verdicts = await Promise.all(Array.from({ length: 20 }, () => guard.throttleBegin("account")));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(6);
  });

  it("release takes an attempt back, with the lock it set; reset starts afresh", async () => {
    const name = freshName();
    const guard = throttleGuard(env, name);
    for (let i = 0; i < 5; i++) await guard.throttleBegin("account");
    const sixth = await guard.throttleBegin("account");
    if (!sixth.allowed) throw new Error("expected the sixth attempt to pass");
    await guard.throttleRelease(sixth.lockedUntilIfFailed);
    // not locked, and still five failures: the next attempt is the sixth again
    expect(await guard.throttleBegin("account")).toMatchObject({ allowed: true, lockSecondsIfFailed: 2 });
    await lapse(name);
    await guard.throttleReset();
    expect(await guard.throttleBegin("account")).toMatchObject({ allowed: true, lockSecondsIfFailed: 0 });
  });

  it("an IP object allows fifty failures before it locks", async () => {
    const guard = throttleGuard(env, `ip:ten_throttle_tests:${crypto.randomUUID()}`);
    for (let i = 0; i < 50; i++) expect(await guard.throttleBegin("ip")).toMatchObject({ lockSecondsIfFailed: 0 });
    expect(await guard.throttleBegin("ip")).toMatchObject({ allowed: true, lockSecondsIfFailed: 2 });
    expect((await guard.throttleBegin("ip")).allowed).toBe(false);
  });
});

describe("forgetting", () => {
  it("failures are forgotten a day after the last one, and the alarm drops the state", async () => {
    const name = freshName();
    const guard = throttleGuard(env, name);
    for (let i = 0; i < 6; i++) await guard.throttleBegin("account");
    const day = THROTTLE_POLICIES.account.forgetAfterMs;
    await runInDurableObject(guard, (_instance, state) => {
      const throttle = new LoginThrottle(state.storage.kv);
      const later = Date.now() + day + 1000;
      // a day later the count starts from nothing
      expect(throttle.begin(THROTTLE_POLICIES.account, later)).toMatchObject({ allowed: true, lockSecondsIfFailed: 0 });
      expect(throttle.purge(later)).toBe(later + day);
      expect(throttle.purge(later + day)).toBeUndefined();
      expect(state.storage.kv.get("throttle")).toBeUndefined();
    });
  });

  it("an alarm is set for the forget time; when it runs early it keeps the state", async () => {
    const guard = throttleGuard(env, freshName());
    await guard.throttleBegin("account");
    const alarm = await runInDurableObject(guard, (_instance, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + THROTTLE_POLICIES.account.forgetAfterMs - 60_000);
    expect(await runDurableObjectAlarm(guard)).toBe(true);
    const kept = await runInDurableObject(guard, (_instance, state) => state.storage.kv.get("throttle"));
    expect(kept).toMatchObject({ failures: 1 });
  });
});

describe("IP buckets", () => {
  it("IPv4 as is; IPv6 by its /64; IPv4-mapped IPv6 as IPv4", () => {
    expect(ipBucket("203.0.113.7")).toBe("203.0.113.7");
    expect(ipBucket("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(ipBucket("2001:0DB8:0001:0002::1")).toBe("2001:db8:1:2::/64");
    expect(ipBucket("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(ipBucket("::1")).toBe("0:0:0:0::/64");
    expect(ipBucket("::ffff:198.51.100.1")).toBe("198.51.100.1");
  });
});

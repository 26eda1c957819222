import fc from "fast-check";
import { generate } from "otplib";
import { describe, expect, it } from "vitest";
import { base32Decode, base32Encode, hotp, matchingStep, newTotpSecret, timeStep } from "../../src/core/crypto/totp";

const RFC_SECRET = new TextEncoder().encode("12345678901234567890");

describe("TOTP core", () => {
  it("matches RFC 6238 Appendix B (SHA-1), truncated to 6 digits", () => {
    const vectors: [number, string][] = [
      [59, "287082"],
      [1111111109, "081804"],
      [1111111111, "050471"],
      [1234567890, "005924"],
      [2000000000, "279037"],
      [20000000000, "353130"],
    ];
    for (const [seconds, code] of vectors) expect(hotp(RFC_SECRET, timeStep(seconds * 1000))).toBe(code);
  });

  it("base32 round-trips any bytes (RFC 4648 alphabet, no padding)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = base32Encode(bytes);
        expect(text).toMatch(/^[A-Z2-7]*$/);
        expect([...base32Decode(text)]).toEqual([...bytes]);
      }),
    );
  });

  it("agrees with otplib on random secrets and times", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 4_000_000_000 }), async (seconds) => {
        const secret = newTotpSecret();
        const theirs = await generate({ secret, epoch: seconds });
        expect(hotp(base32Decode(secret), timeStep(seconds * 1000))).toBe(theirs);
      }),
      { numRuns: 50 },
    );
  });

  it("accepts a code once: not at or before the last accepted step", () => {
    const secret = newTotpSecret();
    const now = Date.now();
    const step = timeStep(now);
    const code = hotp(base32Decode(secret), step);
    expect(matchingStep(secret, code, now, 0)).toBe(step);
    expect(matchingStep(secret, code, now, step)).toBeNull();
    expect(matchingStep(secret, "12345", now, 0)).toBeNull();
  });
});

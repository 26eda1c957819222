import { describe, expect, it } from "vitest";
import { hashPassword, PBKDF2_MAX_ITERATIONS, verifyPassword } from "../../src/core/crypto/password";

describe("PBKDF2 password hashes", () => {
  it("refuses more than 100,000 iterations (production Workers reject them)", async () => {
    expect(PBKDF2_MAX_ITERATIONS).toBe(100_000);
    await expect(hashPassword("correct horse", 100_001)).rejects.toThrow(RangeError);
    await expect(hashPassword("correct horse", 0)).rejects.toThrow(RangeError);
    await expect(hashPassword("correct horse", 1.5)).rejects.toThrow(RangeError);
  });

  it("hashes with 100,000 iterations in PHC format, and verifies", async () => {
    const phc = await hashPassword("correct horse battery staple", 100_000);
    expect(phc).toMatch(/^\$pbkdf2-sha256\$i=100000\$[\w-]{22}\$[\w-]{43}$/);
    await expect(verifyPassword("correct horse battery staple", phc)).resolves.toBe(true);
    await expect(verifyPassword("correct horse battery stapl", phc)).resolves.toBe(false);
    await expect(verifyPassword("", phc)).resolves.toBe(false);
  });

  it("uses the default (the maximum) without an argument, and salts every hash", async () => {
    const [a, b] = await Promise.all([hashPassword("same"), hashPassword("same")]);
    expect(a).toMatch(/^\$pbkdf2-sha256\$i=100000\$/);
    expect(a).not.toBe(b);
    await expect(verifyPassword("same", b)).resolves.toBe(true);
  });

  it("normalizes Unicode (NFKC) so the same password typed two ways verifies", async () => {
    const phc = await hashPassword("caf\u00e9", 1_000);
    await expect(verifyPassword("cafe\u0301", phc)).resolves.toBe(true);
  });

  it("a stored hash with too many iterations is refused, not run; garbage is false", async () => {
    const phc = await hashPassword("pw", 1_000);
    const inflated = phc.replace("i=1000$", "i=200000$");
    await expect(verifyPassword("pw", inflated)).rejects.toThrow(RangeError);
    await expect(verifyPassword("pw", "not a hash")).resolves.toBe(false);
    await expect(verifyPassword("pw", phc.replace("pbkdf2-sha256", "argon2id"))).resolves.toBe(false);
  });
});

import { env } from "cloudflare:test";
import { scryptSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  burnPasswordHash,
  hashPassword,
  hashPasswordPbkdf2,
  PBKDF2_MAX_ITERATIONS,
  verifyPassword,
} from "../../src/core/crypto/password";

/**
 * The password hash on its own. Expected hashes are recomputed here from the documented recipe (HKDF pepper key
 * → HMAC-SHA256 of the NFKC password → scrypt), with WebCrypto and node:crypto directly, not with the code under
 * test.
 */

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
const unb64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

async function pepperedByHand(masterKey: string, password: string, version: number): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", unb64(masterKey), "HKDF", false, ["deriveBits"]);
  const info = new TextEncoder().encode(`uom/password-pepper/v${version}`);
  const pepper = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info },
    base,
    256,
  );
  const key = await crypto.subtle.importKey("raw", pepper, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(password.normalize("NFKC"))));
}

/** A scrypt PHC string made by hand with any parameters and pepper version. */
async function scryptByHand(
  password: string,
  p: { ln: number; r: number; p: number; k: number },
  masterKey = env.MASTER_KEY,
) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const input = await pepperedByHand(masterKey, password, p.k);
  const hash = scryptSync(input, salt, 32, { N: 2 ** p.ln, r: p.r, p: p.p, maxmem: 64 * 1024 * 1024 });
  return `$scrypt$ln=${p.ln},r=${p.r},p=${p.p},k=${p.k}$${b64(salt)}$${b64(new Uint8Array(hash))}`;
}

const PHC = /^\$scrypt\$ln=14,r=8,p=5,k=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$/;

describe("scrypt password hashes", () => {
  it("are PHC strings with OWASP's parameters (N=2^14, r=8, p=5) and pepper version 1, and verify", async () => {
    const phc = await hashPassword(env, "correct horse battery staple");
    expect(phc).toMatch(PHC);
    expect(await verifyPassword(env, "correct horse battery staple", phc)).toEqual({ ok: true, needsRehash: false });
    expect(await verifyPassword(env, "correct horse battery stapl", phc)).toEqual({ ok: false, needsRehash: false });
    expect(await verifyPassword(env, "", phc)).toEqual({ ok: false, needsRehash: false });
  });

  it("follow the documented recipe: scrypt over HMAC-SHA256(HKDF(MASTER_KEY, 'uom/password-pepper/v1'), NFKC(pw))", async () => {
    const phc = await hashPassword(env, "caf\u00e9 au lait");
    const [, salt, hash] = PHC.exec(phc) as RegExpExecArray;
    const input = await pepperedByHand(env.MASTER_KEY, "cafe\u0301 au lait", 1);
    const expected = scryptSync(input, unb64(salt as string), 32, { N: 2 ** 14, r: 8, p: 5, maxmem: 64 * 1024 * 1024 });
    expect(b64(new Uint8Array(expected))).toBe(hash);
    // and a hash made by hand verifies as current
    const byHand = await scryptByHand("by hand", { ln: 14, r: 8, p: 5, k: 1 });
    expect(await verifyPassword(env, "by hand", byHand)).toEqual({ ok: true, needsRehash: false });
  });

  it("salt every hash, and normalize Unicode (NFKC) so one password typed two ways verifies", async () => {
    const [a, b] = await Promise.all([hashPassword(env, "same password"), hashPassword(env, "same password")]);
    expect(a).not.toBe(b);
    expect((await verifyPassword(env, "same password", b)).ok).toBe(true);
    const phc = await hashPassword(env, "caf\u00e9 cr\u00e8me");
    expect((await verifyPassword(env, "cafe\u0301 cre\u0300me", phc)).ok).toBe(true);
  });

  it("are peppered: without the MASTER_KEY they do not verify (a stolen database alone is not enough)", async () => {
    const phc = await hashPassword(env, "peppered password");
    const otherKey = btoa("another-master-key-0123456789abcdef");
    expect(await verifyPassword({ ...env, MASTER_KEY: otherKey }, "peppered password", phc)).toEqual({
      ok: false,
      needsRehash: false,
    });
  });

  it("ask for a rehash when the parameters or the pepper version differ, only once the password is right", async () => {
    const weaker = await scryptByHand("old params", { ln: 12, r: 8, p: 1, k: 1 });
    expect(await verifyPassword(env, "old params", weaker)).toEqual({ ok: true, needsRehash: true });
    expect(await verifyPassword(env, "wrong", weaker)).toEqual({ ok: false, needsRehash: false });
    const otherPepper = await scryptByHand("old pepper", { ln: 14, r: 8, p: 5, k: 2 });
    expect(await verifyPassword(env, "old pepper", otherPepper)).toEqual({ ok: true, needsRehash: true });
  });

  it("refuse a stored hash with absurd parameters instead of running it; garbage is simply false", async () => {
    const phc = await hashPassword(env, "pw pw pw pw");
    await expect(verifyPassword(env, "pw pw pw pw", phc.replace("ln=14", "ln=24"))).rejects.toThrow(RangeError);
    await expect(verifyPassword(env, "pw pw pw pw", phc.replace("r=8", "r=900"))).rejects.toThrow(RangeError);
    await expect(verifyPassword(env, "pw pw pw pw", phc.replace("p=5", "p=999"))).rejects.toThrow(RangeError);
    await expect(verifyPassword(env, "pw pw pw pw", phc.replace("ln=14", "ln=0"))).rejects.toThrow(RangeError);
    await expect(verifyPassword(env, "pw pw pw pw", phc.replace("k=1", "k=0"))).rejects.toThrow(RangeError);
    const no = { ok: false, needsRehash: false };
    expect(await verifyPassword(env, "pw pw pw pw", "not a hash")).toEqual(no);
    expect(await verifyPassword(env, "pw pw pw pw", phc.replace("$scrypt$", "$argon2id$"))).toEqual(no);
    expect(await verifyPassword(env, "pw pw pw pw", phc.replace(/\$[^$]+$/, "$AAAA"))).toEqual(no);
  });

  it("burnPasswordHash runs a verification that matches nothing", async () => {
    await expect(burnPasswordHash(env, "whatever it is")).resolves.toBeUndefined();
  });
});

describe("legacy PBKDF2 hashes", () => {
  it("still verify (unpeppered), and always ask for a rehash", async () => {
    const phc = await hashPasswordPbkdf2("legacy password", 1_000);
    expect(phc).toMatch(/^\$pbkdf2-sha256\$i=1000\$[\w-]{22}\$[\w-]{43}$/);
    expect(await verifyPassword(env, "legacy password", phc)).toEqual({ ok: true, needsRehash: true });
    expect(await verifyPassword(env, "legacy passwort", phc)).toEqual({ ok: false, needsRehash: false });
    const nfkc = await hashPasswordPbkdf2("caf\u00e9", 1_000);
    expect((await verifyPassword(env, "cafe\u0301", nfkc)).ok).toBe(true);
  });

  it("refuse more than 100,000 iterations (production Workers reject them), also from an inflated stored hash", async () => {
    expect(PBKDF2_MAX_ITERATIONS).toBe(100_000);
    await expect(hashPasswordPbkdf2("correct horse", 100_001)).rejects.toThrow(RangeError);
    await expect(hashPasswordPbkdf2("correct horse", 0)).rejects.toThrow(RangeError);
    await expect(hashPasswordPbkdf2("correct horse", 1.5)).rejects.toThrow(RangeError);
    const max = await hashPasswordPbkdf2("at the limit");
    expect(max).toMatch(/^\$pbkdf2-sha256\$i=100000\$/);
    expect((await verifyPassword(env, "at the limit", max)).ok).toBe(true);
    const inflated = max.replace("i=100000$", "i=200000$");
    await expect(verifyPassword(env, "at the limit", inflated)).rejects.toThrow(RangeError);
  });
});

import { fromBase64Url, toBase64Url, utf8 } from "./encoding";

/**
 * Password hashes: PBKDF2-HMAC-SHA256 in PHC string format (`$pbkdf2-sha256$i=100000$<salt>$<hash>`), so
 * the parameters travel with the hash. Production Workers refuse PBKDF2 above 100,000 iterations (local
 * workerd does not), so the limit is enforced here rather than discovered in production.
 */
export const PBKDF2_MAX_ITERATIONS = 100_000;
export const PBKDF2_ITERATIONS = 100_000;

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) {
    throw new RangeError(`PBKDF2 iterations must be 1..${PBKDF2_MAX_ITERATIONS} (Workers limit), got ${iterations}`);
  }
  const key = await crypto.subtle.importKey("raw", utf8(password.normalize("NFKC")), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(
    await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256),
  );
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, iterations);
  return `$pbkdf2-sha256$i=${iterations}$${toBase64Url(salt)}$${toBase64Url(hash)}`;
}

export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const match = /^\$pbkdf2-sha256\$i=(\d+)\$([\w-]+)\$([\w-]+)$/.exec(phc);
  if (!match) return false;
  const expected = fromBase64Url(match[3] as string);
  const actual = await derive(password, fromBase64Url(match[2] as string), Number(match[1]));
  return actual.length === expected.length && crypto.subtle.timingSafeEqual(actual, expected);
}

import { createHmac, type ScryptOptions, scrypt } from "node:crypto";
import { fromBase64Url, toBase64Url, utf8 } from "./encoding";
import { longLivedKeyBytes } from "./master-key";

/**
 * Password hashes in PHC string format, so the parameters travel with each hash:
 *
 *   `$scrypt$ln=14,r=8,p=5,k=1$<salt>$<hash>`   (current: scrypt over a peppered password)
 *   `$pbkdf2-sha256$i=100000$<salt>$<hash>`     (legacy: verified, never written; rehashed on login)
 *
 * scrypt (RFC 7914) is memory-hard and native under `nodejs_compat`. N=2^14, r=8, p=5 is one of OWASP's listed
 * minimums: 16 MiB per hash (128·N·r; the p lanes run one after another). workerd computes it synchronously on
 * the isolate's thread, so an isolate holds one such buffer at a time. Salt and hash use PHC's base64 (standard
 * alphabet, no padding).
 *
 * The pepper: scrypt hashes HMAC-SHA256(pepper key, NFKC(password)), the pepper key derived from MASTER_KEY
 * (`uom/password-pepper/v<k>`), so a stolen database alone cannot be attacked offline. `k` names the pepper
 * version so a hash under an older pepper is recognised (and rehashed on the next login).
 */
export const SCRYPT_PARAMS = { ln: 14, r: 8, p: 5 } as const;
export const PEPPER_VERSION = 1;
export const PBKDF2_MAX_ITERATIONS = 100_000;

const SALT_BYTES = 16;
const HASH_BYTES = 32;

// What a stored hash may ask for before it is refused rather than run: a tampered row must not be able to make
// one login burn seconds of CPU or more memory than an isolate has.
const MAX_SCRYPT_MEMORY = 64 * 1024 * 1024;
const MAX_SCRYPT_WORK = 4 * 2 ** SCRYPT_PARAMS.ln * SCRYPT_PARAMS.r * SCRYPT_PARAMS.p;
const MAX_PEPPER_VERSION = 1000;

export interface PasswordCheck {
  ok: boolean;
  /** The password was right but the hash is not the current kind (PBKDF2, other parameters, older pepper). */
  needsRehash: boolean;
}

interface ScryptHash {
  ln: number;
  r: number;
  p: number;
  k: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

function pepperKey(env: Env, version: number): Promise<Uint8Array> {
  return longLivedKeyBytes(env.MASTER_KEY, `uom/password-pepper/v${version}`);
}

/** NFKC first, so the same password typed on two keyboards (composed or decomposed accents) is the same secret. */
async function peppered(env: Env, password: string, version: number): Promise<Uint8Array> {
  return createHmac("sha256", await pepperKey(env, version))
    .update(password.normalize("NFKC"))
    .digest();
}

function scryptBytes(
  input: Uint8Array,
  salt: Uint8Array,
  params: { ln: number; r: number; p: number },
  length = HASH_BYTES,
) {
  const N = 2 ** params.ln;
  // Node refuses when 128·N·r exceeds maxmem; leave headroom for its bookkeeping.
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 2 * 128 * N * params.r };
  return new Promise<Uint8Array>((resolve, reject) => {
    scrypt(input, salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** PHC's base64: the standard alphabet without padding. */
function phcBase64(bytes: Uint8Array): string {
  return toBase64Url(bytes).replaceAll("-", "+").replaceAll("_", "/");
}

function fromPhcBase64(text: string): Uint8Array {
  return fromBase64Url(text.replaceAll("+", "-").replaceAll("/", "_"));
}

function formatScrypt(h: ScryptHash): string {
  return `$scrypt$ln=${h.ln},r=${h.r},p=${h.p},k=${h.k}$${phcBase64(h.salt)}$${phcBase64(h.hash)}`;
}

/** A stored scrypt hash, or null when it is not one; throws RangeError when its parameters are out of bounds. */
function parseScrypt(phc: string): ScryptHash | null {
  const match = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3}),k=(\d{1,4})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(
    phc,
  );
  if (!match) return null;
  const [ln, r, p, k] = [match[1], match[2], match[3], match[4]].map(Number) as [number, number, number, number];
  const N = 2 ** ln;
  if (ln < 1 || r < 1 || p < 1 || 128 * N * r > MAX_SCRYPT_MEMORY || N * r * p > MAX_SCRYPT_WORK) {
    throw new RangeError(`scrypt parameters out of bounds: ln=${ln}, r=${r}, p=${p}`);
  }
  if (k < 1 || k > MAX_PEPPER_VERSION) throw new RangeError(`unknown pepper version ${k}`);
  const salt = fromPhcBase64(match[5] as string);
  const hash = fromPhcBase64(match[6] as string);
  if (salt.length < 8 || salt.length > 64 || hash.length < 16 || hash.length > 64) return null;
  return { ln, r, p, k, salt, hash };
}

function isCurrent(h: ScryptHash): boolean {
  return (
    h.ln === SCRYPT_PARAMS.ln &&
    h.r === SCRYPT_PARAMS.r &&
    h.p === SCRYPT_PARAMS.p &&
    h.k === PEPPER_VERSION &&
    h.hash.length === HASH_BYTES
  );
}

/** Equal lengths are checked first: timingSafeEqual throws on a mismatch, and the length is not secret. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && crypto.subtle.timingSafeEqual(a, b);
}

async function verifyScrypt(env: Env, password: string, stored: ScryptHash): Promise<boolean> {
  const actual = await scryptBytes(await peppered(env, password, stored.k), stored.salt, stored, stored.hash.length);
  return sameBytes(actual, stored.hash);
}

export async function hashPassword(env: Env, password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await scryptBytes(await peppered(env, password, PEPPER_VERSION), salt, SCRYPT_PARAMS);
  return formatScrypt({ ...SCRYPT_PARAMS, k: PEPPER_VERSION, salt, hash });
}

export async function verifyPassword(env: Env, password: string, phc: string): Promise<PasswordCheck> {
  const scryptHash = parseScrypt(phc);
  if (scryptHash) {
    const ok = await verifyScrypt(env, password, scryptHash);
    return { ok, needsRehash: ok && !isCurrent(scryptHash) };
  }
  const pbkdf2Hash = parsePbkdf2(phc);
  if (pbkdf2Hash) {
    const actual = await pbkdf2(password, pbkdf2Hash.salt, pbkdf2Hash.iterations);
    const ok = sameBytes(actual, pbkdf2Hash.hash);
    return { ok, needsRehash: ok };
  }
  return { ok: false, needsRehash: false };
}

// A hash no password matches (its bytes are zeros, which scrypt does not output for any input in practice),
// with the current parameters: verifying against it costs what a real verification costs.
const DUMMY_PHC = formatScrypt({
  ...SCRYPT_PARAMS,
  k: PEPPER_VERSION,
  salt: new Uint8Array(SALT_BYTES),
  hash: new Uint8Array(HASH_BYTES),
});

/**
 * Spends the time of one verification and learns nothing: a login for an unknown (or password-less) user calls
 * it, so it takes as long as a wrong password and the timing does not tell which accounts exist.
 */
export async function burnPasswordHash(env: Env, password: string): Promise<void> {
  await verifyPassword(env, password, DUMMY_PHC);
}

// ---- legacy PBKDF2-HMAC-SHA256 (unpeppered) ----

/**
 * Production Workers refuse PBKDF2 above 100,000 iterations (local workerd does not), so the limit is enforced
 * here rather than discovered in production — for stored hashes too, so an inflated one is refused, not run.
 */
async function pbkdf2(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) {
    throw new RangeError(`PBKDF2 iterations must be 1..${PBKDF2_MAX_ITERATIONS} (Workers limit), got ${iterations}`);
  }
  const key = await crypto.subtle.importKey("raw", utf8(password.normalize("NFKC")), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(
    await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256),
  );
}

function parsePbkdf2(phc: string) {
  const match = /^\$pbkdf2-sha256\$i=(\d{1,10})\$([\w-]+)\$([\w-]+)$/.exec(phc);
  if (!match) return null;
  return {
    iterations: Number(match[1]),
    salt: fromBase64Url(match[2] as string),
    hash: fromBase64Url(match[3] as string),
  };
}

/**
 * A legacy PBKDF2 hash, as the service wrote them before scrypt. Not used to store passwords any more: it
 * exists for tests and for importing users whose hashes came from elsewhere.
 */
export async function hashPasswordPbkdf2(password: string, iterations = PBKDF2_MAX_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await pbkdf2(password, salt, iterations);
  return `$pbkdf2-sha256$i=${iterations}$${toBase64Url(salt)}$${toBase64Url(hash)}`;
}

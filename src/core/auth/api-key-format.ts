import { base62Fixed, crc32, randomBase62 } from "../crypto/encoding";

/**
 * API key secrets: `uom_sk_` + 32 random base62 characters (~190 bits) + a 6-character CRC32 checksum,
 * in the manner of GitHub's token format, so secret scanners can recognise a leaked key offline and a
 * mistyped key is refused before any lookup.
 */
export const API_KEY_PREFIX = "uom_sk_";
const RANDOM_LENGTH = 32;
const SHAPE = /^uom_sk_[0-9A-Za-z]{38}$/;

export function generateApiKeySecret(): string {
  const random = randomBase62(RANDOM_LENGTH);
  return `${API_KEY_PREFIX}${random}${base62Fixed(crc32(random))}`;
}

export function isWellFormedApiKey(secret: string): boolean {
  if (!SHAPE.test(secret)) return false;
  const random = secret.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + RANDOM_LENGTH);
  return secret.slice(-6) === base62Fixed(crc32(random));
}

/** What lists show instead of the secret. */
export function maskedTail(secret: string): string {
  return `${API_KEY_PREFIX}…${secret.slice(-4)}`;
}

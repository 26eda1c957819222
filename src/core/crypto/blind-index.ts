import { toBase64Url, utf8 } from "./encoding";
import { deriveKeyBytes } from "./master-key";

/**
 * Keyed blind indexes: HMAC-SHA256 of a normalised value under a per-tenant, per-index key, so equality
 * lookups and UNIQUE constraints work on values stored only encrypted. The key comes from MASTER_KEY and the
 * tenant id (HKDF, RFC 5869), not from the tenant's data key, so a data-key rotation leaves every index valid.
 *
 * `index` names what is indexed (`users.email`): each index has its own key, so the same value in two indexes
 * (or two tenants) gives unrelated tokens. A keyed n-gram index (search by part of an email) derives its key
 * here under its own name (`users.email/ngram`) and HMACs each n-gram with `blindIndex`.
 */

const PURPOSE = "uom/blind-index/v1";
const keys = new Map<string, Promise<CryptoKey>>();

export function blindIndexKey(masterKey: string, tenantId: string, index: string): Promise<CryptoKey> {
  const id = `${masterKey}\u0000${tenantId}\u0000${index}`;
  let key = keys.get(id);
  if (!key) {
    key = deriveKeyBytes(masterKey, `${PURPOSE}/${index}`, tenantId).then((raw) =>
      crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
    );
    key.catch(() => keys.delete(id));
    keys.set(id, key);
  }
  return key;
}

/** The index token of an already normalised value: base64url of the full 256-bit HMAC (no truncation, no collisions in practice). */
export async function blindIndex(key: CryptoKey, normalized: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8(normalized))));
}

import { fromBase64, utf8 } from "./encoding";

/**
 * Purpose-bound keys derived from the MASTER_KEY secret with HKDF-SHA256 (RFC 5869), so one secret
 * serves many uses without one use's key revealing another's.
 */
const baseKeys = new Map<string, Promise<CryptoKey>>();

function baseKey(masterKey: string): Promise<CryptoKey> {
  let key = baseKeys.get(masterKey);
  if (!key) {
    const raw = fromBase64(masterKey);
    if (raw.byteLength < 32) throw new Error("MASTER_KEY must be at least 32 bytes, base64-encoded");
    key = crypto.subtle.importKey("raw", raw, "HKDF", false, ["deriveBits"]);
    baseKeys.set(masterKey, key);
  }
  return key;
}

export async function deriveKeyBytes(masterKey: string, purpose: string, salt = ""): Promise<Uint8Array<ArrayBuffer>> {
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: utf8(salt), info: utf8(purpose) },
    await baseKey(masterKey),
    256,
  );
  return new Uint8Array(bits);
}

const longLivedKeys = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();

/**
 * `deriveKeyBytes` kept per isolate, for the few long-lived keys (one per purpose, or per purpose and tenant:
 * audit MACs, the password pepper, throttle names), not for per-row contexts. Callers must not modify the bytes.
 */
export function longLivedKeyBytes(masterKey: string, purpose: string, salt = ""): Promise<Uint8Array<ArrayBuffer>> {
  const id = `${masterKey}\u0000${purpose}\u0000${salt}`;
  let key = longLivedKeys.get(id);
  if (!key) {
    key = deriveKeyBytes(masterKey, purpose, salt);
    key.catch(() => longLivedKeys.delete(id));
    longLivedKeys.set(id, key);
  }
  return key;
}

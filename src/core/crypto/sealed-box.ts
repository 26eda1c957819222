import { fromBase64Url, toBase64Url, utf8 } from "./encoding";
import { deriveKeyBytes } from "./master-key";

/** AES-256-GCM under a key derived from MASTER_KEY for a purpose and a context; output base64url(iv ‖ ct). */
async function aesKey(masterKey: string, purpose: string, context: string): Promise<CryptoKey> {
  const raw = await deriveKeyBytes(masterKey, purpose, context);
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

export async function seal(masterKey: string, purpose: string, context: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await aesKey(masterKey, purpose, context);
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, utf8(plaintext)));
  const out = new Uint8Array(iv.length + ciphertext.length);
  out.set(iv);
  out.set(ciphertext, iv.length);
  return toBase64Url(out);
}

export async function open(masterKey: string, purpose: string, context: string, sealed: string): Promise<string> {
  const bytes = fromBase64Url(sealed);
  const key = await aesKey(masterKey, purpose, context);
  const plaintext = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.slice(0, 12) }, key, bytes.slice(12));
  return new TextDecoder().decode(plaintext);
}

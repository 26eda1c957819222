import { toBase64Url, utf8 } from "../../core/crypto/encoding";
import { longLivedKeyBytes } from "../../core/crypto/master-key";

/**
 * A non-personal name for the device a sign-in came from, for the `user.login` event (the outbox is plaintext):
 * an HMAC of the user agent under a per-tenant key derived from MASTER_KEY, cut to 128 bits. The same browser gets
 * the same value, so the notifications consumer can tell a sign-in from a device never seen before; the value
 * says nothing about the user agent to anyone without the key. Null without a user agent.
 */
export async function deviceOf(env: Env, tenantId: string, userAgent: string | null): Promise<string | null> {
  if (!userAgent) return null;
  const raw = await longLivedKeyBytes(env.MASTER_KEY, "uom/login-device/v1", tenantId);
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8(userAgent)));
  return toBase64Url(mac.slice(0, 16));
}

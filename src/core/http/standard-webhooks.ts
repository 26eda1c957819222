import { fromBase64, utf8 } from "../crypto/encoding";

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature scheme"): the secret is `whsec_` +
 * base64 key bytes; the signed content is `${webhook-id}.${webhook-timestamp}.${body}`; `webhook-signature` is
 * `v1,` + base64(HMAC-SHA256). Used by HTTP actions and plugins (crm-sync); the webhooks module signs deliveries the
 * same way: the two should become one helper.
 */

const SECRET_PREFIX = "whsec_";

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** A new signing secret: 32 random bytes. */
export function newSigningSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

/** The three headers of a signed request. */
export async function signedHeaders(
  secret: string,
  messageId: string,
  body: string,
  now = Date.now(),
): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(now / 1000));
  const key = await crypto.subtle.importKey(
    "raw",
    fromBase64(secret.slice(SECRET_PREFIX.length)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, utf8(`${messageId}.${timestamp}.${body}`));
  return {
    "webhook-id": messageId,
    "webhook-timestamp": timestamp,
    "webhook-signature": `v1,${toBase64(new Uint8Array(mac))}`,
  };
}

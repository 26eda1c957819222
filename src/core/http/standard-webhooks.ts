import { fromBase64, utf8 } from "../crypto/encoding";

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature scheme"): the secret is `whsec_` +
 * base64 key bytes; the signed content is `${webhook-id}.${webhook-timestamp}.${body}`; `webhook-signature` is
 * `v1,` + base64(HMAC-SHA256), several of them (a secret rotation) space-separated, any one verifying. The one signer
 * of webhook deliveries, HTTP actions and plugins (crm-sync).
 */

const SECRET_PREFIX = "whsec_";

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** A new signing secret of `bytes` random bytes (the spec allows 24–64). */
export function newSigningSecret(bytes = 32): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(bytes)));
}

const keys = new Map<string, Promise<CryptoKey>>();

// a small per-isolate cache: a fan-out signs many requests with the same few secrets
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    const raw = fromBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
    key = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    if (keys.size > 500) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

async function signature(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), utf8(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** The three headers of a signed request, signed with each secret given (the newest first). */
export async function signedHeaders(
  secrets: string | readonly string[],
  messageId: string,
  body: string,
  now = Date.now(),
): Promise<Record<string, string>> {
  const timestamp = Math.floor(now / 1000);
  const list = typeof secrets === "string" ? [secrets] : secrets;
  const signatures = await Promise.all(list.map((secret) => signature(secret, messageId, timestamp, body)));
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatures.join(" "),
  };
}

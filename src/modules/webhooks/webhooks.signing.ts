import { open, seal } from "../../core/crypto/sealed-box";

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com, spec "Signature scheme"): HMAC-SHA256 under the
 * secret's bytes of `${webhook-id}.${webhook-timestamp}.${body}`, sent as `v1,<base64>`; several signatures (a
 * secret rotation) are space-separated, and a receiver accepts the request when any one of them verifies.
 */

const SECRET_PREFIX = "whsec_";
/** 24 bytes: within the spec's 24–64 and what the reference libraries generate. */
const SECRET_BYTES = 24;
const SEAL_PURPOSE = "uom/webhook-secret/v1";

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

/** A new `whsec_<base64 of 24 random bytes>` secret. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

function secretBytes(secret: string): Uint8Array<ArrayBuffer> {
  return fromBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
}

const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", secretBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    // a small per-isolate cache: fan-out signs many requests with the same few secrets
    if (keys.size > 500) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under one secret. */
export async function signature(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const mac = await crypto.subtle.sign(
    "HMAC",
    await hmacKey(secret),
    new TextEncoder().encode(`${id}.${timestamp}.${body}`),
  );
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** The three Standard Webhooks headers, signed with every given secret (the newest first). */
export async function signedHeaders(
  secrets: readonly string[],
  id: string,
  body: string,
  now = Date.now(),
): Promise<Record<string, string>> {
  const timestamp = Math.floor(now / 1000);
  const signatures = await Promise.all(secrets.map((secret) => signature(secret, id, timestamp, body)));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatures.join(" "),
  };
}

/** The secret sealed under MASTER_KEY, bound to its endpoint: a sealed value moved to another row does not open. */
export function sealSecret(env: Pick<Env, "MASTER_KEY">, endpointId: string, secret: string): Promise<string> {
  return seal(env.MASTER_KEY, SEAL_PURPOSE, endpointId, secret);
}

const opened = new Map<string, Promise<string>>();

/**
 * The secret of a sealed value, opened once per isolate (a fan-out signs many requests with the same few secrets; the
 * HMAC key cache above holds them in memory anyway). A failure is not kept.
 */
export function openSecret(env: Pick<Env, "MASTER_KEY">, endpointId: string, sealed: string): Promise<string> {
  const cacheKey = `${endpointId}:${sealed}`;
  let secret = opened.get(cacheKey);
  if (!secret) {
    secret = open(env.MASTER_KEY, SEAL_PURPOSE, endpointId, sealed);
    secret.catch(() => opened.delete(cacheKey));
    if (opened.size > 500) opened.clear();
    opened.set(cacheKey, secret);
  }
  return secret;
}

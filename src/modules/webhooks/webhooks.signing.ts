import { open, seal } from "../../core/crypto/sealed-box";
import { newSigningSecret } from "../../core/http/standard-webhooks";

// signing itself is src/core/http/standard-webhooks.ts; here: an endpoint's secret, and its sealing at rest

/** 24 bytes: within the spec's 24–64 and what the reference libraries generate. */
const SECRET_BYTES = 24;
const SEAL_PURPOSE = "uom/webhook-secret/v1";

/** A new `whsec_<base64 of 24 random bytes>` secret. */
export function newWebhookSecret(): string {
  return newSigningSecret(SECRET_BYTES);
}

/** The secret sealed under MASTER_KEY, bound to its endpoint: a sealed value moved to another row does not open. */
export function sealSecret(env: Pick<Env, "MASTER_KEY">, endpointId: string, secret: string): Promise<string> {
  return seal(env.MASTER_KEY, SEAL_PURPOSE, endpointId, secret);
}

const opened = new Map<string, Promise<string>>();

/**
 * The secret of a sealed value, opened once per isolate (a fan-out signs many requests with the same few secrets; the
 * signer's HMAC key cache holds them in memory anyway). A failure is not kept.
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

import { fromBase64Url, toBase64Url, utf8 } from "../../core/crypto/encoding";

/**
 * Web Push with WebCrypto only: the message encryption of RFC 8291 (aes128gcm content coding, RFC 8188) and the
 * VAPID authorization of RFC 8292 (an ES256 JWT signed by the tenant's application server key).
 */

export interface PushSubscriptionKeys {
  /** The user agent's P-256 public key, uncompressed point, base64url (65 bytes). */
  p256dh: string;
  /** The 16-byte authentication secret, base64url. */
  auth: string;
}

export interface VapidKeys {
  /** The uncompressed P-256 public key, base64url: what a browser's PushManager.subscribe takes. */
  publicKey: string;
  /** The private key as a JWK (sealed at rest). */
  privateJwk: JsonWebKey;
}

const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
/** RFC 8188 §2: one record; a record size large enough for any push message (at most 4096 octets, RFC 8291 §4). */
const RECORD_SIZE = 4096;

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function hkdf(
  salt: Uint8Array<ArrayBuffer>,
  ikm: Uint8Array<ArrayBuffer>,
  info: Uint8Array<ArrayBuffer>,
  bytes: number,
) {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bytes * 8));
}

export async function generateVapidKeys(): Promise<VapidKeys> {
  const pair = (await crypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const privateJwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  return { publicKey: toBase64Url(raw), privateJwk };
}

/**
 * Encrypts `payload` for one subscription (RFC 8291 §3.4): a fresh ECDH key pair and salt per message; the
 * body is the aes128gcm header (salt, record size, the sender's public key as key id) and the one record.
 */
export async function encryptPushPayload(keys: PushSubscriptionKeys, payload: Uint8Array): Promise<Uint8Array> {
  const uaPublic = fromBase64Url(keys.p256dh);
  const authSecret = fromBase64Url(keys.auth);
  if (uaPublic.length !== 65 || uaPublic[0] !== 4) throw new Error("p256dh is not an uncompressed P-256 point");
  if (authSecret.length !== 16) throw new Error("auth is not 16 bytes");
  if (payload.length > RECORD_SIZE - 17 - 86) throw new Error("the push payload is too large");

  const ua = await crypto.subtle.importKey("raw", uaPublic, { name: "ECDH", namedCurve: "P-256" }, false, []);
  const as = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
    "deriveBits",
  ])) as CryptoKeyPair;
  const asPublic = new Uint8Array((await crypto.subtle.exportKey("raw", as.publicKey)) as ArrayBuffer);
  const ecdhSecret = new Uint8Array(
    await crypto.subtle.deriveBits({ name: "ECDH", public: ua } as SubtleCryptoDeriveKeyAlgorithm, as.privateKey, 256),
  );
  // §3.3: IKM = HKDF(auth_secret, ecdh_secret, "WebPush: info" || 0x00 || ua_public || as_public, 32)
  const keyInfo = concat(utf8("WebPush: info\0"), uaPublic, asPublic);
  const ikm = await hkdf(authSecret, ecdhSecret, keyInfo, 32);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  // RFC 8188 §2.2 and §2.3: the content-encryption key and the nonce (one record: sequence number 0)
  const cek = await hkdf(salt, ikm, utf8("Content-Encoding: aes128gcm\0"), 16);
  const nonce = await hkdf(salt, ikm, utf8("Content-Encoding: nonce\0"), 12);
  const key = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["encrypt"]);
  // the last (and only) record ends with the 0x02 delimiter (RFC 8188 §2)
  const record = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, key, concat(payload, new Uint8Array([2]))),
  );
  const header = new Uint8Array(16 + 4 + 1);
  header.set(salt);
  new DataView(header.buffer).setUint32(16, RECORD_SIZE);
  header[20] = asPublic.length;
  return concat(header, asPublic, record);
}

/** RFC 8292 §2 and §3: `Authorization: vapid t=<ES256 JWT for the push service's origin>, k=<public key>`. */
export async function vapidAuthorization(
  endpoint: string,
  subject: string,
  keys: VapidKeys,
  now = Date.now(),
): Promise<string> {
  const encode = (value: object) => toBase64Url(utf8(JSON.stringify(value)));
  // §2: exp at most 24 hours ahead
  const claims = { aud: new URL(endpoint).origin, exp: Math.floor(now / 1000) + 12 * 3600, sub: subject };
  const signingInput = `${encode({ typ: "JWT", alg: "ES256" })}.${encode(claims)}`;
  const privateKey = await crypto.subtle.importKey("jwk", keys.privateJwk, P256, false, ["sign"]);
  // WebCrypto's ECDSA signature is r || s, the JWS form (RFC 7518 §3.4)
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, utf8(signingInput));
  return `vapid t=${signingInput}.${toBase64Url(new Uint8Array(signature))}, k=${keys.publicKey}`;
}

/** The request that delivers one message to a push service (RFC 8030 §5). */
export async function pushRequest(
  endpoint: string,
  keys: PushSubscriptionKeys,
  payload: string,
  vapid: { subject: string; keys: VapidKeys },
  ttlSeconds = 24 * 3600,
): Promise<Request> {
  const body = await encryptPushPayload(keys, utf8(payload));
  return new Request(endpoint, {
    method: "POST",
    headers: {
      authorization: await vapidAuthorization(endpoint, vapid.subject, vapid.keys),
      "content-encoding": "aes128gcm",
      "content-type": "application/octet-stream",
      ttl: String(ttlSeconds),
      urgency: "normal",
    },
    body,
  });
}

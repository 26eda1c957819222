import { fromBase64Url, toBase64Url, utf8 } from "../../core/crypto/encoding";
import { longLivedKeyBytes } from "../../core/crypto/master-key";
import { OPTIONAL_CATEGORIES, type OptionalCategory } from "./catalogue";

/**
 * Per-user opt-outs of the non-essential categories, and the signed unsubscribe links of RFC 8058 (one click,
 * no sign-in: the link itself is the authority, so it is an HMAC under a key derived from MASTER_KEY, bound to
 * tenant, user and category, and it can only ever opt out).
 */

export async function optedOutOf(db: D1Database, userId: string): Promise<OptionalCategory[]> {
  const row = await db
    .prepare("SELECT opted_out FROM notification_preferences WHERE user_id = ?")
    .bind(userId)
    .first<{ opted_out: string }>();
  return row ? (JSON.parse(row.opted_out) as OptionalCategory[]) : [];
}

export function setOptedOut(
  db: D1Database,
  userId: string,
  categories: readonly OptionalCategory[],
  at: string,
): D1PreparedStatement {
  const sorted = OPTIONAL_CATEGORIES.filter((category) => categories.includes(category));
  return db
    .prepare(
      `INSERT INTO notification_preferences (user_id, opted_out, updated_at) VALUES (?1, ?2, ?3)
       ON CONFLICT (user_id) DO UPDATE SET opted_out = ?2, updated_at = ?3`,
    )
    .bind(userId, JSON.stringify(sorted), at);
}

/** Adds one category to a user's opt-outs, in SQL (so two concurrent unsubscribes both count). */
export function addOptOut(db: D1Database, userId: string, category: OptionalCategory, at: string) {
  return db
    .prepare(
      `INSERT INTO notification_preferences (user_id, opted_out, updated_at) VALUES (?1, json_array(?2), ?3)
       ON CONFLICT (user_id) DO UPDATE SET updated_at = ?3, opted_out = CASE
         WHEN EXISTS (SELECT 1 FROM json_each(notification_preferences.opted_out) WHERE value = ?2)
         THEN notification_preferences.opted_out
         ELSE json_insert(notification_preferences.opted_out, '$[#]', ?2) END`,
    )
    .bind(userId, category, at);
}

const PURPOSE = "uom/notifications/unsubscribe/v1";

async function macKey(env: Env): Promise<CryptoKey> {
  const raw = await longLivedKeyBytes(env.MASTER_KEY, PURPOSE);
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

export interface UnsubscribeClaim {
  tenantId: string;
  userId: string;
  category: OptionalCategory;
}

export async function unsubscribeToken(env: Env, claim: UnsubscribeClaim): Promise<string> {
  const body = toBase64Url(utf8(JSON.stringify([claim.tenantId, claim.userId, claim.category])));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await macKey(env), utf8(body)));
  return `${body}.${toBase64Url(mac)}`;
}

/** The claim of a token this service signed; null for anything else (malformed, forged, altered). */
export async function verifyUnsubscribeToken(env: Env, token: string): Promise<UnsubscribeClaim | null> {
  const [body, mac, extra] = token.split(".");
  if (!body || !mac || extra !== undefined || body.length > 400 || mac.length > 100) return null;
  try {
    const ok = await crypto.subtle.verify("HMAC", await macKey(env), fromBase64Url(mac), utf8(body));
    if (!ok) return null;
    const [tenantId, userId, category] = JSON.parse(new TextDecoder().decode(fromBase64Url(body))) as string[];
    if (!tenantId || !userId || !(OPTIONAL_CATEGORIES as readonly string[]).includes(category ?? "")) return null;
    return { tenantId, userId, category: category as OptionalCategory };
  } catch {
    return null;
  }
}

/** The link the messages carry, on the service's public origin (PUBLIC_URL); null when none is configured. */
export async function unsubscribeUrl(env: Env, claim: UnsubscribeClaim): Promise<string | null> {
  const origin = (env as { PUBLIC_URL?: string }).PUBLIC_URL?.trim();
  if (!origin) return null;
  return `${origin.replace(/\/$/, "")}/v1/notifications/unsubscribe?token=${await unsubscribeToken(env, claim)}`;
}

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env";
import { serviceContext } from "../context";
import { toHex } from "../crypto/encoding";
import { sha256Hex } from "../crypto/hash";
import { open, seal } from "../crypto/sealed-box";
import { ApiError, CoreErrors } from "../errors";

const KEY_SHAPE = /^[\x21-\x7e]{1,255}$/;
const TTL_MS = 24 * 60 * 60 * 1000;
/** A claim older than this whose request never finished (the isolate died) may be taken over. */
const ABANDONED_MS = 60 * 1000;
const REPLAYED_HEADERS = ["content-type", "etag", "location", "cache-control"];
const PURPOSE = "uom/idempotency/v1";

interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * `Idempotency-Key` on POST (in the manner of Stripe and draft-ietf-httpapi-idempotency-key-header): the
 * first request with a key runs; a repeat with the same body within 24 h gets the first response replayed
 * (`Idempotent-Replayed: true`); the same key with another body is `409 IDEMPOTENCY_KEY_REUSED`; a repeat
 * while the first still runs is `409 IDEMPOTENCY_REQUEST_IN_PROGRESS`. Keys are per tenant and credential (another
 * credential's response, shaped by its grants, is never replayed). Server errors are
 * not kept, so a retry after a 5xx runs again.
 */
export function idempotency(): MiddlewareHandler<AppEnv> {
  return async function idempotencyMiddleware(c, next) {
    const key = c.req.header("idempotency-key");
    if (key === undefined) return next();
    if (!KEY_SHAPE.test(key)) {
      throw new ApiError(CoreErrors.BAD_REQUEST, {
        detail: "Idempotency-Key must be 1 to 255 visible ASCII characters.",
      });
    }
    const ctx = await serviceContext(c);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const url = new URL(c.req.url);
    const requestHash = await sha256Hex(
      `${c.req.method} ${url.pathname}${url.search}\n${toHex(await crypto.subtle.digest("SHA-256", body))}`,
    );
    // bound to the credential as well: a response shaped for one caller's grants is never replayed to another
    const owner = `${ctx.scope}\u0000${ctx.actor.type}:${ctx.actor.id}\u0000${key}`;
    const keyHash = await sha256Hex(owner);
    const now = Date.now();
    const claimed = await ctx.db
      .prepare(
        `INSERT INTO idempotency_keys (key_hash, request_hash, state, created_at, expires_at)
         VALUES (?1, ?2, 'pending', ?3, ?4)
         ON CONFLICT (key_hash) DO UPDATE SET
           request_hash = excluded.request_hash, state = 'pending', response = NULL,
           created_at = excluded.created_at, expires_at = excluded.expires_at
         WHERE idempotency_keys.expires_at <= ?3 OR (idempotency_keys.state = 'pending' AND idempotency_keys.created_at <= ?5)`,
      )
      .bind(
        keyHash,
        requestHash,
        new Date(now).toISOString(),
        new Date(now + TTL_MS).toISOString(),
        new Date(now - ABANDONED_MS).toISOString(),
      )
      .run();
    const sealContext = owner;
    if (claimed.meta.changes === 0) return replay(c.env.MASTER_KEY, ctx.db, keyHash, sealContext, requestHash);

    try {
      await next();
    } catch (error) {
      await release(ctx.db, keyHash);
      throw error;
    }
    if (c.res.status >= 500) {
      await release(ctx.db, keyHash);
      return;
    }
    const stored: StoredResponse = {
      status: c.res.status,
      headers: Object.fromEntries(
        REPLAYED_HEADERS.flatMap((h) => (c.res.headers.has(h) ? [[h, c.res.headers.get(h) as string]] : [])),
      ),
      body: await c.res.clone().text(),
    };
    const sealed = await seal(c.env.MASTER_KEY, PURPOSE, sealContext, JSON.stringify(stored));
    await ctx.db
      .prepare("UPDATE idempotency_keys SET state = 'done', response = ? WHERE key_hash = ? AND request_hash = ?")
      .bind(sealed, keyHash, requestHash)
      .run();
  };
}

async function release(db: D1Database, keyHash: string): Promise<void> {
  await db.prepare("DELETE FROM idempotency_keys WHERE key_hash = ? AND state = 'pending'").bind(keyHash).run();
}

async function replay(
  masterKey: string,
  db: D1Database,
  keyHash: string,
  sealContext: string,
  requestHash: string,
): Promise<Response> {
  const row = await db
    .prepare("SELECT request_hash, state, response FROM idempotency_keys WHERE key_hash = ?")
    .bind(keyHash)
    .first<{ request_hash: string; state: string; response: string | null }>();
  if (!row) throw new ApiError(CoreErrors.IDEMPOTENCY_REQUEST_IN_PROGRESS, { detail: "Retry in a moment." });
  if (row.request_hash !== requestHash) {
    throw new ApiError(CoreErrors.IDEMPOTENCY_KEY_REUSED, {
      detail: "This Idempotency-Key was first used with another method, path or body; use a new key.",
    });
  }
  if (row.state !== "done" || !row.response) {
    throw new ApiError(CoreErrors.IDEMPOTENCY_REQUEST_IN_PROGRESS, {
      detail: "The first request with this Idempotency-Key has not finished; retry in a moment.",
    });
  }
  const stored = JSON.parse(await open(masterKey, PURPOSE, sealContext, row.response)) as StoredResponse;
  return new Response(stored.body, {
    status: stored.status,
    headers: { ...stored.headers, "idempotent-replayed": "true" },
  });
}

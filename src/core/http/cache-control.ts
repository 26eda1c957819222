import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env";

/**
 * User data: a client may keep a response but must revalidate it (If-None-Match → 304) before each use, and no
 * shared cache may store it. Responses that say otherwise themselves (`no-store` on secrets) keep their own.
 */
export function privateNoCache(): MiddlewareHandler<AppEnv> {
  return async function privateNoCacheMiddleware(c, next) {
    await next();
    if (!c.res.headers.has("cache-control")) c.res.headers.set("Cache-Control", "private, no-cache");
  };
}

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env";

/**
 * Public documents that rarely change (the JWKS, the OpenAPI document, the API reference) through the Cache API
 * (`caches.default`, per Cloudflare location): the isolates of a location share one rendering for `maxAgeSeconds`
 * instead of each building it, and clients get the same max-age. The key is the URL alone: these documents vary by
 * nothing else. `cacheable` may refuse a rendering (a JWKS with no key yet must not be kept for minutes).
 * Responses say `Uom-Cache: hit` or `miss`.
 */
/** The OpenAPI document and the API reference: a deployment's change shows within this time. */
export const PUBLIC_DOCUMENT_MAX_AGE_SECONDS = 60;

export function publicCache(
  maxAgeSeconds: number,
  cacheable: (response: Response) => Promise<boolean> | boolean = () => true,
): MiddlewareHandler<AppEnv> {
  return async function publicCacheMiddleware(c, next) {
    const key = new Request(c.req.url, { method: "GET" });
    const hit = await caches.default.match(key);
    if (hit) {
      // the cached response's headers are immutable; the request-id middleware still has to set its own
      const response = new Response(hit.body, hit);
      response.headers.set("Uom-Cache", "hit");
      return response;
    }
    await next();
    if (c.res.status !== 200) return;
    c.res.headers.set("Cache-Control", `public, max-age=${maxAgeSeconds}`);
    c.res.headers.set("Uom-Cache", "miss");
    if (await cacheable(c.res.clone())) c.executionCtx.waitUntil(caches.default.put(key, c.res.clone()));
  };
}

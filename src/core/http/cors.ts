import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env";

export interface TenantCorsOptions {
  /** The browser origins a tenant allows (its security policy), looked up only for cross-origin requests. */
  allowedOrigins(env: Env, tenantId: string): Promise<readonly string[]>;
  /** Paths anyone may read from any origin (no credential, nothing tenant-specific). */
  isPublic(path: string): boolean;
}

const ALLOW_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE";
const ALLOW_HEADERS = "authorization, content-type, idempotency-key, if-match, if-none-match, uom-account, uom-version";
const EXPOSE_HEADERS =
  "ETag, Location, X-Request-Id, Idempotent-Replayed, Retry-After, RateLimit, RateLimit-Policy, Uom-Version, " +
  "Deprecation, Sunset, Link";
const PREFLIGHT_MAX_AGE_SECONDS = "600";

/**
 * CORS (Fetch standard, "CORS protocol") with per-tenant origins.
 *
 * A preflight carries no credential, so it cannot know the tenant: every preflight is allowed for the asking
 * origin. That grants nothing by itself: the browser still withholds the actual response unless that response
 * names the origin, and only a response to a tenant credential whose policy lists the origin does. Credentials
 * are bearer tokens the page sends deliberately (never cookies), so `Allow-Credentials` is never sent and
 * there is no ambient authority to forge requests with (no CSRF).
 *
 * A response without an authenticated tenant (a 401, a 403 before the credential was accepted) carries no CORS
 * header; public documents allow `*`.
 */
export function tenantCors(options: TenantCorsOptions): MiddlewareHandler<AppEnv> {
  return async function corsMiddleware(c, next) {
    const origin = c.req.header("origin");
    if (c.req.method === "OPTIONS" && origin && c.req.header("access-control-request-method")) {
      // answered here, before routing: an unknown path's preflight is not a 404/405
      return c.body(null, 204, {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE_SECONDS,
        Vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
      });
    }
    await next();
    if (options.isPublic(c.req.path)) {
      if (origin) c.header("Access-Control-Allow-Origin", "*");
      return;
    }
    // the answer depends on the Origin, whether or not this one is allowed (shared caches must not mix them up)
    c.header("Vary", "Origin", { append: true });
    if (!origin) return;
    const auth = c.get("auth");
    if (auth?.kind !== "tenant") return;
    // fail closed: without the policy, the browser is not told it may read the response. The page holds a
    // credential of the home tenant (acting on a sub-account or not): that tenant's policy names its origins.
    const tenantId = auth.home?.id ?? auth.tenant.id;
    const allowed = await options.allowedOrigins(c.env, tenantId).catch((): readonly string[] => []);
    if (!allowed.includes(origin)) return;
    c.header("Access-Control-Allow-Origin", origin);
    c.header("Access-Control-Expose-Headers", EXPOSE_HEADERS);
  };
}

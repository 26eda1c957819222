import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env";
import { routeTemplate } from "./route-template";

/** One structured JSON line per request (Workers Logs / `wrangler tail` index the fields). */
export function requestLog(): MiddlewareHandler<AppEnv> {
  return async function requestLogMiddleware(c, next) {
    const started = performance.now();
    await next();
    if (c.env.LOG_LEVEL === "silent") return;
    const auth = c.get("auth");
    console.log(
      JSON.stringify({
        level: c.res.status >= 500 ? "error" : "info",
        msg: "request",
        time: new Date().toISOString(),
        requestId: c.get("requestId"),
        method: c.req.method,
        path: new URL(c.req.url).pathname,
        route: routeTemplate(c),
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        tenantId: auth?.kind === "tenant" ? auth.tenant.id : null,
        // the credential's own tenant, when it acted on a sub-account (Uom-Account)
        ...(auth?.kind === "tenant" && auth.home ? { homeTenantId: auth.home.id } : {}),
        actor: auth ? `${auth.actor.type}:${auth.actor.id}` : null,
      }),
    );
  };
}

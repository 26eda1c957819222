import type { Context } from "hono";
import { matchedRoutes } from "hono/route";

/** The route that handled the request, as an OpenAPI template (`GET /v1/users/{id}`), or null. */
export function routeTemplate(c: Context): string | null {
  const route = matchedRoutes(c)
    .filter((r) => r.method !== "ALL")
    .at(-1);
  return route ? `${route.method} ${route.path.replace(/:(\w+)/g, "{$1}")}` : null;
}

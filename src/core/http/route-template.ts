import type { Context } from "hono";
import { matchedRoutes } from "hono/route";

/** Hono paths (`/v1/users/:id`) as OpenAPI templates (`/v1/users/{id}`): a fixed set, asked on every request. */
const templates = new Map<string, string>();

/** The route that handled the request, as an OpenAPI template (`GET /v1/users/{id}`), or null. */
export function routeTemplate(c: Context): string | null {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i];
    if (!route || route.method === "ALL") continue;
    let template = templates.get(route.path);
    if (template === undefined) {
      template = route.path.replace(/:(\w+)/g, "{$1}");
      templates.set(route.path, template);
    }
    return `${route.method} ${template}`;
  }
  return null;
}

import { OpenAPIHono } from "@hono/zod-openapi";
import { ApiError, CoreErrors } from "../../core/errors";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv, Auth } from "../../env";
import { DeprecatedCallsQuerySchema, DeprecatedCallsSchema, UsageQuerySchema, UsageReportSchema } from "./usage.schema";
import { deprecatedCallsOf, usageOf } from "./usage.service";

const usageRoute = defineRoute({
  method: "get",
  path: "/v1/usage",
  tags: ["Usage"],
  summary: "Usage analytics",
  description:
    "The tenant's requests by hour or day: counts, error rates and latency percentiles, optionally split by route, " +
    "credential or status class, and the ten busiest routes (docs/usage.md). Kept 90 days; at most one flush " +
    "window (a few seconds) behind.",
  credential: ["tenant"],
  permission: "usage:read",
  feature: "analytics",
  request: { query: UsageQuerySchema },
  responses: {
    200: { description: "The usage report", content: { "application/json": { schema: UsageReportSchema } } },
  },
});

const deprecationsRoute = defineRoute({
  method: "get",
  path: "/v1/usage/deprecations",
  tags: ["Usage"],
  summary: "Calls to deprecated routes",
  description:
    "Per deprecated route and credential: the calls, the first and last hour with one, and the route's sunset and " +
    "successor (docs/versioning.md). On every plan: a tenant must be able to find what still calls a route before " +
    "it goes. From the usage analytics' hourly counts, so at most one flush window behind; kept 90 days.",
  credential: ["tenant"],
  permission: "usage:read",
  feature: "plan",
  request: { query: DeprecatedCallsQuerySchema },
  responses: {
    200: {
      description: "The calls to deprecated routes",
      content: { "application/json": { schema: DeprecatedCallsSchema } },
    },
  },
});

function tenantIdOf(auth: Auth): string {
  if (auth.kind !== "tenant") throw new ApiError(CoreErrors.TENANT_CREDENTIAL_REQUIRED);
  return auth.tenant.id;
}

export const usageRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(usageRoute, async (c) => c.json(await usageOf(c.env, tenantIdOf(c.get("auth")), c.req.valid("query")), 200))
  .openapi(deprecationsRoute, async (c) =>
    c.json(await deprecatedCallsOf(c.env, tenantIdOf(c.get("auth")), c.req.valid("query")), 200),
  );

import { OpenAPIHono } from "@hono/zod-openapi";
import { ApiError, CoreErrors } from "../../core/errors";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { UsageQuerySchema, UsageReportSchema } from "./usage.schema";
import { usageOf } from "./usage.service";

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

export const usageRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(usageRoute, async (c) => {
  const auth = c.get("auth");
  if (auth.kind !== "tenant") throw new ApiError(CoreErrors.TENANT_CREDENTIAL_REQUIRED);
  return c.json(await usageOf(c.env, auth.tenant.id, c.req.valid("query")), 200);
});

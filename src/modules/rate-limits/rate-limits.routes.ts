import { OpenAPIHono } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import {
  PutRateLimitSchema,
  RateLimitScopeQuerySchema,
  RateLimitViewSchema,
  StartBoostSchema,
} from "./rate-limits.schema";
import * as rateLimits from "./rate-limits.service";

const tags = ["Rate limits"];
const feature = "plan";
const limitResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: RateLimitViewSchema } },
});

const getRoute = defineRoute({
  method: "get",
  path: "/v1/rate-limits",
  tags,
  summary: "A rate-limit policy: the tenant's, or one API key's",
  description:
    "Each credential (API key, OAuth client, signed-in user) has its own bucket. Its policy is its key's own, else " +
    "the tenant's, else the plan's default (`source`); `effective` is that policy within the plan's maximum, times " +
    "a running boost. Every authenticated response tells where its credential stands: `RateLimit-Policy` and " +
    "`RateLimit` (IETF httpapi draft); over the limit, 429 RATE_LIMITED with `Retry-After`.",
  credential: ["tenant"],
  permission: "plan:read",
  feature,
  errors: [404],
  request: { query: RateLimitScopeQuerySchema },
  responses: { 200: limitResponse("The policy") },
});

const putRoute = defineRoute({
  method: "put",
  path: "/v1/rate-limits",
  tags,
  summary: "Set the tenant's or one API key's rate-limit policy",
  description:
    "Within the plan's bounds (`bounds.max`; above them is 400 `above_plan_maximum`). Audited " +
    "(`tenant.rate_limits_updated`, `api_key.rate_limit_updated`). Other isolates apply it within " +
    "CREDENTIAL_CACHE_SECONDS. A changed policy keeps the bucket's level (a token bucket is capped at its new burst).",
  credential: ["tenant"],
  permission: "plan:write",
  feature,
  errors: [404, 409],
  request: { body: { required: true, content: { "application/json": { schema: PutRateLimitSchema } } } },
  responses: { 200: limitResponse("The policy now in force") },
});

const deleteRoute = defineRoute({
  method: "delete",
  path: "/v1/rate-limits",
  tags,
  summary: "Drop a policy: a key goes back to the tenant's, the tenant to its plan's default",
  credential: ["tenant"],
  permission: "plan:write",
  feature,
  errors: [404, 409],
  request: { query: RateLimitScopeQuerySchema },
  responses: { 200: limitResponse("The policy now in force") },
});

const boostRoute = defineRoute({
  method: "post",
  path: "/v1/rate-limits/boost",
  tags,
  summary: "Start a campaign boost",
  description:
    "Multiplies every credential's burst and rate (beyond the plan's maximum) for a while: up to ×5, up to 168 " +
    "hours (default ×3 for 48 h). One runs at a time (another is 409 BOOST_RUNNING). Audited.",
  credential: ["tenant"],
  permission: "plan:write",
  feature,
  request: { body: { required: true, content: { "application/json": { schema: StartBoostSchema } } } },
  responses: { 201: limitResponse("The tenant's policy, with the boost") },
});

const endBoostRoute = defineRoute({
  method: "delete",
  path: "/v1/rate-limits/boost",
  tags,
  summary: "End the campaign boost early",
  credential: ["tenant"],
  permission: "plan:write",
  feature,
  errors: [409],
  responses: { 200: limitResponse("The tenant's policy, without a boost") },
});

export const rateLimitsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(getRoute, async (c) =>
    c.json(await rateLimits.readRateLimit(await serviceContext(c), c.req.valid("query")), 200),
  )
  .openapi(putRoute, async (c) =>
    c.json(await rateLimits.putRateLimit(await serviceContext(c), c.req.valid("json")), 200),
  )
  .openapi(deleteRoute, async (c) =>
    c.json(await rateLimits.resetRateLimit(await serviceContext(c), c.req.valid("query")), 200),
  )
  .openapi(boostRoute, async (c) =>
    c.json(await rateLimits.startBoost(await serviceContext(c), c.req.valid("json")), 201),
  )
  .openapi(endBoostRoute, async (c) => c.json(await rateLimits.endBoost(await serviceContext(c)), 200));

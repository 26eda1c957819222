import { OpenAPIHono } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { pageSchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import {
  ChangeRequestIdParamSchema,
  ChangeRequestQuerySchema,
  ChangeRequestSchema,
  CreateChangeRequestSchema,
  PlanOverviewSchema,
} from "./plans.schema";
import * as plans from "./plans.service";

const tags = ["Plans"];
const feature = "plan";
const changeRequest = (description: string) => ({
  description,
  content: { "application/json": { schema: ChangeRequestSchema } },
});

const overviewRoute = defineRoute({
  method: "get",
  path: "/v1/plan",
  tags,
  summary: "The tenant's plan, its features, quotas and usage",
  description:
    "Every feature with whether the plan includes it and the cheapest plan that does; every quota with its limit " +
    "(null: unlimited) and what is used. `requestsPerMonth.used` lags by at most USAGE_FLUSH_SECONDS. " +
    "Answers even when the month's requests are used up.",
  credential: ["tenant"],
  permission: "plan:read",
  feature,
  responses: {
    200: { description: "The plan", content: { "application/json": { schema: PlanOverviewSchema } } },
  },
});

const createRoute = defineRoute({
  method: "post",
  path: "/v1/plan/change-requests",
  tags,
  summary: "Ask for another plan",
  description:
    "Records the request for the platform admin, who applies it by changing the tenant's plan " +
    "(PATCH /v1/tenants/{id}); the request then becomes `applied`. One request is pending at a time: another is " +
    "409 CHANGE_REQUEST_PENDING (cancel the first); asking for the current plan is 409 PLAN_UNCHANGED. A " +
    "downgrade keeps every row and disables what the smaller plan lacks (docs/plans.md).",
  credential: ["tenant"],
  permission: "plan:write",
  feature,
  request: { body: { required: true, content: { "application/json": { schema: CreateChangeRequestSchema } } } },
  responses: { 201: changeRequest("The request, pending") },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/plan/change-requests",
  tags,
  summary: "List plan change requests (newest first)",
  description: "A tenant credential sees its own requests; the admin token every tenant's (`?status=pending`).",
  credential: ["admin", "tenant"],
  permission: "plan:read",
  feature,
  request: { query: ChangeRequestQuerySchema },
  responses: {
    200: {
      description: "A page of requests",
      content: { "application/json": { schema: pageSchema(ChangeRequestSchema, "PlanChangeRequestPage") } },
    },
  },
});

const cancelRoute = defineRoute({
  method: "delete",
  path: "/v1/plan/change-requests/{id}",
  tags,
  summary: "Cancel a pending plan change request",
  description: "The tenant withdraws its request, or the platform admin declines it. The request stays, `cancelled`.",
  credential: ["admin", "tenant"],
  permission: "plan:write",
  feature,
  errors: [404, 409],
  request: { params: ChangeRequestIdParamSchema },
  responses: { 200: changeRequest("The request, cancelled") },
});

export const plansRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(overviewRoute, async (c) => c.json(await plans.planOverview(await serviceContext(c)), 200))
  .openapi(createRoute, async (c) =>
    c.json(await plans.createChangeRequest(await serviceContext(c), c.req.valid("json")), 201),
  )
  .openapi(listRoute, async (c) =>
    c.json(await plans.listChangeRequests(await serviceContext(c), c.req.valid("query")), 200),
  )
  .openapi(cancelRoute, async (c) =>
    c.json(await plans.cancelChangeRequest(await serviceContext(c), c.req.valid("param").id), 200),
  );

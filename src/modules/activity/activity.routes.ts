import { OpenAPIHono } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { UserIdParamSchema } from "../users/users.schema";
import {
  ActivityBatchResultSchema,
  ActivityBatchSchema,
  ActivityPageSchema,
  ActivityQuerySchema,
  MAX_EVENTS,
} from "./activity.schema";
import { recordActivity, userActivity } from "./activity.service";

const recordRoute = defineRoute({
  method: "post",
  path: "/v1/activity",
  tags: ["Activity"],
  summary: "Record product activity",
  description:
    `Up to ${MAX_EVENTS} events of your users' activity in your product, so insights, segments and the churn model ` +
    "reflect real use (logins are recorded by the service itself). All or nothing: an event naming no live user, " +
    "dated in the future or before the plan's retention refuses the batch with every such event listed. Events " +
    "with an `id` recorded before are duplicates, not recorded again; an `Idempotency-Key` replays the whole " +
    "answer (docs/activity.md).",
  credential: ["tenant"],
  permission: "activity:write",
  feature: "users",
  request: { body: { content: { "application/json": { schema: ActivityBatchSchema } }, required: true } },
  responses: {
    200: {
      description: "What was recorded",
      content: { "application/json": { schema: ActivityBatchResultSchema } },
    },
  },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/users/{id}/activity",
  tags: ["Activity"],
  summary: "A user's activity",
  description:
    "Logins (with the client's address and user agent), failed logins and product activity, newest first, within " +
    "the plan's retention (docs/activity.md).",
  credential: ["tenant"],
  permission: "activity:read",
  feature: "users",
  errors: [404],
  request: { params: UserIdParamSchema, query: ActivityQuerySchema },
  responses: {
    200: { description: "A page of activity", content: { "application/json": { schema: ActivityPageSchema } } },
  },
});

export const activityRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(recordRoute, async (c) => c.json(await recordActivity(await serviceContext(c), c.req.valid("json")), 200))
  .openapi(listRoute, async (c) =>
    c.json(await userActivity(await serviceContext(c), c.req.valid("param").id, c.req.valid("query")), 200),
  );

import { OpenAPIHono } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { UserIdParamSchema } from "../users/users.schema";
import { ChurnListQuerySchema, ChurnModelReportSchema, ChurnPageSchema, ChurnRiskSchema } from "./churn.schema";
import { churnList, churnRisk, modelReport, trainNow } from "./churn.service";

const modelRoute = defineRoute({
  method: "get",
  path: "/v1/insights/churn/model",
  tags: ["Churn"],
  summary: "The churn model and its evaluation",
  description:
    "The tenant's churn model (logistic regression over behaviour features, retrained daily): its cut-offs, sizes, " +
    "coefficients, and on a time-based holdout its AUC and precision at the top 10%, beside the recency-only " +
    "baseline's (docs/churn.md). 404 CHURN_MODEL_NOT_TRAINED before the first training.",
  credential: ["tenant"],
  permission: "churn:read",
  feature: "churn",
  errors: [404],
  responses: {
    200: { description: "The model", content: { "application/json": { schema: ChurnModelReportSchema } } },
  },
});

const trainRoute = defineRoute({
  method: "post",
  path: "/v1/insights/churn/model/train",
  tags: ["Churn"],
  summary: "Train the churn model now",
  description:
    "Trains the model on the history as it is now and rescores every live user, as the daily cron does. 409 " +
    "CHURN_NOT_ENOUGH_HISTORY while the activity cannot label both users who stayed and users who left.",
  credential: ["tenant"],
  permission: "churn:write",
  feature: "churn",
  errors: [409],
  responses: {
    200: { description: "The new model", content: { "application/json": { schema: ChurnModelReportSchema } } },
  },
});

const riskRoute = defineRoute({
  method: "get",
  path: "/v1/users/{id}/churn-risk",
  tags: ["Churn"],
  summary: "A user's churn risk",
  description:
    "The user's probability of no activity in the next 30 days as of the last training, its band, the three " +
    "factors raising it most and a suggested action (docs/churn.md).",
  credential: ["tenant"],
  permission: "churn:read",
  feature: "churn",
  errors: [404],
  request: { params: UserIdParamSchema },
  responses: {
    200: { description: "The user's churn risk", content: { "application/json": { schema: ChurnRiskSchema } } },
  },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/insights/churn",
  tags: ["Churn"],
  summary: "Users by churn risk",
  description: "Live users' churn scores as of the last training, highest first, optionally one band.",
  credential: ["tenant"],
  permission: "churn:read",
  feature: "churn",
  errors: [404],
  request: { query: ChurnListQuerySchema },
  responses: {
    200: { description: "A page of churn risks", content: { "application/json": { schema: ChurnPageSchema } } },
  },
});

export const churnRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(modelRoute, async (c) => c.json(await modelReport(await serviceContext(c)), 200))
  .openapi(trainRoute, async (c) => c.json(await trainNow(await serviceContext(c)), 200))
  .openapi(riskRoute, async (c) => c.json(await churnRisk(await serviceContext(c), c.req.valid("param").id), 200))
  .openapi(listRoute, async (c) => c.json(await churnList(await serviceContext(c), c.req.valid("query")), 200));

import { OpenAPIHono } from "@hono/zod-openapi";
import { tenantDatabases } from "../../core/db/databases";
import { ApiError, CoreErrors } from "../../core/errors";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv, Auth } from "../../env";
import { insightsRetention } from "./insights.retention";
import {
  ActivityInsightsQuerySchema,
  InsightsActivitySchema,
  InsightsRetentionSchema,
  InsightsSummarySchema,
  MAX_SPAN_DAYS,
  RetentionQuerySchema,
  SummaryQuerySchema,
} from "./insights.schema";
import { insightsActivity, insightsSummary } from "./insights.service";

const PERIOD = `\`from\`/\`to\`: a date or an RFC 3339 date-time, \`to\` exclusive, default the last 30 days, at most ${MAX_SPAN_DAYS} days.`;

const summaryRoute = defineRoute({
  method: "get",
  path: "/v1/insights/summary",
  tags: ["Insights"],
  summary: "Users by status, active and inactive",
  description:
    "Totals by status as of `to`, active users (a login or product activity in the 30 days up to `to`), inactive " +
    "users (none in `inactiveDays`) with the users filter that lists them, sign-ups and deletions within the " +
    `period (docs/insights.md). ${PERIOD}`,
  credential: ["tenant"],
  permission: "insights:read",
  feature: "insights",
  request: { query: SummaryQuerySchema },
  responses: {
    200: { description: "The summary", content: { "application/json": { schema: InsightsSummarySchema } } },
  },
});

const activityRoute = defineRoute({
  method: "get",
  path: "/v1/insights/activity",
  tags: ["Insights"],
  summary: "Sign-ups, active users, tenure, logins and churn",
  description:
    "Sign-ups per day and ISO week, daily active users, DAU/WAU/MAU as of `to` and stickiness, the tenure and " +
    "login-frequency distributions, and the churn rate per week or month with its base and churned counts " +
    `(docs/insights.md). ${PERIOD}`,
  credential: ["tenant"],
  permission: "insights:read",
  feature: "insights",
  request: { query: ActivityInsightsQuerySchema },
  responses: {
    200: { description: "The activity insights", content: { "application/json": { schema: InsightsActivitySchema } } },
  },
});

const retentionRoute = defineRoute({
  method: "get",
  path: "/v1/insights/retention",
  tags: ["Insights"],
  summary: "Weekly retention cohorts",
  description:
    "Users by sign-up ISO week within the period; for each cohort its size and, week by week since, the share of " +
    `it with a login or product activity that week (docs/insights.md). ${PERIOD}`,
  credential: ["tenant"],
  permission: "insights:read",
  feature: "insights",
  request: { query: RetentionQuerySchema },
  responses: {
    200: { description: "The cohorts", content: { "application/json": { schema: InsightsRetentionSchema } } },
  },
});

async function tenantDb(env: Env, auth: Auth): Promise<D1Database> {
  if (auth.kind !== "tenant") throw new ApiError(CoreErrors.TENANT_CREDENTIAL_REQUIRED);
  return tenantDatabases.forTenant(env, auth.tenant);
}

export const insightsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(summaryRoute, async (c) =>
    c.json(await insightsSummary(await tenantDb(c.env, c.get("auth")), c.req.valid("query")), 200),
  )
  .openapi(activityRoute, async (c) =>
    c.json(await insightsActivity(await tenantDb(c.env, c.get("auth")), c.req.valid("query")), 200),
  )
  .openapi(retentionRoute, async (c) =>
    c.json(await insightsRetention(await tenantDb(c.env, c.get("auth")), c.req.valid("query")), 200),
  );

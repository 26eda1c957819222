import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { PageQuerySchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import {
  CreateScheduleSchema,
  IdParamSchema,
  RunListSchema,
  RunSchema,
  RunsQuerySchema,
  ScheduleListSchema,
  SchedulePatchSchema,
  ScheduleSchema,
} from "./reports.schema";
import * as reports from "./reports.service";

const tags = ["Reports"];
const credential = ["tenant"] as const;
const feature = "reports" as const;
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const createRoute = defineRoute({
  method: "post",
  path: "/v1/reports/schedules",
  tags,
  summary: "Schedule a report",
  description:
    "A report type run on a cron expression or a daily / weekly / monthly frequency in an IANA time zone, emailed " +
    "(html with inline SVG charts; csv: the table attached) to `recipients` by the tenant's email channel, or POSTed " +
    "as json to a webhook endpoint of the tenant (`webhookId`), signed like every webhook delivery. The answer shows " +
    "`nextRunAt` (docs/reports.md).",
  credential,
  permission: "reports:write",
  feature,
  request: { body: { required: true, content: json(CreateScheduleSchema) } },
  responses: { 201: { description: "Scheduled", content: json(ScheduleSchema) } },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/reports/schedules",
  tags,
  summary: "List report schedules (oldest first)",
  credential,
  permission: "reports:read",
  feature,
  request: { query: PageQuerySchema },
  responses: { 200: { description: "A page of schedules", content: json(ScheduleListSchema) } },
});

const getRoute = defineRoute({
  method: "get",
  path: "/v1/reports/schedules/{id}",
  tags,
  summary: "Get a report schedule",
  credential,
  permission: "reports:read",
  feature,
  errors: [404],
  request: { params: IdParamSchema },
  responses: { 200: { description: "The schedule", content: json(ScheduleSchema) } },
});

const patchRoute = defineRoute({
  method: "patch",
  path: "/v1/reports/schedules/{id}",
  tags,
  summary: "Change a report schedule",
  description:
    "A JSON merge patch, validated as a whole like a new schedule. Giving `cron` drops the frequency and the other way " +
    "round; a change of timing or time zone computes `nextRunAt` again.",
  credential,
  permission: "reports:write",
  feature,
  errors: [404, 409],
  request: {
    params: IdParamSchema,
    body: {
      required: true,
      content: { "application/merge-patch+json": { schema: SchedulePatchSchema }, ...json(SchedulePatchSchema) },
    },
  },
  responses: { 200: { description: "The changed schedule", content: json(ScheduleSchema) } },
});

const deleteRoute = defineRoute({
  method: "delete",
  path: "/v1/reports/schedules/{id}",
  tags,
  summary: "Delete a report schedule",
  description: "Its runs and their artefacts go with it.",
  credential,
  permission: "reports:write",
  feature,
  errors: [404],
  request: { params: IdParamSchema },
  responses: { 204: { description: "Deleted" } },
});

const runsRoute = defineRoute({
  method: "get",
  path: "/v1/reports/runs",
  tags,
  summary: "List report runs (newest first)",
  credential,
  permission: "reports:read",
  feature,
  request: { query: RunsQuerySchema },
  responses: { 200: { description: "A page of runs", content: json(RunListSchema) } },
});

const runRoute = defineRoute({
  method: "get",
  path: "/v1/reports/runs/{id}",
  tags,
  summary: "Get a report run",
  credential,
  permission: "reports:read",
  feature,
  errors: [404],
  request: { params: IdParamSchema },
  responses: { 200: { description: "The run", content: json(RunSchema) } },
});

const downloadRoute = defineRoute({
  method: "get",
  path: "/v1/reports/runs/{id}/download",
  tags,
  summary: "Download a run's report",
  description:
    "The artefact the run generated, with its content type: text/html, text/csv or application/json (409 " +
    "REPORT_NOT_GENERATED before it has one).",
  credential,
  permission: "reports:read",
  feature,
  errors: [404, 409],
  request: { params: IdParamSchema },
  responses: {
    200: {
      description: "The report",
      content: {
        "text/html": {
          schema: z.string(),
          example: '<!doctype html><html>…<svg xmlns="http://www.w3.org/2000/svg">…</svg>…</html>',
        },
        "text/csv": { schema: z.string(), example: "day,new users\r\n2026-11-24,12\r\n2026-11-25,9\r\n" },
        "application/json": {
          schema: z.looseObject({}),
          example: {
            title: "New users: Weekly sign-ups",
            summary: ["New users: 21"],
            table: { columns: ["day", "new users"], rows: [["2026-11-24", 12]] },
            charts: [],
          },
        },
      },
    },
  },
});

export const reportsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createRoute, async (c) =>
    c.json(await reports.createSchedule(await serviceContext(c), c.req.valid("json")), 201),
  )
  .openapi(listRoute, async (c) =>
    c.json(await reports.listSchedules(await serviceContext(c), c.req.valid("query")), 200),
  )
  .openapi(getRoute, async (c) =>
    c.json(await reports.getSchedule(await serviceContext(c), c.req.valid("param").id), 200),
  )
  .openapi(patchRoute, async (c) =>
    c.json(await reports.updateSchedule(await serviceContext(c), c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(deleteRoute, async (c) => {
    await reports.deleteSchedule(await serviceContext(c), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(runsRoute, async (c) => c.json(await reports.listRuns(await serviceContext(c), c.req.valid("query")), 200))
  .openapi(runRoute, async (c) => c.json(await reports.getRun(await serviceContext(c), c.req.valid("param").id), 200))
  .openapi(downloadRoute, async (c) => {
    const { contentType, body } = await reports.runArtefact(await serviceContext(c), c.req.valid("param").id);
    const charset = contentType === "application/json" ? "" : "; charset=utf-8";
    return c.body(body, 200, { "content-type": `${contentType}${charset}` }) as never;
  });

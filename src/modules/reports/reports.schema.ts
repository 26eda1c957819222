import { z } from "@hono/zod-openapi";
import { PageQuerySchema, pageSchema } from "../../core/http/pagination";
import { REPORT_TYPES } from "./reports.registry";

export const FORMATS = ["html", "csv", "json"] as const;
export const FREQUENCIES = ["daily", "weekly", "monthly"] as const;
export const RUN_STATUSES = ["pending", "running", "succeeded", "failed"] as const;
export const MAX_RECIPIENTS = 20;

const Recipient = z.email().max(254);

/** The fields of a schedule as written; the rules between them (cron or frequency, where it goes) are the service's. */
const scheduleFields = {
  name: z.string().trim().min(1).max(120).openapi({ example: "Weekly sign-ups" }),
  report: z.enum(REPORT_TYPES).openapi({ description: "The report type (docs/reports.md)." }),
  cron: z.string().trim().max(120).nullable().optional().openapi({
    description: "A 5-field cron expression read in `timezone`; or give `frequency`.",
    example: "0 8 * * 1",
  }),
  frequency: z.enum(FREQUENCIES).nullable().optional().openapi({ description: "Instead of `cron`." }),
  time: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, "HH:MM, 00:00 to 23:59")
    .nullable()
    .optional()
    .openapi({ description: "With `frequency`: the local time (default 08:00).", example: "08:00" }),
  weekday: z
    .number()
    .int()
    .min(0)
    .max(6)
    .nullable()
    .optional()
    .openapi({ description: "With `frequency: weekly`: 0 = Sunday … 6 = Saturday (default 1)." }),
  dayOfMonth: z
    .number()
    .int()
    .min(1)
    .max(28)
    .nullable()
    .optional()
    .openapi({ description: "With `frequency: monthly`: 1–28 (default 1)." }),
  timezone: z
    .string()
    .max(64)
    .optional()
    .openapi({ description: "IANA time zone (default UTC).", example: "Europe/Paris" }),
  format: z.enum(FORMATS).openapi({
    description: "html: email with inline SVG charts; csv: the same with the table attached; json: to `webhookId`.",
  }),
  recipients: z
    .array(Recipient)
    .max(MAX_RECIPIENTS)
    .nullable()
    .optional()
    .openapi({ description: "Email addresses (html, csv); stored sealed." }),
  webhookId: z
    .string()
    .max(64)
    .nullable()
    .optional()
    .openapi({ description: "A webhook endpoint of the tenant (json)." }),
  filter: z
    .string()
    .max(2000)
    .nullable()
    .optional()
    .openapi({ description: "For `export`: a user filter, as `filter` of GET /v1/users." }),
  enabled: z.boolean().optional().openapi({ description: "Default true." }),
};

export const CreateScheduleSchema = z.strictObject(scheduleFields).openapi("CreateReportSchedule", {
  example: {
    name: "Weekly sign-ups",
    report: "new-users",
    frequency: "weekly",
    time: "08:00",
    weekday: 1,
    timezone: "Europe/Paris",
    format: "html",
    recipients: ["ops@example.com"],
  },
});
export type CreateScheduleInput = z.infer<typeof CreateScheduleSchema>;

export const SchedulePatchSchema = z
  .strictObject({
    ...scheduleFields,
    name: scheduleFields.name.optional(),
    report: scheduleFields.report.optional(),
    format: scheduleFields.format.optional(),
  })
  .openapi("ReportSchedulePatch", { description: "A JSON merge patch (RFC 7396): null removes an optional member." });
export type SchedulePatch = z.infer<typeof SchedulePatchSchema>;

export const ScheduleSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    report: z.enum(REPORT_TYPES),
    cron: z.string().openapi({ description: "The expression it runs on (derived from `frequency` when given)." }),
    frequency: z.enum(FREQUENCIES).nullable(),
    time: z.string().nullable(),
    weekday: z.number().int().nullable(),
    dayOfMonth: z.number().int().nullable(),
    timezone: z.string(),
    format: z.enum(FORMATS),
    recipients: z.array(z.string()),
    webhookId: z.string().nullable(),
    filter: z.string().nullable(),
    enabled: z.boolean(),
    nextRunAt: z.string().nullable().openapi({ description: "UTC; null while disabled." }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("ReportSchedule", {
    example: {
      id: "rps_01JD8Z6Q1W3V8K2N4T5R6Y7P9A",
      name: "Weekly sign-ups",
      report: "new-users",
      cron: "0 8 * * 1",
      frequency: "weekly",
      time: "08:00",
      weekday: 1,
      dayOfMonth: null,
      timezone: "Europe/Paris",
      format: "html",
      recipients: ["ops@example.com"],
      webhookId: null,
      filter: null,
      enabled: true,
      nextRunAt: "2026-11-30T07:00:00.000Z",
      createdAt: "2026-11-25T19:04:32.123Z",
      updatedAt: "2026-11-25T19:04:32.123Z",
    },
  });
export type Schedule = z.infer<typeof ScheduleSchema>;

export const ScheduleListSchema = pageSchema(ScheduleSchema, "ReportSchedulePage");

export const RunSchema = z
  .object({
    id: z.string(),
    scheduleId: z.string(),
    status: z.enum(RUN_STATUSES),
    scheduledFor: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable().openapi({ description: "When a pending run is tried (again)." }),
    error: z.string().nullable().openapi({ description: "The last failure." }),
    contentType: z.string().nullable().openapi({ description: "Of the artefact, once generated." }),
  })
  .openapi("ReportRun", {
    example: {
      id: "rpr_01JD8Z6Q1W3V8K2N4T5R6Y7P9B",
      scheduleId: "rps_01JD8Z6Q1W3V8K2N4T5R6Y7P9A",
      status: "succeeded",
      scheduledFor: "2026-11-30T07:00:00.000Z",
      startedAt: "2026-11-30T07:00:01.020Z",
      finishedAt: "2026-11-30T07:00:02.310Z",
      attempts: 1,
      nextAttemptAt: null,
      error: null,
      contentType: "text/html",
    },
  });
export type Run = z.infer<typeof RunSchema>;

export const RunListSchema = pageSchema(RunSchema, "ReportRunPage");

export const IdParamSchema = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "rps_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
});

export const RunsQuerySchema = PageQuerySchema.extend({
  scheduleId: z.string().max(64).optional().openapi({ description: "Only this schedule's runs." }),
  status: z.enum(RUN_STATUSES).optional(),
});

import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Mirrors migrations/tenant/0025_reports.sql (docs/reports.md); re-exported by tenant-schema.ts.

/** Scheduled reports: what, when (cron in a time zone), where (sealed recipients or a webhook endpoint). */
export const reportSchedules = sqliteTable(
  "report_schedules",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    report: text("report").notNull(),
    cron: text("cron").notNull(),
    frequency: text("frequency"),
    time: text("time"),
    weekday: integer("weekday"),
    dayOfMonth: integer("day_of_month"),
    timezone: text("timezone").notNull(),
    format: text("format").notNull(),
    recipientsSealed: text("recipients_sealed"),
    webhookId: text("webhook_id"),
    filter: text("filter"),
    enabled: integer("enabled").notNull().default(1),
    nextRunAt: text("next_run_at"),
    version: integer("version").notNull().default(1),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [index("report_schedules_due_idx").on(t.enabled, t.nextRunAt)],
);

/** One run per schedule and scheduled time, with its attempts and the artefact it generated. */
export const reportRuns = sqliteTable(
  "report_runs",
  {
    id: text("id").primaryKey(),
    scheduleId: text("schedule_id").notNull(),
    scheduledFor: text("scheduled_for").notNull(),
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: text("next_attempt_at"),
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
    error: text("error"),
    contentType: text("content_type"),
    artefact: text("artefact"),
    createdAt: text("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("report_runs_schedule_time_idx").on(t.scheduleId, t.scheduledFor),
    index("report_runs_due_idx").on(t.status, t.nextAttemptAt),
  ],
);

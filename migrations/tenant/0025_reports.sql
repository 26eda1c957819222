-- Scheduled reports (docs/reports.md). A schedule names a report type, when it runs (a cron expression in an IANA time
-- zone, or a daily / weekly / monthly frequency turned into one) and where it goes (email recipients, sealed under the
-- tenant's data key like other personal data; or a webhook endpoint of the tenant). next_run_at (UTC) is what the
-- every-minute cron compares with its scheduled time.
CREATE TABLE report_schedules (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  report TEXT NOT NULL,
  cron TEXT NOT NULL,
  frequency TEXT,
  time TEXT,
  weekday INTEGER,
  day_of_month INTEGER,
  timezone TEXT NOT NULL,
  format TEXT NOT NULL,
  recipients_sealed TEXT,
  webhook_id TEXT,
  filter TEXT,
  enabled INTEGER NOT NULL DEFAULT 1,
  next_run_at TEXT,
  version INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
--> statement-breakpoint
CREATE INDEX report_schedules_due_idx ON report_schedules (enabled, next_run_at);
--> statement-breakpoint
-- One run per (schedule, scheduledFor): the UNIQUE index makes a cron firing twice, or two isolates racing, create it
-- once. status: pending (waiting for its next attempt at next_attempt_at), running (claimed at started_at),
-- succeeded, failed (final, with error). The generated artefact is kept with the run (at most 1 MB) for download.
CREATE TABLE report_runs (
  id TEXT PRIMARY KEY,
  schedule_id TEXT NOT NULL,
  scheduled_for TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  started_at TEXT,
  finished_at TEXT,
  error TEXT,
  content_type TEXT,
  artefact TEXT,
  created_at TEXT NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX report_runs_schedule_time_idx ON report_runs (schedule_id, scheduled_for);
--> statement-breakpoint
CREATE INDEX report_runs_due_idx ON report_runs (status, next_attempt_at);

-- Activity (docs/activity.md): logins, recorded by the login itself, and the product activity a tenant sends for its
-- users (POST /v1/activity). Raw events are kept for the plan's activityRetentionDays; the per-user daily rollup,
-- which the insights, segments and churn model read, for ACTIVITY_ROLLUP_RETENTION_DAYS.
--
-- last_active_at moves only when an activity is at least an hour after it (an activity batch must not rewrite every
-- user row it names, nor move their ETags, more than hourly); login_count counts successful logins.
ALTER TABLE users ADD COLUMN last_active_at TEXT;
--> statement-breakpoint
ALTER TABLE users ADD COLUMN login_count INTEGER NOT NULL DEFAULT 0;
--> statement-breakpoint
CREATE INDEX users_last_active_idx ON users (last_active_at, id);
--> statement-breakpoint
-- type: `login`, `login_failed`, or a product event name; user_id NULL for a failed login of an unknown identifier.
-- client_event_id: the sender's own id of a product event, so a batch sent twice records each event once.
CREATE TABLE activity_events (
  id TEXT PRIMARY KEY,
  user_id TEXT,
  type TEXT NOT NULL,
  occurred_at TEXT NOT NULL,
  ip TEXT,
  user_agent TEXT,
  properties TEXT,
  client_event_id TEXT,
  received_at TEXT NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX activity_client_event_idx ON activity_events (client_event_id) WHERE client_event_id IS NOT NULL;
--> statement-breakpoint
CREATE INDEX activity_occurred_idx ON activity_events (occurred_at);
--> statement-breakpoint
CREATE INDEX activity_user_idx ON activity_events (user_id, occurred_at);
--> statement-breakpoint
-- One row per user and active day (UTC): written with each event, in its batch, so it is never behind.
CREATE TABLE activity_daily (
  user_id TEXT NOT NULL,
  day TEXT NOT NULL,
  events INTEGER NOT NULL DEFAULT 0,
  logins INTEGER NOT NULL DEFAULT 0,
  failed_logins INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, day)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX activity_daily_day_idx ON activity_daily (day, user_id);

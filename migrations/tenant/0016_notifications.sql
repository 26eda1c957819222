-- Notifications (docs/notifications.md): templates per event, channel and locale; the tenant's channel settings
-- with their credentials sealed; one row per message sent (the log), idempotent by (event, channel, template); the
-- users' opt-outs, push subscriptions, known sign-in devices and activation reminders.
-- No recipient address is stored here: the sender reads it from `users` (sealed there) at send time.
CREATE TABLE notification_templates (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  event TEXT NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
  locale TEXT NOT NULL,
  subject TEXT,
  html TEXT,
  text TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  UNIQUE (event, channel, locale)
);
--> statement-breakpoint
-- `name` is 'email', 'sms', 'push' or 'settings'; `config` is JSON without credentials, `secret_sealed` the
-- credentials (SMTP password, API key, auth token, VAPID private key) sealed under MASTER_KEY.
CREATE TABLE notification_config (
  name TEXT PRIMARY KEY CHECK (name IN ('email', 'sms', 'push', 'settings')),
  config TEXT NOT NULL,
  secret_sealed TEXT,
  updated_at TEXT NOT NULL
);
--> statement-breakpoint
CREATE TABLE notifications (
  id TEXT PRIMARY KEY,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  template TEXT NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
  category TEXT NOT NULL,
  user_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'suppressed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  -- set while one sender holds the message (a redelivered queue message waits for it to expire)
  claimed_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  sent_at TEXT,
  UNIQUE (event_id, channel, template)
);
--> statement-breakpoint
CREATE INDEX notifications_created_idx ON notifications (created_at, id);
--> statement-breakpoint
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at);
--> statement-breakpoint
CREATE TABLE notification_preferences (
  user_id TEXT PRIMARY KEY,
  opted_out TEXT NOT NULL DEFAULT '[]',
  updated_at TEXT NOT NULL
);
--> statement-breakpoint
-- Web Push subscriptions (RFC 8030): the endpoint and the subscriber's keys (p256dh, auth) sealed together.
CREATE TABLE push_subscriptions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  endpoint_hash TEXT NOT NULL,
  sealed TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (user_id, endpoint_hash)
);
--> statement-breakpoint
-- The sign-in devices seen per user (a keyed hash of the user agent, from the `user.login` event), so that a
-- sign-in from another one can be told apart.
CREATE TABLE notification_devices (
  user_id TEXT NOT NULL,
  device TEXT NOT NULL,
  first_seen_at TEXT NOT NULL,
  PRIMARY KEY (user_id, device)
);
--> statement-breakpoint
CREATE TABLE notification_reminders (
  user_id TEXT PRIMARY KEY,
  reminded_at TEXT NOT NULL
);

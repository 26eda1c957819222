-- Plugins (docs/plugins.md) and HTTP actions (docs/actions.md).
-- plugin_settings: a compile-time plugin's enablement and configuration for this tenant; `config` is JSON without
-- the plugin's secret members, which are sealed together in `secrets_sealed` (AES-GCM under MASTER_KEY).
CREATE TABLE plugin_settings (
  plugin_id TEXT PRIMARY KEY,
  enabled INTEGER NOT NULL,
  config TEXT NOT NULL,
  secrets_sealed TEXT,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
--> statement-breakpoint
-- The versions of each plugin's own schema (tables named plugin_<id>_*) applied to this database.
CREATE TABLE _plugin_migrations (
  plugin_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY (plugin_id, version)
);
--> statement-breakpoint
-- Events a plugin's handler has handled: a redelivered event is not handled twice.
CREATE TABLE plugin_event_receipts (
  plugin_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  handled_at TEXT NOT NULL,
  PRIMARY KEY (plugin_id, event_id)
);
--> statement-breakpoint
-- HTTP actions: a URL called as a blocking before-hook; its signing secret sealed.
CREATE TABLE actions (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  trigger TEXT NOT NULL,
  url TEXT NOT NULL,
  timeout_ms INTEGER NOT NULL,
  failure_policy TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  secret_sealed TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
--> statement-breakpoint
CREATE INDEX actions_trigger_idx ON actions (trigger, enabled, created_at);
--> statement-breakpoint
-- One row per call of an action: outcome, HTTP status and duration, never the bodies.
CREATE TABLE action_executions (
  id TEXT PRIMARY KEY,
  action_id TEXT NOT NULL,
  trigger TEXT NOT NULL,
  outcome TEXT NOT NULL,
  http_status INTEGER,
  duration_ms INTEGER NOT NULL,
  error TEXT,
  created_at TEXT NOT NULL
);
--> statement-breakpoint
CREATE INDEX action_executions_action_idx ON action_executions (action_id, id);

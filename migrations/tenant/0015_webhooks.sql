-- Webhooks (docs/webhooks.md): endpoints with their event filters and sealed signing secrets, one delivery per
-- (endpoint, event) and every attempt of it. Deliveries are made by the `uom-webhooks` queue consumer; the
-- per-minute sweeper re-enqueues those whose next attempt is overdue (a lost message).
--
-- `secret_sealed` / `previous_secret_sealed`: the `whsec_…` secret sealed under MASTER_KEY, bound to the endpoint id;
-- the previous one (after a rotation) signs too until `previous_secret_expires_at`.
-- `consecutive_failures`: failed attempts in a row across deliveries; reset by a success; at
-- WEBHOOK_DISABLE_AFTER_FAILURES the endpoint is disabled.
CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  description TEXT,
  status TEXT NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
  disabled_reason TEXT CHECK (disabled_reason IN ('manual', 'gone', 'failures')),
  disabled_at TEXT,
  secret_sealed TEXT NOT NULL,
  previous_secret_sealed TEXT,
  previous_secret_expires_at TEXT,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
);
--> statement-breakpoint
CREATE INDEX webhook_endpoints_created_idx ON webhook_endpoints (created_at, id);
--> statement-breakpoint
-- One row per (endpoint, event): the fan-out inserts with INSERT OR IGNORE, so a redelivered event makes no second
-- delivery. `attempt`: the number of the attempt due next (or the last one, once finished); a queue message carries
-- it, and a message whose number is not the row's is stale. `claimed_at`: an attempt is in progress since then.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempt INTEGER NOT NULL DEFAULT 1,
  next_attempt_at TEXT,
  claimed_at TEXT,
  last_status_code INTEGER,
  last_error TEXT,
  dead_lettered_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (endpoint_id, event_id)
);
--> statement-breakpoint
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at, id);
--> statement-breakpoint
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
--> statement-breakpoint
-- Every request made: its number, when, the response status (or the error: timeout, refused, …), how long it took and
-- the start of the response body (at most 1 KiB).
CREATE TABLE webhook_delivery_attempts (
  delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  attempted_at TEXT NOT NULL,
  status_code INTEGER,
  error TEXT,
  duration_ms INTEGER NOT NULL,
  response_body TEXT,
  PRIMARY KEY (delivery_id, attempt, attempted_at)
);

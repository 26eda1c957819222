-- Domain events, written in the same D1 batch as the change they announce; the Events issue's dispatcher
-- delivers them (webhooks, notifications) and marks them dispatched. `data` holds ids and non-personal facts
-- only; what must reach a person and nobody else (a reset token) is sealed in `secret_sealed`.
CREATE TABLE outbox_events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  subject_id TEXT,
  data TEXT NOT NULL,
  secret_sealed TEXT,
  created_at TEXT NOT NULL,
  dispatched_at TEXT
);
--> statement-breakpoint
CREATE INDEX outbox_events_pending_idx ON outbox_events (created_at) WHERE dispatched_at IS NULL;
--> statement-breakpoint
CREATE INDEX outbox_events_type_idx ON outbox_events (type, created_at);

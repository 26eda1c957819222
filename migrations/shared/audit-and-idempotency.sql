-- Tables both the control database and every tenant database carry (included by both migration sets).
-- Audit trail: append-only; `mac` (keyed, written with the event) makes edits detectable at once, and `hash`
-- (sealed in seq order, HMAC(prev hash, mac)) chains every event to the one before it.
CREATE TABLE audit_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  action TEXT NOT NULL,
  actor_type TEXT NOT NULL,
  actor_id TEXT,
  resource_type TEXT NOT NULL,
  resource_id TEXT,
  changes TEXT NOT NULL DEFAULT '{}',
  request_id TEXT,
  ip TEXT,
  user_agent TEXT,
  created_at TEXT NOT NULL,
  mac TEXT NOT NULL,
  hash TEXT
);
--> statement-breakpoint
CREATE INDEX audit_events_resource_idx ON audit_events (resource_id, seq);
--> statement-breakpoint
CREATE INDEX audit_events_action_idx ON audit_events (action, seq);
--> statement-breakpoint
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, seq);
--> statement-breakpoint
CREATE INDEX audit_events_created_idx ON audit_events (created_at, seq);
--> statement-breakpoint
CREATE INDEX audit_events_unsealed_idx ON audit_events (seq) WHERE hash IS NULL;
--> statement-breakpoint
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;
--> statement-breakpoint
CREATE TRIGGER audit_events_seal_only BEFORE UPDATE ON audit_events
WHEN OLD.hash IS NOT NULL OR NEW.hash IS NULL OR NEW.seq IS NOT OLD.seq OR NEW.id IS NOT OLD.id
  OR NEW.action IS NOT OLD.action OR NEW.actor_type IS NOT OLD.actor_type OR NEW.actor_id IS NOT OLD.actor_id
  OR NEW.resource_type IS NOT OLD.resource_type OR NEW.resource_id IS NOT OLD.resource_id
  OR NEW.changes IS NOT OLD.changes OR NEW.request_id IS NOT OLD.request_id OR NEW.ip IS NOT OLD.ip
  OR NEW.user_agent IS NOT OLD.user_agent OR NEW.created_at IS NOT OLD.created_at OR NEW.mac IS NOT OLD.mac
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;
--> statement-breakpoint
-- Idempotency-Key replays (24 h). The key is stored as a hash and the response encrypted under a key derived
-- from the Idempotency-Key itself, so the table holds nothing readable without the client's key.
CREATE TABLE idempotency_keys (
  key_hash TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
  response TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
--> statement-breakpoint
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

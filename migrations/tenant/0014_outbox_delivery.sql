-- Delivery bookkeeping of the outbox (docs/events.md): `send_count` counts the hand-overs to the EVENTS queue; once
-- it reaches the cap (EVENT_MAX_SENDS in src/core/events/dispatch.ts) and the last one is still not acknowledged,
-- the sweeper stops and sets `dead_at`, as the dead-letter queue's consumer does. Rows sent before this migration
-- count as sent once. The pending index leaves dead rows out, so the sweeper never reads them again.
ALTER TABLE outbox_events ADD COLUMN send_count INTEGER NOT NULL DEFAULT 0;
--> statement-breakpoint
ALTER TABLE outbox_events ADD COLUMN dead_at TEXT;
--> statement-breakpoint
UPDATE outbox_events SET send_count = 1 WHERE sent_at IS NOT NULL;
--> statement-breakpoint
DROP INDEX outbox_events_pending_idx;
--> statement-breakpoint
CREATE INDEX outbox_events_pending_idx ON outbox_events (created_at, id) WHERE dispatched_at IS NULL AND dead_at IS NULL;

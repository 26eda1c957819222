-- When a queued notification's next attempt is due (docs/notifications.md): the per-minute sweeper re-sends the ones
-- overdue by minutes (their queue message was lost), and a redelivered event leaves a message that waits for a
-- delayed retry alone. Rows written before this migration have none: they count as due at once.
ALTER TABLE notifications ADD COLUMN due_at TEXT;
--> statement-breakpoint
CREATE INDEX notifications_queued_idx ON notifications (due_at) WHERE status = 'queued';
--> statement-breakpoint
-- The daily retention purge of settled webhook deliveries walks them by age (DELIVERY_LOG_RETENTION_DAYS).
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at);

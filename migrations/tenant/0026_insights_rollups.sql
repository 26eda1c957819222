-- Insights (docs/insights.md): the per-day figures of closed days, rolled up by the daily cron so a long period
-- reads one row per day instead of every user's activity. A row is only ever right: the triggers below delete the
-- row of any day whose inputs change (late activity, a restore, an import with a past created_at), and the next
-- read computes that day live until the cron rolls it up again.
CREATE TABLE insights_daily (
  day TEXT PRIMARY KEY,
  signups INTEGER NOT NULL,
  deletions INTEGER NOT NULL,
  active_users INTEGER NOT NULL,
  rolled_up_at TEXT NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
-- totals by status as of a date, and the tenure distribution: range counts on an index, no users row read
CREATE INDEX users_status_created_idx ON users (status, created_at);
--> statement-breakpoint
-- deletions within a period
CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;
--> statement-breakpoint
CREATE TRIGGER insights_daily_on_activity_insert AFTER INSERT ON activity_daily BEGIN
  DELETE FROM insights_daily WHERE day = NEW.day;
END;
--> statement-breakpoint
CREATE TRIGGER insights_daily_on_activity_update AFTER UPDATE ON activity_daily BEGIN
  DELETE FROM insights_daily WHERE day IN (OLD.day, NEW.day);
END;
--> statement-breakpoint
CREATE TRIGGER insights_daily_on_activity_delete AFTER DELETE ON activity_daily BEGIN
  DELETE FROM insights_daily WHERE day = OLD.day;
END;
--> statement-breakpoint
CREATE TRIGGER insights_daily_on_user_insert AFTER INSERT ON users BEGIN
  DELETE FROM insights_daily WHERE day = substr(NEW.created_at, 1, 10);
END;
--> statement-breakpoint
CREATE TRIGGER insights_daily_on_user_update AFTER UPDATE OF created_at, deleted_at ON users
WHEN OLD.created_at IS NOT NEW.created_at OR OLD.deleted_at IS NOT NEW.deleted_at BEGIN
  DELETE FROM insights_daily WHERE day IN (substr(OLD.created_at, 1, 10), substr(NEW.created_at, 1, 10),
    substr(OLD.deleted_at, 1, 10), substr(NEW.deleted_at, 1, 10));
END;
--> statement-breakpoint
CREATE TRIGGER insights_daily_on_user_delete AFTER DELETE ON users BEGIN
  DELETE FROM insights_daily WHERE day IN (substr(OLD.created_at, 1, 10), substr(OLD.deleted_at, 1, 10));
END;

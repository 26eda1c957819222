-- Insights at scale (docs/insights.md): a figure of a closed week or month is rolled up by the daily cron, a figure of
-- the open period is read from users.last_active_at, so no request counts distinct users over activity_daily.
--
-- last_active_at now moves whenever an activity falls on a later UTC day (besides hourly), so its day is each user's
-- latest active day: the users whose last_active_at is on or after a day are exactly those active since. This
-- brings the rows written before that rule up to it.
UPDATE users SET
  last_active_at = coalesce(
    (SELECT max(e.occurred_at) FROM activity_events e WHERE e.user_id = users.id AND e.type <> 'login_failed'),
    (SELECT max(d.day) FROM activity_daily d WHERE d.user_id = users.id AND (d.events > 0 OR d.logins > 0))
      || 'T00:00:00.000Z'),
  version = version + 1
WHERE (SELECT max(d.day) FROM activity_daily d WHERE d.user_id = users.id AND (d.events > 0 OR d.logins > 0))
      > substr(coalesce(last_active_at, ''), 1, 10);
--> statement-breakpoint
-- covering: the users active since a day, by status and sign-up, are a range of this index and nothing else
DROP INDEX users_last_active_idx;
--> statement-breakpoint
CREATE INDEX users_last_active_idx ON users (last_active_at, id, status, created_at);
--> statement-breakpoint
-- covering, the login days only: each user's logins within a period (the login-frequency figure). A short period reads
-- its days' range and sums per user after a sort; a long one reads every login day in user order, without the sort
CREATE INDEX activity_daily_logins_idx ON activity_daily (day, user_id, logins) WHERE logins > 0;
--> statement-breakpoint
CREATE INDEX activity_daily_user_logins_idx ON activity_daily (user_id, day, logins) WHERE logins > 0;
--> statement-breakpoint
-- covering: the users active within a period (a failed login alone is not activity) without reading the rows; events
-- and logins are in it because SQLite checks the activity condition on the index's own columns
CREATE INDEX activity_daily_active_idx ON activity_daily (day, user_id, events, logins) WHERE events > 0 OR logins > 0;
--> statement-breakpoint
-- One row per closed ISO week or calendar month (UTC): its distinct active users; of them, how many were not active
-- in the next period (NULL until that period is closed too); for weeks, the active users by sign-up week (cohort
-- Monday → users, JSON). A change of activity in a period deletes its row and forgets the churn of the one before.
CREATE TABLE insights_periods (
  period TEXT NOT NULL CHECK (period IN ('week', 'month')),
  start TEXT NOT NULL,
  active_users INTEGER NOT NULL,
  churned INTEGER,
  cohorts TEXT,
  rolled_up_at TEXT NOT NULL,
  PRIMARY KEY (period, start)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TRIGGER insights_periods_on_activity_insert AFTER INSERT ON activity_daily BEGIN
  DELETE FROM insights_periods
  WHERE (period = 'week' AND start = date(NEW.day, '-6 days', 'weekday 1'))
     OR (period = 'month' AND start = date(NEW.day, 'start of month'));
  UPDATE insights_periods SET churned = NULL
  WHERE churned IS NOT NULL
    AND ((period = 'week' AND start = date(NEW.day, '-6 days', 'weekday 1', '-7 days'))
      OR (period = 'month' AND start = date(NEW.day, 'start of month', '-1 month')));
END;
--> statement-breakpoint
CREATE TRIGGER insights_periods_on_activity_update AFTER UPDATE ON activity_daily BEGIN
  DELETE FROM insights_periods
  WHERE (period = 'week' AND start IN (date(OLD.day, '-6 days', 'weekday 1'), date(NEW.day, '-6 days', 'weekday 1')))
     OR (period = 'month' AND start IN (date(OLD.day, 'start of month'), date(NEW.day, 'start of month')));
  UPDATE insights_periods SET churned = NULL
  WHERE churned IS NOT NULL
    AND ((period = 'week' AND start IN (date(OLD.day, '-6 days', 'weekday 1', '-7 days'),
                                       date(NEW.day, '-6 days', 'weekday 1', '-7 days')))
      OR (period = 'month' AND start IN (date(OLD.day, 'start of month', '-1 month'),
                                        date(NEW.day, 'start of month', '-1 month'))));
END;
--> statement-breakpoint
CREATE TRIGGER insights_periods_on_activity_delete AFTER DELETE ON activity_daily BEGIN
  DELETE FROM insights_periods
  WHERE (period = 'week' AND start = date(OLD.day, '-6 days', 'weekday 1'))
     OR (period = 'month' AND start = date(OLD.day, 'start of month'));
  UPDATE insights_periods SET churned = NULL
  WHERE churned IS NOT NULL
    AND ((period = 'week' AND start = date(OLD.day, '-6 days', 'weekday 1', '-7 days'))
      OR (period = 'month' AND start = date(OLD.day, 'start of month', '-1 month')));
END;
--> statement-breakpoint
-- a user's sign-up moved: the weeks it was active in count it in another cohort now
CREATE TRIGGER insights_periods_on_user_signup_update AFTER UPDATE OF created_at ON users
WHEN date(substr(OLD.created_at, 1, 10), '-6 days', 'weekday 1')
  IS NOT date(substr(NEW.created_at, 1, 10), '-6 days', 'weekday 1') BEGIN
  DELETE FROM insights_periods
  WHERE period = 'week'
    AND start IN (SELECT DISTINCT date(day, '-6 days', 'weekday 1') FROM activity_daily WHERE user_id = NEW.id);
END;
--> statement-breakpoint
-- a user purged for good takes its activity along (IPs and user agents are personal data); the deletes of its
-- activity_daily rows invalidate the rollups they counted in
CREATE TRIGGER activity_on_user_purge AFTER DELETE ON users BEGIN
  DELETE FROM activity_events WHERE user_id = OLD.id;
  DELETE FROM activity_daily WHERE user_id = OLD.id;
END;

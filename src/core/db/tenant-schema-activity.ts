import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Mirrors migrations/tenant/0022_activity.sql (docs/activity.md); re-exported by tenant-schema.ts.

/** Logins and product activity, raw: kept for the plan's activityRetentionDays. */
export const activityEvents = sqliteTable(
  "activity_events",
  {
    id: text("id").primaryKey(),
    userId: text("user_id"),
    type: text("type").notNull(),
    occurredAt: text("occurred_at").notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    properties: text("properties", { mode: "json" }).$type<Record<string, unknown>>(),
    clientEventId: text("client_event_id"),
    receivedAt: text("received_at").notNull(),
  },
  (t) => [
    uniqueIndex("activity_client_event_idx").on(t.clientEventId).where(sql`${t.clientEventId} IS NOT NULL`),
    index("activity_occurred_idx").on(t.occurredAt),
    index("activity_user_idx").on(t.userId, t.occurredAt),
  ],
);

/** Per user and active day (UTC): what the insights, segments and the churn model read. */
export const activityDaily = sqliteTable(
  "activity_daily",
  {
    userId: text("user_id").notNull(),
    day: text("day").notNull(),
    events: integer("events").notNull().default(0),
    logins: integer("logins").notNull().default(0),
    failedLogins: integer("failed_logins").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.day] }),
    index("activity_daily_day_idx").on(t.day, t.userId),
    // covering (0027_insights_periods.sql): each user's logins within a short period, and within a long one
    index("activity_daily_logins_idx").on(t.day, t.userId, t.logins).where(sql`${t.logins} > 0`),
    index("activity_daily_user_logins_idx").on(t.userId, t.day, t.logins).where(sql`${t.logins} > 0`),
    // covering (0027_insights_periods.sql): the users active within a period
    index("activity_daily_active_idx")
      .on(t.day, t.userId, t.events, t.logins)
      .where(sql`${t.events} > 0 OR ${t.logins} > 0`),
  ],
);

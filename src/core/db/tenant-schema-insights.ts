import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

// Mirrors migrations/tenant/0026_insights_rollups.sql and 0027_insights_periods.sql (docs/insights.md); re-exported by
// tenant-schema.ts. Their indexes on users and activity_daily are declared with those tables, and their triggers live
// in the SQL only.

/** The per-day figures of closed days, rolled up by the daily cron; a day's row is deleted when its inputs change. */
export const insightsDaily = sqliteTable("insights_daily", {
  day: text("day").primaryKey(),
  signups: integer("signups").notNull(),
  deletions: integer("deletions").notNull(),
  activeUsers: integer("active_users").notNull(),
  rolledUpAt: text("rolled_up_at").notNull(),
});

/**
 * The figures of closed ISO weeks and calendar months, rolled up by the daily cron: active users, the churned of them
 * (NULL until the next period is closed too), for weeks the active users by sign-up week (JSON).
 */
export const insightsPeriods = sqliteTable(
  "insights_periods",
  {
    period: text("period", { enum: ["week", "month"] }).notNull(),
    start: text("start").notNull(),
    activeUsers: integer("active_users").notNull(),
    churned: integer("churned"),
    cohorts: text("cohorts"),
    rolledUpAt: text("rolled_up_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.period, t.start] })],
);

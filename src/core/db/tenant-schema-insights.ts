import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

// Mirrors migrations/tenant/0026_insights_rollups.sql (docs/insights.md); re-exported by tenant-schema.ts. Its two
// indexes on users are declared with the users table (tenant-schema.ts) and its triggers live in the SQL only.

/** The per-day figures of closed days, rolled up by the daily cron; a day's row is deleted when its inputs change. */
export const insightsDaily = sqliteTable("insights_daily", {
  day: text("day").primaryKey(),
  signups: integer("signups").notNull(),
  deletions: integer("deletions").notNull(),
  activeUsers: integer("active_users").notNull(),
  rolledUpAt: text("rolled_up_at").notNull(),
});

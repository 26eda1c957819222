import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, unique } from "drizzle-orm/sqlite-core";

// Mirrors migrations/tenant/0016_notifications.sql (docs/notifications.md); re-exported by tenant-schema.ts.

/** Notification templates (migrations/tenant/0016_notifications.sql; queried in SQL by src/modules/notifications). */
export const notificationTemplates = sqliteTable(
  "notification_templates",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    event: text("event").notNull(),
    channel: text("channel", { enum: ["email", "sms", "push"] }).notNull(),
    locale: text("locale").notNull(),
    subject: text("subject"),
    html: text("html"),
    text: text("text").notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    version: integer("version").notNull().default(1),
  },
  (t) => [unique().on(t.event, t.channel, t.locale)],
);

/** Channel settings (credentials sealed) and the notification settings, one row each. */
export const notificationConfig = sqliteTable("notification_config", {
  name: text("name", { enum: ["email", "sms", "push", "settings"] }).primaryKey(),
  config: text("config").notNull(),
  secretSealed: text("secret_sealed"),
  updatedAt: text("updated_at").notNull(),
});

/** The notification log: one row per message, no address, no content. */
export const notifications = sqliteTable(
  "notifications",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    template: text("template").notNull(),
    channel: text("channel", { enum: ["email", "sms", "push"] }).notNull(),
    category: text("category").notNull(),
    userId: text("user_id").notNull(),
    status: text("status", { enum: ["queued", "sent", "failed", "suppressed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    error: text("error"),
    claimedAt: text("claimed_at"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    sentAt: text("sent_at"),
    dueAt: text("due_at"),
  },
  (t) => [
    unique().on(t.eventId, t.channel, t.template),
    index("notifications_created_idx").on(t.createdAt, t.id),
    index("notifications_user_idx").on(t.userId, t.createdAt),
    index("notifications_queued_idx").on(t.dueAt).where(sql`${t.status} = 'queued'`),
  ],
);

export const notificationPreferences = sqliteTable("notification_preferences", {
  userId: text("user_id").primaryKey(),
  optedOut: text("opted_out").notNull().default("[]"),
  updatedAt: text("updated_at").notNull(),
});

/** Web Push subscriptions: endpoint and keys sealed together; a SHA-256 of the endpoint for uniqueness. */
export const pushSubscriptions = sqliteTable(
  "push_subscriptions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    endpointHash: text("endpoint_hash").notNull(),
    sealed: text("sealed").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [unique().on(t.userId, t.endpointHash)],
);

export const notificationDevices = sqliteTable(
  "notification_devices",
  {
    userId: text("user_id").notNull(),
    device: text("device").notNull(),
    firstSeenAt: text("first_seen_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.device] })],
);

export const notificationReminders = sqliteTable("notification_reminders", {
  userId: text("user_id").primaryKey(),
  remindedAt: text("reminded_at").notNull(),
});

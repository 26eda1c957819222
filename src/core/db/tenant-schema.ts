import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

// Mirrors migrations/tenant/*.sql (test/db/schema.test.ts checks that they agree).

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email").notNull(),
    emailNormalized: text("email_normalized").notNull().unique(),
    username: text("username"),
    usernameNormalized: text("username_normalized").unique(),
    name: text("name"),
    phone: text("phone"),
    status: text("status", { enum: ["active", "disabled", "deleted"] }).notNull(),
    restoreStatus: text("restore_status", { enum: ["active", "disabled"] }),
    attributes: text("attributes", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    roles: text("roles", { mode: "json" }).$type<string[]>().notNull(),
    passwordHash: text("password_hash"),
    mfaTotp: integer("mfa_totp", { mode: "boolean" }).notNull().default(false),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    deletedAt: text("deleted_at"),
    lastLoginAt: text("last_login_at"),
    version: integer("version").notNull().default(1),
  },
  (t) => [index("users_created_idx").on(t.createdAt, t.id), index("users_updated_idx").on(t.updatedAt, t.id)],
);

export type UserRow = typeof users.$inferSelect;

export const userTotp = sqliteTable("user_totp", {
  userId: text("user_id").primaryKey(),
  secretSealed: text("secret_sealed").notNull(),
  state: text("state", { enum: ["pending", "active"] }).notNull(),
  lastStep: integer("last_step").notNull().default(0),
  createdAt: text("created_at").notNull(),
  activatedAt: text("activated_at"),
});

export const userRecoveryCodes = sqliteTable(
  "user_recovery_codes",
  {
    codeHash: text("code_hash").primaryKey(),
    userId: text("user_id").notNull(),
    createdAt: text("created_at").notNull(),
    usedAt: text("used_at"),
  },
  (t) => [index("user_recovery_codes_user_idx").on(t.userId)],
);

export const outboxEvents = sqliteTable(
  "outbox_events",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    subjectId: text("subject_id"),
    data: text("data").notNull(),
    secretSealed: text("secret_sealed"),
    createdAt: text("created_at").notNull(),
    dispatchedAt: text("dispatched_at"),
  },
  (t) => [index("outbox_events_pending_idx").on(t.createdAt), index("outbox_events_type_idx").on(t.type, t.createdAt)],
);

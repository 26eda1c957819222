import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

// Tables in both the control and the tenant databases (migrations/shared/*.sql).

export const auditEvents = sqliteTable(
  "audit_events",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    id: text("id").notNull().unique(),
    action: text("action").notNull(),
    actorType: text("actor_type").notNull(),
    actorId: text("actor_id"),
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id"),
    changes: text("changes").notNull(),
    requestId: text("request_id"),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: text("created_at").notNull(),
    mac: text("mac").notNull(),
    hash: text("hash"),
  },
  (t) => [
    index("audit_events_resource_idx").on(t.resourceId, t.seq),
    index("audit_events_action_idx").on(t.action, t.seq),
    index("audit_events_actor_idx").on(t.actorId, t.seq),
    index("audit_events_created_idx").on(t.createdAt, t.seq),
  ],
);

export type AuditEventRow = typeof auditEvents.$inferSelect;

export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    keyHash: text("key_hash").primaryKey(),
    requestHash: text("request_hash").notNull(),
    state: text("state", { enum: ["pending", "done"] }).notNull(),
    response: text("response"),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [index("idempotency_keys_expires_idx").on(t.expiresAt)],
);

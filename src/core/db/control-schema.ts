import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

// Mirrors migrations/control/*.sql (test/db/schema.test.ts checks that they agree).

export const tenants = sqliteTable(
  "tenants",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    plan: text("plan", { enum: ["free", "pro", "enterprise"] }).notNull(),
    parentId: text("parent_id"),
    databaseBinding: text("database_binding").notNull().unique(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    version: integer("version").notNull().default(1),
    securityPolicy: text("security_policy", { mode: "json" }).$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index("tenants_parent_idx").on(t.parentId), index("tenants_created_idx").on(t.createdAt, t.id)],
);

export const tenantDatabases = sqliteTable("tenant_databases", {
  binding: text("binding").primaryKey(),
  tenantId: text("tenant_id").unique(),
  claimedAt: text("claimed_at"),
  releasedAt: text("released_at"),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    secretHash: text("secret_hash").notNull().unique(),
    tail: text("tail").notNull(),
    roles: text("roles", { mode: "json" }).$type<string[]>().notNull(),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at"),
    revokedAt: text("revoked_at"),
    lastUsedAt: text("last_used_at"),
  },
  (t) => [index("api_keys_tenant_idx").on(t.tenantId, t.createdAt)],
);

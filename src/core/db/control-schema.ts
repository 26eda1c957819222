import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
    rateLimits: text("rate_limits", { mode: "json" }).$type<Record<string, unknown>>(),
  },
  (t) => [index("tenants_parent_idx").on(t.parentId), index("tenants_created_idx").on(t.createdAt, t.id)],
);

export const tenantDatabases = sqliteTable("tenant_databases", {
  binding: text("binding").primaryKey(),
  tenantId: text("tenant_id").unique(),
  claimedAt: text("claimed_at"),
  releasedAt: text("released_at"),
});

/** Secret hash → key and tenant: all authentication needs before it knows the tenant (keys live in its database). */
export const apiKeyIndex = sqliteTable(
  "api_key_index",
  {
    secretHash: text("secret_hash").primaryKey(),
    keyId: text("key_id").notNull(),
    tenantId: text("tenant_id").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("api_key_index_tenant_idx").on(t.tenantId)],
);

/** Per-tenant data keys, wrapped under a MASTER_KEY-derived key (src/core/crypto/data-keys.ts). */
export const tenantDataKeys = sqliteTable(
  "tenant_data_keys",
  {
    tenantId: text("tenant_id").notNull(),
    version: integer("version").notNull(),
    wrappedKey: text("wrapped_key").notNull(),
    createdAt: text("created_at").notNull(),
    retiredAt: text("retired_at"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.version] })],
);

/** OAuth client_id → tenant: all client authentication needs before it knows the tenant (clients live in its database). */
export const oauthClientIndex = sqliteTable(
  "oauth_client_index",
  {
    clientId: text("client_id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("oauth_client_index_tenant_idx").on(t.tenantId)],
);

/** Access-token signing keys (src/modules/oauth/signing-keys.ts); the private key only sealed under MASTER_KEY. */
export const signingKeys = sqliteTable("signing_keys", {
  kid: text("kid").primaryKey(),
  publicJwk: text("public_jwk").notNull(),
  privateSealed: text("private_sealed").notNull(),
  createdAt: text("created_at").notNull(),
  activatesAt: text("activates_at").notNull(),
  retiresAt: text("retires_at"),
  expiresAt: text("expires_at"),
});

/** Plan change requests (src/modules/plans): at most one pending per tenant (a partial unique index in SQL). */
export const planChangeRequests = sqliteTable(
  "plan_change_requests",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    fromPlan: text("from_plan", { enum: ["free", "pro", "enterprise"] }).notNull(),
    toPlan: text("to_plan", { enum: ["free", "pro", "enterprise"] }).notNull(),
    note: text("note"),
    status: text("status", { enum: ["pending", "applied", "cancelled"] }).notNull(),
    createdAt: text("created_at").notNull(),
    resolvedAt: text("resolved_at"),
  },
  (t) => [
    index("plan_change_requests_tenant_idx").on(t.tenantId, t.status),
    uniqueIndex("plan_change_requests_one_pending_idx").on(t.tenantId).where(sql`status = 'pending'`),
    index("plan_change_requests_created_idx").on(t.createdAt, t.id),
  ],
);

/**
 * The platform outbox (control migration 0008): an event per change audited here that a tenant's integrations must
 * hear of (tenant.*, plan.*, a tenant's first key), written by a trigger on `audit_events` (docs/events.md).
 */
export const platformEvents = sqliteTable(
  "platform_events",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    parentId: text("parent_id"),
    type: text("type").notNull(),
    subjectId: text("subject_id"),
    data: text("data").notNull(),
    sequence: integer("sequence").notNull(),
    createdAt: text("created_at").notNull(),
    sentAt: text("sent_at"),
    sendCount: integer("send_count").notNull().default(0),
    dispatchedAt: text("dispatched_at"),
    deadAt: text("dead_at"),
  },
  (t) => [
    index("platform_events_pending_idx").on(t.createdAt, t.id).where(sql`dispatched_at IS NULL AND dead_at IS NULL`),
    index("platform_events_subject_seq_idx").on(t.subjectId, t.sequence),
    index("platform_events_created_idx").on(t.createdAt, t.id),
  ],
);

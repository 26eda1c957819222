import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Mirrors migrations/tenant/*.sql (test/db/schema.test.ts checks that they agree).

export * from "./tenant-schema-activity";
export * from "./tenant-schema-churn";
export * from "./tenant-schema-insights";
export * from "./tenant-schema-notifications";
export * from "./tenant-schema-reports";
export * from "./tenant-schema-segments";
export * from "./tenant-schema-webhooks";

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    // personal data: ciphertexts and keyed blind indexes only (src/modules/users/users.pii.ts)
    emailCt: text("email_ct").notNull(),
    emailBidx: text("email_bidx").notNull().unique(),
    username: text("username"),
    usernameNormalized: text("username_normalized").unique(),
    name: text("name"),
    phoneCt: text("phone_ct"),
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
    phoneBidx: text("phone_bidx"),
    keyVersion: integer("key_version").notNull().default(0),
    emailVerifiedAt: text("email_verified_at"),
    // `pii` custom fields, keyed by field id: AES-GCM ciphertexts, and blind indexes of the filterable ones
    piiAttributes: text("pii_attributes", { mode: "json" }).$type<Record<string, string>>(),
    piiIndex: text("pii_index", { mode: "json" }).$type<Record<string, string>>(),
    /** The provisioning client's id of the user (SCIM `externalId`), unique when set. */
    externalId: text("external_id"),
    // keyed n-gram tokens for search (migrations/tenant/0010_search.sql; src/modules/search/keyed-grams.ts)
    contactGrams: text("contact_grams"),
    piiGrams: text("pii_grams"),
    // activity (migrations/tenant/0022_activity.sql): accurate to the hour, and the successful logins
    lastActiveAt: text("last_active_at"),
    loginCount: integer("login_count").notNull().default(0),
  },
  (t) => [
    index("users_created_idx").on(t.createdAt, t.id),
    index("users_updated_idx").on(t.updatedAt, t.id),
    index("users_phone_bidx_idx").on(t.phoneBidx).where(sql`${t.phoneBidx} IS NOT NULL`),
    index("users_key_version_idx").on(t.keyVersion),
    index("users_last_login_idx").on(t.lastLoginAt, t.id),
    uniqueIndex("users_external_id_idx").on(t.externalId).where(sql`${t.externalId} IS NOT NULL`),
    index("users_deleted_idx").on(t.status).where(sql`${t.status} = 'deleted'`),
    index("users_grams_missing_idx").on(t.id).where(sql`${t.contactGrams} IS NULL`),
    // covering (0027_insights_periods.sql): the users active since a day, by status and sign-up
    index("users_last_active_idx").on(t.lastActiveAt, t.id, t.status, t.createdAt),
    // insights (migrations/tenant/0026_insights_rollups.sql): totals by status as of a date, deletions in a period
    index("users_status_created_idx").on(t.status, t.createdAt),
    index("users_deleted_at_idx").on(t.deletedAt).where(sql`${t.deletedAt} IS NOT NULL`),
  ],
);

/** Roles known by name beyond the built-in ones (today: SCIM groups, which may have no member yet). */
export const roles = sqliteTable(
  "roles",
  {
    name: text("name").primaryKey(),
    displayName: text("display_name").notNull(),
    externalId: text("external_id"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    version: integer("version").notNull().default(1),
    grants: text("grants", { mode: "json" }).$type<string[]>().notNull().default([]),
    description: text("description"),
  },
  (t) => [
    uniqueIndex("roles_display_name_idx").on(sql`${t.displayName} COLLATE NOCASE`),
    uniqueIndex("roles_external_id_idx").on(t.externalId).where(sql`${t.externalId} IS NOT NULL`),
  ],
);
export type RoleRow = typeof roles.$inferSelect;

/** A users row as stored: personal data encrypted. */
export type StoredUserRow = typeof users.$inferSelect;
/** The columns that hold personal data sealed (ciphertexts, blind indexes, their key version, n-gram tokens). */
export type SealedUserColumns =
  | "emailCt"
  | "emailBidx"
  | "phoneCt"
  | "phoneBidx"
  | "keyVersion"
  | "piiAttributes"
  | "piiIndex"
  | "contactGrams"
  | "piiGrams";
/** A user as the code handles it: personal data opened, in memory only (never written as such). */
export type UserRow = Omit<StoredUserRow, SealedUserColumns> & {
  email: string;
  emailNormalized: string;
  phone: string | null;
};

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
    /** Per subject, from 1: computed inside the INSERT (migrations/tenant/0013_event_sequence.sql). */
    sequence: integer("sequence"),
    sentAt: text("sent_at"),
    /** Hand-overs to the EVENTS queue; at the cap the row is marked dead (migrations/tenant/0014_outbox_delivery.sql). */
    sendCount: integer("send_count").notNull().default(0),
    deadAt: text("dead_at"),
  },
  (t) => [
    index("outbox_events_pending_idx").on(t.createdAt, t.id).where(sql`dispatched_at IS NULL AND dead_at IS NULL`),
    index("outbox_events_type_idx").on(t.type, t.createdAt),
    index("outbox_events_subject_seq_idx").on(t.subjectId, t.sequence),
    index("outbox_events_created_idx").on(t.createdAt, t.id),
  ],
);

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    roles: text("roles", { mode: "json" }).$type<string[]>().notNull(),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at"),
    revokedAt: text("revoked_at"),
    lastUsedAt: text("last_used_at"),
    version: integer("version").notNull().default(1),
    rateLimit: text("rate_limit", { mode: "json" }).$type<Record<string, unknown>>(),
    // the dated API version a request without Uom-Version is answered in (docs/versioning.md)
    apiVersion: text("api_version").notNull().default("2026-11-01"),
  },
  (t) => [index("api_keys_created_idx").on(t.createdAt, t.id)],
);

export const apiKeySecrets = sqliteTable(
  "api_key_secrets",
  {
    secretHash: text("secret_hash").primaryKey(),
    keyId: text("key_id").notNull(),
    tail: text("tail").notNull(),
    createdAt: text("created_at").notNull(),
    retiresAt: text("retires_at"),
  },
  (t) => [index("api_key_secrets_key_idx").on(t.keyId, t.createdAt)],
);

export const oauthClients = sqliteTable(
  "oauth_clients",
  {
    id: text("id").primaryKey(),
    clientId: text("client_id").notNull().unique(),
    name: text("name").notNull(),
    secretHash: text("secret_hash").notNull(),
    grantTypes: text("grant_types", { mode: "json" }).$type<string[]>().notNull(),
    roles: text("roles", { mode: "json" }).$type<string[]>().notNull(),
    createdAt: text("created_at").notNull(),
    deletedAt: text("deleted_at"),
  },
  (t) => [index("oauth_clients_created_idx").on(t.createdAt, t.id)],
);

export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    familyId: text("family_id").notNull(),
    userId: text("user_id").notNull(),
    clientId: text("client_id").notNull(),
    scope: text("scope").notNull(),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
    usedAt: text("used_at"),
    revokedAt: text("revoked_at"),
  },
  (t) => [index("refresh_tokens_family_idx").on(t.familyId), index("refresh_tokens_client_idx").on(t.clientId)],
);

/** migrations/tenant/0018_oauth_authorization_codes.sql */
export const oauthAuthorizationCodes = sqliteTable(
  "oauth_authorization_codes",
  {
    codeHash: text("code_hash").primaryKey(),
    clientId: text("client_id").notNull(),
    userId: text("user_id").notNull(),
    redirectUri: text("redirect_uri").notNull(),
    codeChallenge: text("code_challenge").notNull(),
    method: text("method").notNull(),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [index("oauth_authorization_codes_expires_idx").on(t.expiresAt)],
);

export const userTokens = sqliteTable(
  "user_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: text("user_id").notNull(),
    purpose: text("purpose", { enum: ["password_reset", "email_verification"] }).notNull(),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
    usedAt: text("used_at"),
  },
  (t) => [index("user_tokens_user_idx").on(t.userId, t.purpose)],
);

/** Custom field definitions (src/modules/schema): the schema module reads and writes them with plain SQL. */
export const customFields = sqliteTable("custom_fields", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  type: text("type").notNull(),
  rules: text("rules").notNull(),
  previousName: text("previous_name").unique(),
  previousNameUntil: text("previous_name_until"),
  deletedAt: text("deleted_at"),
  createdAt: text("created_at").notNull(),
  updatedAt: text("updated_at").notNull(),
  version: integer("version").notNull().default(1),
});

export const schemaState = sqliteTable("schema_state", {
  singleton: integer("singleton").primaryKey(),
  version: integer("version").notNull(),
});

export const schemaJobs = sqliteTable(
  "schema_jobs",
  {
    id: text("id").primaryKey(),
    fieldId: text("field_id").notNull(),
    kind: text("kind", { enum: ["purge", "rename", "convert", "backfill", "reindex"] }).notNull(),
    params: text("params").notNull().default("{}"),
    afterRowid: integer("after_rowid").notNull().default(0),
    createdAt: text("created_at").notNull(),
    finishedAt: text("finished_at"),
  },
  (t) => [index("schema_jobs_open_idx").on(t.createdAt).where(sql`${t.finishedAt} IS NULL`)],
);

/** A plugin's per-tenant state (migrations/tenant/0017_plugins_actions.sql, docs/plugins.md). */
export const pluginSettings = sqliteTable("plugin_settings", {
  pluginId: text("plugin_id").primaryKey(),
  enabled: integer("enabled", { mode: "boolean" }).notNull(),
  config: text("config").notNull(),
  secretsSealed: text("secrets_sealed"),
  version: integer("version").notNull(),
  createdAt: text("created_at").notNull(),
  updatedAt: text("updated_at").notNull(),
});

/** The plugins' own schema versions applied in this database. */
export const pluginMigrations = sqliteTable(
  "_plugin_migrations",
  {
    pluginId: text("plugin_id").notNull(),
    version: integer("version").notNull(),
    appliedAt: text("applied_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.pluginId, t.version] })],
);

/** Events a plugin's handlers have run for: at-least-once delivery, handled once. */
export const pluginEventReceipts = sqliteTable(
  "plugin_event_receipts",
  {
    pluginId: text("plugin_id").notNull(),
    eventId: text("event_id").notNull(),
    handledAt: text("handled_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.pluginId, t.eventId] })],
);

/** HTTP actions: a tenant's blocking hooks at a URL (docs/actions.md). */
export const actions = sqliteTable(
  "actions",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    trigger: text("trigger").notNull(),
    url: text("url").notNull(),
    timeoutMs: integer("timeout_ms").notNull(),
    failurePolicy: text("failure_policy", { enum: ["open", "closed"] }).notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull(),
    secretSealed: text("secret_sealed").notNull(),
    version: integer("version").notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [index("actions_trigger_idx").on(t.trigger, t.enabled, t.createdAt)],
);

export const actionExecutions = sqliteTable(
  "action_executions",
  {
    id: text("id").primaryKey(),
    actionId: text("action_id").notNull(),
    trigger: text("trigger").notNull(),
    outcome: text("outcome").notNull(),
    httpStatus: integer("http_status"),
    durationMs: integer("duration_ms").notNull(),
    error: text("error"),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("action_executions_action_idx").on(t.actionId, t.id)],
);

/** Which credential called which deprecated route on which day (UTC): one event each (docs/versioning.md). */
export const deprecationNotices = sqliteTable(
  "deprecation_notices",
  {
    day: text("day").notNull(),
    credential: text("credential").notNull(),
    route: text("route").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.credential, t.route] })],
);

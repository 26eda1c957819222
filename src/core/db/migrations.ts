import controlInit from "../../../migrations/control/0001_init.sql";
import controlSecurityPolicy from "../../../migrations/control/0002_security_policy.sql";
import controlTenantDataKeys from "../../../migrations/control/0003_tenant_data_keys.sql";
import controlApiKeyIndex from "../../../migrations/control/0004_api_key_index.sql";
import controlOauth from "../../../migrations/control/0005_oauth.sql";
import controlBatchAssertions from "../../../migrations/control/0006_batch_assertions.sql";
import controlPlanChangeRequests from "../../../migrations/control/0007_plan_change_requests.sql";
import controlPlatformEvents from "../../../migrations/control/0008_platform_events.sql";
import controlRateLimits from "../../../migrations/control/0009_rate_limits.sql";
import sharedAuditIdempotency from "../../../migrations/shared/audit-and-idempotency.sql";
import tenantInit from "../../../migrations/tenant/0001_init.sql";
import tenantMfaTotp from "../../../migrations/tenant/0002_mfa_totp.sql";
import tenantOutbox from "../../../migrations/tenant/0003_outbox.sql";
import tenantUserTokens from "../../../migrations/tenant/0004_user_tokens.sql";
import tenantEncryptedPii from "../../../migrations/tenant/0005_encrypted_pii.sql";
import tenantApiKeys from "../../../migrations/tenant/0006_api_keys.sql";
import tenantOauth from "../../../migrations/tenant/0007_oauth.sql";
import tenantCustomFields from "../../../migrations/tenant/0008_custom_fields.sql";
import tenantScim from "../../../migrations/tenant/0009_scim.sql";
import tenantSearch from "../../../migrations/tenant/0010_search.sql";
import tenantSearchTiers from "../../../migrations/tenant/0011_search_tiers.sql";
import tenantCustomRoles from "../../../migrations/tenant/0012_custom_roles.sql";
import tenantEventSequence from "../../../migrations/tenant/0013_event_sequence.sql";
import tenantOutboxDelivery from "../../../migrations/tenant/0014_outbox_delivery.sql";
import tenantWebhooks from "../../../migrations/tenant/0015_webhooks.sql";
import tenantNotifications from "../../../migrations/tenant/0016_notifications.sql";
import tenantPluginsActions from "../../../migrations/tenant/0017_plugins_actions.sql";
import tenantOauthCodes from "../../../migrations/tenant/0018_oauth_authorization_codes.sql";
import tenantDeliveryLogs from "../../../migrations/tenant/0019_delivery_logs.sql";
import tenantApiKeyRateLimits from "../../../migrations/tenant/0020_api_key_rate_limits.sql";
import tenantApiKeyVersions from "../../../migrations/tenant/0021_api_key_versions.sql";
import tenantActivity from "../../../migrations/tenant/0022_activity.sql";
import tenantSegments from "../../../migrations/tenant/0023_segments.sql";
import tenantChurn from "../../../migrations/tenant/0024_churn.sql";
import tenantReports from "../../../migrations/tenant/0025_reports.sql";
import tenantInsightsRollups from "../../../migrations/tenant/0026_insights_rollups.sql";
import tenantInsightsPeriods from "../../../migrations/tenant/0027_insights_periods.sql";

export interface Migration {
  version: number;
  name: string;
  /** SQL files; statements separated by drizzle-kit's `--> statement-breakpoint` marker. */
  sql: string[];
}

/** Control database migrations, in order. Append only: an applied migration is never edited. */
export const controlMigrations: readonly Migration[] = [
  { version: 1, name: "0001_init", sql: [controlInit, sharedAuditIdempotency] },
  { version: 2, name: "0002_security_policy", sql: [controlSecurityPolicy] },
  { version: 3, name: "0003_tenant_data_keys", sql: [controlTenantDataKeys] },
  { version: 4, name: "0004_api_key_index", sql: [controlApiKeyIndex] },
  { version: 5, name: "0005_oauth", sql: [controlOauth] },
  { version: 6, name: "0006_batch_assertions", sql: [controlBatchAssertions] },
  { version: 7, name: "0007_plan_change_requests", sql: [controlPlanChangeRequests] },
  { version: 8, name: "0008_platform_events", sql: [controlPlatformEvents] },
  { version: 9, name: "0009_rate_limits", sql: [controlRateLimits] },
];

/** Tenant database migrations, in order; every pooled database is brought to the last one on first use. */
export const tenantMigrations: readonly Migration[] = [
  { version: 1, name: "0001_init", sql: [tenantInit, sharedAuditIdempotency] },
  { version: 2, name: "0002_mfa_totp", sql: [tenantMfaTotp] },
  { version: 3, name: "0003_outbox", sql: [tenantOutbox] },
  { version: 4, name: "0004_user_tokens", sql: [tenantUserTokens] },
  { version: 5, name: "0005_encrypted_pii", sql: [tenantEncryptedPii] },
  { version: 6, name: "0006_api_keys", sql: [tenantApiKeys] },
  { version: 7, name: "0007_oauth", sql: [tenantOauth] },
  { version: 8, name: "0008_custom_fields", sql: [tenantCustomFields] },
  { version: 9, name: "0009_scim", sql: [tenantScim] },
  { version: 10, name: "0010_search", sql: [tenantSearch] },
  { version: 11, name: "0011_search_tiers", sql: [tenantSearchTiers] },
  { version: 12, name: "0012_custom_roles", sql: [tenantCustomRoles] },
  { version: 13, name: "0013_event_sequence", sql: [tenantEventSequence] },
  { version: 14, name: "0014_outbox_delivery", sql: [tenantOutboxDelivery] },
  { version: 15, name: "0015_webhooks", sql: [tenantWebhooks] },
  { version: 16, name: "0016_notifications", sql: [tenantNotifications] },
  { version: 17, name: "0017_plugins_actions", sql: [tenantPluginsActions] },
  { version: 18, name: "0018_oauth_authorization_codes", sql: [tenantOauthCodes] },
  { version: 19, name: "0019_delivery_logs", sql: [tenantDeliveryLogs] },
  { version: 20, name: "0020_api_key_rate_limits", sql: [tenantApiKeyRateLimits] },
  { version: 21, name: "0021_api_key_versions", sql: [tenantApiKeyVersions] },
  { version: 22, name: "0022_activity", sql: [tenantActivity] },
  { version: 23, name: "0023_segments", sql: [tenantSegments] },
  { version: 24, name: "0024_churn", sql: [tenantChurn] },
  { version: 25, name: "0025_reports", sql: [tenantReports] },
  { version: 26, name: "0026_insights_rollups", sql: [tenantInsightsRollups] },
  { version: 27, name: "0027_insights_periods", sql: [tenantInsightsPeriods] },
];

export function statementsOf(migration: Migration): string[] {
  return migration.sql
    .flatMap((file) => file.split("--> statement-breakpoint"))
    .map((statement) => statement.trim())
    .filter((statement) => statement.replace(/^--.*$/gm, "").trim().length > 0);
}

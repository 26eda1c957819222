import { ApiError, CoreErrors } from "./errors";

/**
 * The plans, in one typed table: what each includes (features), how much (quotas) and the bounds of the rate
 * limits a tenant may set (used by the traffic-control issue). Every tenant route declares its feature
 * (defineRoute); a route outside the tenant's plan answers 403 FEATURE_NOT_IN_PLAN naming the cheapest plan
 * that has it. Downgrading keeps every row; what the new plan lacks stops working (docs/plans.md).
 */

export const PLANS = ["free", "pro", "enterprise"] as const;
export type Plan = (typeof PLANS)[number];

export const FEATURES = {
  users: "User CRUD, bulk operations, soft delete, search and filters, passwords and second factors",
  credentials: "API keys, OAuth2 clients and tokens, the security policy",
  "custom-schema": "Custom fields with validation",
  roles: "The built-in roles (admin, manager, basic, scim), role assignment, the permission catalogue",
  "custom-roles": "Custom roles and field-level permissions (grants on restricted fields)",
  "sub-accounts": "Sub-accounts for clients or departments, acting on them with Uom-Account",
  plan: "The plan, its usage and change requests",
  "audit-api": "The audit-log API",
  scim: "SCIM 2.0 provisioning (Okta, Entra ID)",
  webhooks: "Webhooks (one endpoint on free) and the event log (GET /v1/events)",
  analytics: "Usage analytics",
  insights: "User insights",
  segments: "Saved and learned segments",
  churn: "Churn prediction",
  reports: "Scheduled reports",
  plugins: "Plugins enabled per tenant and HTTP actions (docs/plugins.md, docs/actions.md)",
  notifications: "Email notifications: templates, the email channel, the notification log, preferences",
  "notifications-sms-push": "SMS and Web Push notification channels",
} as const;
export type Feature = keyof typeof FEATURES;

export interface Quotas {
  /** Users stored, soft-deleted ones included (they can be restored) until purged; null is unlimited. */
  maxUsers: number | null;
  requestsPerMonth: number | null;
  subAccounts: number;
  webhookEndpoints: number;
  auditRetentionDays: number;
  /** How long raw activity (logins, product events) is kept; the daily rollups are kept longer (docs/activity.md). */
  activityRetentionDays: number;
}
export type QuotaName = keyof Quotas;

export interface RateLimitBounds {
  /** What a tenant gets until it sets its own policy. */
  default: { burst: number; ratePerSecond: number };
  /** The most a tenant may set. */
  max: { burst: number; ratePerSecond: number };
}

export interface PlanConfig {
  features: readonly Feature[];
  quotas: Quotas;
  rateLimits: RateLimitBounds;
}

const FREE_FEATURES: readonly Feature[] = [
  "users",
  "credentials",
  "custom-schema",
  "roles",
  "sub-accounts",
  "plan",
  "webhooks",
  "notifications",
];
const PREMIUM_FEATURES: readonly Feature[] = [
  "custom-roles",
  "audit-api",
  "scim",
  "analytics",
  "insights",
  "segments",
  "churn",
  "reports",
  "plugins",
  "notifications-sms-push",
];

export const PLAN_CONFIG: Readonly<Record<Plan, PlanConfig>> = {
  free: {
    features: FREE_FEATURES,
    quotas: {
      maxUsers: 1_000,
      requestsPerMonth: 100_000,
      subAccounts: 2,
      webhookEndpoints: 1,
      auditRetentionDays: 7,
      activityRetentionDays: 30,
    },
    rateLimits: { default: { burst: 200, ratePerSecond: 50 }, max: { burst: 400, ratePerSecond: 100 } },
  },
  pro: {
    features: [...FREE_FEATURES, ...PREMIUM_FEATURES],
    quotas: {
      maxUsers: 100_000,
      requestsPerMonth: 5_000_000,
      subAccounts: 25,
      webhookEndpoints: 20,
      auditRetentionDays: 90,
      activityRetentionDays: 180,
    },
    rateLimits: { default: { burst: 1_000, ratePerSecond: 200 }, max: { burst: 4_000, ratePerSecond: 1_000 } },
  },
  enterprise: {
    features: [...FREE_FEATURES, ...PREMIUM_FEATURES],
    quotas: {
      maxUsers: null,
      requestsPerMonth: null,
      subAccounts: 500,
      webhookEndpoints: 200,
      auditRetentionDays: 365,
      activityRetentionDays: 730,
    },
    rateLimits: { default: { burst: 4_000, ratePerSecond: 1_000 }, max: { burst: 40_000, ratePerSecond: 10_000 } },
  },
};

export function planIncludes(plan: Plan, feature: Feature): boolean {
  return PLAN_CONFIG[plan].features.includes(feature);
}

/** The cheapest plan that includes the feature. */
export function requiredPlan(feature: Feature): Plan {
  return PLANS.find((plan) => planIncludes(plan, feature)) ?? "enterprise";
}

export function isFeature(value: string): value is Feature {
  return Object.hasOwn(FEATURES, value);
}

/** 403 FEATURE_NOT_IN_PLAN, naming the feature, the tenant's plan and the cheapest plan that has it. */
export function featureNotInPlan(feature: Feature, plan: Plan): ApiError {
  const needed = requiredPlan(feature);
  return new ApiError(CoreErrors.FEATURE_NOT_IN_PLAN, {
    detail: `${FEATURES[feature]} (${feature}) is not in the ${plan} plan; it comes with ${needed}.`,
    extensions: { feature, plan, requiredPlan: needed },
  });
}

/** 403 QUOTA_EXCEEDED with the limit and the current usage (a bulk create reports it per item). */
export function quotaExceeded(quota: QuotaName, plan: Plan, limit: number, used: number): ApiError {
  return new ApiError(CoreErrors.QUOTA_EXCEEDED, {
    detail: `The ${plan} plan allows ${limit} (${quota}); ${used} are used.`,
    extensions: { quota, plan, limit, used },
  });
}

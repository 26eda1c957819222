import { parseAssignment } from "./assignments";
import { Grants } from "./grants";

/**
 * Permissions are `resource:action` strings. Every tenant route declares the one it needs (defineRoute), so the
 * catalogue below is checked against the route table (test/roles/catalogue.test.ts: none unused, none missing; GET /v1/permissions lists it).
 * Credentials carry Grants (grants.ts): an API key, a user and an OAuth client through their roles, a token
 * through its scope. Deny by default: a role nobody defined grants nothing.
 */
export const PERMISSIONS = [
  "me:read",
  "users:read",
  "users:write",
  "users:delete",
  "roles:read",
  "roles:write",
  // giving users roles (PUT /v1/users/{id}/roles); what may be given is still bounded by the caller's own grants
  "roles:assign",
  "api-keys:read",
  "api-keys:write",
  "oauth-clients:read",
  "oauth-clients:write",
  "audit:read",
  "events:read",
  "webhooks:read",
  "webhooks:write",
  "settings:read",
  "settings:write",
  "schema:read",
  "schema:write",
  "plan:read",
  "plan:write",
  "tenants:read",
  "tenants:write",
  // the SCIM 2.0 endpoints (/scim/v2/*); what a SCIM request may change still takes users:* (src/modules/scim)
  "scim:access",
  // the tenant's plugins (enable, configure) and HTTP actions (docs/plugins.md, docs/actions.md)
  "plugins:read",
  "plugins:write",
  // notification templates, channels, settings and the notification log (src/modules/notifications)
  "notifications:read",
  "notifications:write",
  "usage:read",
  // product activity in (POST /v1/activity) and a user's activity out (GET /v1/users/{id}/activity)
  "activity:write",
  "activity:read",
  // scheduled reports: their schedules, runs and artefacts (src/modules/reports)
  "reports:read",
  "reports:write",
  // saved and learned segments (docs/segments.md); write also retrains the learned ones on demand
  "segments:read",
  "segments:write",
  // churn scores and the model (GET /v1/insights/churn*, /v1/users/{id}/churn-risk); training it on demand
  "churn:read",
  "churn:write",
  // the insights (GET /v1/insights/summary|activity|retention, docs/insights.md)
  "insights:read",
] as const;

export type Permission = (typeof PERMISSIONS)[number];

/**
 * Capabilities no route declares: `sub-accounts:act` lets a credential act on its tenant's sub-accounts with the
 * `Uom-Account` header (core/auth/account.ts).
 */
export const CAPABILITIES = ["sub-accounts:act"] as const;

/** Core user fields that are personal data: read and written only with their field grant (`users.email:read`). */
export const RESTRICTED_CORE_FIELDS = ["email", "phone"] as const;

/** The field grant of a user field: `email` → `users.email:read`, `attributes.salary` → `users.attributes.salary:read`. */
export function fieldGrant(field: string, action: "read" | "write"): string {
  return `users.${field}:${action}`;
}

const MANAGED_USERS = ["users:read", "users:write", "users:delete", "users.email:*", "users.phone:*"];

export const BUILT_IN_ROLES: Readonly<Record<string, { description: string; grants: readonly string[] }>> = {
  admin: { description: "Everything, including every field grant and the sub-accounts.", grants: ["*"] },
  manager: {
    description:
      "Manages users (with their email and phone, not restricted custom fields) and their roles within its own " +
      "rights; reads the audit trail, the event log, the webhooks, the schema, the roles, the plan, the usage analytics and the notification setup and log; reads and records users' activity; reads the insights, segments, churn risks, scheduled reports and their runs. Cannot mint credentials or change settings.",
    grants: [
      ...MANAGED_USERS,
      "me:read",
      "roles:read",
      "roles:assign",
      "audit:read",
      "events:read",
      "webhooks:read",
      "schema:read",
      "plan:read",
      "notifications:read",
      "usage:read",
      "activity:read",
      "activity:write",
      "reports:read",
      "segments:read",
      "churn:read",
      "insights:read",
    ],
  },
  basic: {
    description: "An end user: their own profile, password and second factor only (routes marked x-self).",
    grants: ["me:read"],
  },
  scim: {
    description: "A provisioning client (Okta, Entra ID): the SCIM endpoints and the users it provisions.",
    grants: ["scim:access", "me:read", ...MANAGED_USERS],
  },
};

/** The names of the built-in roles. */
export const BUILT_IN_ROLE_NAMES: readonly string[] = Object.keys(BUILT_IN_ROLES);

export function isBuiltInRole(role: string): boolean {
  return Object.hasOwn(BUILT_IN_ROLES, role);
}

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

/**
 * A tenant's custom roles, name → grants, as loaded with a credential (custom-roles.ts). Empty when the tenant's
 * plan lacks custom roles: a downgrade keeps their definitions but they grant nothing.
 */
export type CustomRoles = ReadonlyMap<string, readonly string[]>;
export const NO_CUSTOM_ROLES: CustomRoles = new Map();

/**
 * The grants of one role: built-in, or the tenant's custom role; nothing for a name nobody defined, and nothing for
 * an assignment scoped to a sub-account (`manager@ten_…`, assignments.ts): that one applies only there.
 */
export function grantsOfRole(role: string, custom: CustomRoles): readonly string[] {
  if (parseAssignment(role).account !== null) return [];
  if (isBuiltInRole(role)) return BUILT_IN_ROLES[role]?.grants ?? [];
  return custom.get(role) ?? [];
}

export function grantsOfRoles(roles: readonly string[], custom: CustomRoles = NO_CUSTOM_ROLES): Grants {
  return new Grants(roles.flatMap((role) => grantsOfRole(role, custom)));
}

/**
 * What the assignments scoped to sub-accounts (`role@account`) grant, by account: the credential holds these only
 * when it acts on that account, or on one below it (core/auth/account.ts).
 */
export function scopedGrantsOfRoles(
  roles: readonly string[],
  custom: CustomRoles = NO_CUSTOM_ROLES,
): ReadonlyMap<string, Grants> {
  const byAccount = new Map<string, string[]>();
  for (const entry of roles) {
    const { role, account } = parseAssignment(entry);
    if (account === null) continue;
    byAccount.set(account, [...(byAccount.get(account) ?? []), ...grantsOfRole(role, custom)]);
  }
  return new Map([...byAccount].map(([account, grants]) => [account, new Grants(grants)]));
}

/**
 * What a holder holds in a sub-account of the tenant it acts in, as far as is known without a query: by default
 * its own grants when it holds `sub-accounts:act` (it may act there with them), else nothing.
 */
export type AccountRights = (accountId: string) => Grants;

export function inheritedRights(holder: Grants): AccountRights {
  const inherited = holder.has("sub-accounts:act") ? holder : Grants.NONE;
  return () => inherited;
}

/**
 * The roles among `roles` that grant something the holder lacks: a caller may hand out only what it has, so no
 * key, client or role edit can be a step up. An assignment scoped to a sub-account (`role@account`) is measured
 * against what the holder holds in that account (`inAccount`).
 */
export function rolesBeyond(
  holder: Grants,
  roles: readonly string[],
  custom: CustomRoles = NO_CUSTOM_ROLES,
  inAccount: AccountRights = inheritedRights(holder),
): string[] {
  return roles.filter((entry) => {
    const { role, account } = parseAssignment(entry);
    const held = account === null ? holder : inAccount(account);
    return grantsOfRole(role, custom).some((g) => !held.covers(g));
  });
}

/**
 * Whether a role name is known: built in, or one of the tenant's custom roles. For an assignment scoped to a
 * sub-account, whether its role is; that the account is one is checked apart (account.ts, it takes a query).
 */
export function isKnownRole(role: string, custom: CustomRoles = NO_CUSTOM_ROLES): boolean {
  const name = parseAssignment(role).role;
  return isBuiltInRole(name) || custom.has(name);
}

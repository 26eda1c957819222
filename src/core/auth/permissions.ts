/**
 * Permissions are `resource:action` strings. Routes declare the one they need (defineRoute), credentials carry a
 * set of them: an API key and a user through their roles, an OAuth client's token through its granted scope.
 * Deny by default: a role this table does not know grants nothing. Custom roles arrive with the Access control
 * issue; until then the built-in roles are the whole catalogue.
 */
export const PERMISSIONS = [
  "users:read",
  "users:write",
  "users:delete",
  "api-keys:read",
  "api-keys:write",
  "oauth-clients:read",
  "oauth-clients:write",
  "audit:read",
  "settings:read",
  "settings:write",
  "schema:read",
  "schema:write",
  // the SCIM 2.0 endpoints (/scim/v2/*); what a SCIM request may change still takes users:* (src/modules/scim)
  "scim:access",
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const BUILT_IN_ROLES: Readonly<Record<string, readonly Permission[]>> = {
  admin: PERMISSIONS,
  // manages users, reads the trail; cannot mint credentials or change the tenant's security settings
  manager: ["users:read", "users:write", "users:delete", "audit:read", "schema:read"],
  // an end user: only their own profile, password and second factor (see `self` in defineRoute)
  basic: [],
  // a provisioning client (Okta, Entra ID): SCIM, and the users it provisions; no audit, keys or settings
  scim: ["scim:access", "users:read", "users:write", "users:delete"],
};

/** The names of the built-in roles. */
export const BUILT_IN_ROLE_NAMES: readonly string[] = Object.keys(BUILT_IN_ROLES);

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

export function permissionsOfRoles(roles: readonly string[]): ReadonlySet<Permission> {
  return new Set(roles.flatMap((role) => (Object.hasOwn(BUILT_IN_ROLES, role) ? (BUILT_IN_ROLES[role] ?? []) : [])));
}

/**
 * The roles among `roles` that grant a permission the holder lacks: a caller may hand out only what it has,
 * so no key, client or role edit can be a step up.
 */
export function rolesBeyond(holder: ReadonlySet<Permission>, roles: readonly string[]): string[] {
  return roles.filter((role) => [...permissionsOfRoles([role])].some((p) => !holder.has(p)));
}

/** Whether a role name is known (today: the built-in roles; custom roles come with the Access control issue). */
export function isKnownRole(role: string): boolean {
  return Object.hasOwn(BUILT_IN_ROLES, role);
}

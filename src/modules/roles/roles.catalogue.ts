import { Grants, isGrantSyntax } from "../../core/auth/grants";
import {
  CAPABILITIES,
  fieldGrant,
  PERMISSIONS,
  type Permission,
  RESTRICTED_CORE_FIELDS,
} from "../../core/auth/permissions";
import type { FieldError } from "../../core/errors";
import { pluginRegistry } from "../../core/plugins/active";
import type { PermissionEntry } from "./roles.schema";

/**
 * The permission catalogue: every permission a route declares (read from the app's route table, so it cannot
 * drift from what the routes check), the capabilities no route declares, and the field grants of the tenant's
 * user fields. The same set decides which grants a custom role may hold: each must grant something real.
 */

const DESCRIPTIONS: Partial<Record<Permission, string>> = {
  "me:read": "Who the caller is: GET /v1/me.",
  "users:read": "Read users (their restricted fields need their field grants).",
  "users:write": "Create and change users, their passwords and second factors, within the caller's rights.",
  "users:delete": "Delete users (soft or for good).",
  "roles:read": "Read roles, the permission catalogue and users' effective permissions.",
  "roles:write": "Create, change and delete custom roles, within the grants the caller holds.",
  "roles:assign": "Give users roles (PUT /v1/users/{id}/roles), within the caller's rights.",
  "api-keys:read": "List and read API keys (never their secrets).",
  "api-keys:write": "Create, rotate and revoke API keys, with roles the caller holds.",
  "oauth-clients:read": "List OAuth clients.",
  "oauth-clients:write": "Create and delete OAuth clients, with roles the caller holds.",
  "audit:read": "Read the audit trail.",
  "events:read": "Read the event log (GET /v1/events): event types, ids and changed field names, no personal data.",
  "settings:read": "Read the security policy.",
  "settings:write": "Change the security policy.",
  "schema:read": "Read the custom-field schema.",
  "schema:write": "Change the custom-field schema.",
  "plan:read": "Read the plan, its quotas and usage.",
  "plan:write": "Ask for another plan.",
  "tenants:read": "Read sub-accounts.",
  "tenants:write": "Create, change and delete sub-accounts.",
  "scim:access": "The SCIM 2.0 endpoints (what they change still takes users:* grants).",
  "plugins:read":
    "List the plugins, their configuration (never its secrets) and the HTTP actions with their executions.",
  "plugins:write": "Enable, configure and disable plugins; create, change and delete HTTP actions.",
};

const CAPABILITY_DESCRIPTIONS: Record<(typeof CAPABILITIES)[number], string> = {
  "sub-accounts:act": "Act on the tenant's sub-accounts with the Uom-Account header.",
};

/** A route of the app's table, as its OpenAPI definition declares it. */
export interface DeclaredRoute {
  method: string;
  path: string;
  permission: string;
}

/** A user field that has field grants: `email`, `phone`, or `attributes.<name>` of a custom field. */
export interface GrantableField {
  field: string;
  restricted: boolean;
  description?: string | null;
}

/** The core fields with field grants, then the tenant's live custom fields. */
export function grantableFields(custom: readonly { name: string; restricted: boolean; description: string | null }[]) {
  const core: GrantableField[] = RESTRICTED_CORE_FIELDS.map((field) => ({ field, restricted: true }));
  return [
    ...core,
    ...custom.map((f) => ({ field: `attributes.${f.name}`, restricted: f.restricted, description: f.description })),
  ];
}

/** Route definitions (OpenAPI registry entries) → the routes that declare a permission. */
export function declaredRoutes(definitions: readonly unknown[]): DeclaredRoute[] {
  const routes: DeclaredRoute[] = [];
  for (const definition of definitions) {
    const { type, route } = definition as { type?: string; route?: Record<string, unknown> };
    const permission = route?.["x-permission"];
    if (type !== "route" || typeof permission !== "string") continue;
    routes.push({ method: String(route?.method).toUpperCase(), path: String(route?.path), permission });
  }
  return routes;
}

export function permissionCatalogue(
  routes: readonly DeclaredRoute[],
  fields: readonly GrantableField[],
): PermissionEntry[] {
  const byPermission = new Map<string, string[]>();
  for (const route of routes) {
    const list = byPermission.get(route.permission) ?? [];
    list.push(`${route.method} ${route.path}`);
    byPermission.set(route.permission, list);
  }
  const order = (p: string) => {
    const i = (PERMISSIONS as readonly string[]).indexOf(p);
    return i < 0 ? PERMISSIONS.length : i;
  };
  const declared = [...byPermission.keys()].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  return [
    ...declared.map(
      (permission): PermissionEntry => ({
        permission,
        kind: "route",
        ...describedAs(permission),
        routes: (byPermission.get(permission) ?? []).sort(),
      }),
    ),
    ...CAPABILITIES.map(
      (permission): PermissionEntry => ({
        permission,
        kind: "capability",
        description: CAPABILITY_DESCRIPTIONS[permission],
      }),
    ),
    ...fields.flatMap(({ field, restricted, description }) =>
      (["read", "write"] as const).map(
        (action): PermissionEntry => ({
          permission: fieldGrant(field, action),
          kind: "field",
          field,
          restricted,
          description: `${action === "read" ? "Read" : "Write"} ${field}${description ? ` (${description})` : ""}.`,
        }),
      ),
    ),
  ];
}

/** A permission's description: a core one's, or the one its plugin declares. */
function describedAs(permission: string): { description?: string } {
  const description = DESCRIPTIONS[permission as Permission] ?? pluginRegistry().permissions.get(permission);
  return description ? { description } : {};
}

/** `users.attributes.*:read|write|*`: the field grants of every custom field, present and future. */
const ALL_ATTRIBUTES = /^users\.attributes\.\*:(read|write|\*)$/;

/**
 * What is wrong with each grant a role would hold (`permissions.<i>`): its syntax, or that it grants nothing
 * real — no permission, capability or field grant of this tenant is a grant or a pattern covering one.
 */
export function grantErrors(grants: readonly string[], fields: readonly GrantableField[]): FieldError[] {
  const real = [
    ...PERMISSIONS,
    ...pluginRegistry().permissions.keys(),
    ...CAPABILITIES,
    ...fields.flatMap(({ field }) => [fieldGrant(field, "read"), fieldGrant(field, "write")]),
  ];
  const errors: FieldError[] = [];
  grants.forEach((grant, i) => {
    const field = `permissions.${i}`;
    if (!isGrantSyntax(grant)) {
      errors.push({
        field,
        code: "invalid_grant",
        detail: `'${grant}' is not a grant: resource:action (users:read), a field grant (users.email:read) or a pattern (users:*).`,
      });
      return;
    }
    const single = new Grants([grant]);
    if (!ALL_ATTRIBUTES.test(grant) && !real.some((permission) => single.has(permission))) {
      errors.push({
        field,
        code: "unknown_grant",
        detail: `'${grant}' grants nothing: no permission, capability or field of this tenant (GET /v1/permissions).`,
      });
    }
  });
  return errors;
}

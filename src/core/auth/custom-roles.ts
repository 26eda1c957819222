import { type Plan, planIncludes } from "../plans";
import { type CustomRoles, NO_CUSTOM_ROLES } from "./permissions";

/**
 * The grants of the custom roles named in a JSON array column (`api_keys.roles`, `users.roles`, …), as one JSON
 * object `{name: grants}`: a subquery to select next to the credential's row, so the roles come with the
 * credential in the same query and are cached with it (no query of their own on the request path). An entry
 * scoped to a sub-account (`role@account`, assignments.ts) names its role before the `@`.
 */
export function customRolesColumn(rolesColumn: string, alias = "custom_roles"): string {
  return `(SELECT json_group_object(r.name, json(r.grants)) FROM roles r
           WHERE r.name IN (SELECT CASE WHEN instr(value, '@') > 0 THEN substr(value, 1, instr(value, '@') - 1)
                                   ELSE value END
                            FROM json_each(${rolesColumn}))) AS ${alias}`;
}

/** Reads that column. A plan without custom roles gets none: their definitions stay, they grant nothing. */
export function parseCustomRoles(json: string | null | undefined, plan: Plan): CustomRoles {
  if (!json || !planIncludes(plan, "custom-roles")) return NO_CUSTOM_ROLES;
  const parsed = JSON.parse(json) as Record<string, unknown>;
  const roles = new Map<string, readonly string[]>();
  for (const [name, grants] of Object.entries(parsed)) {
    if (Array.isArray(grants))
      roles.set(
        name,
        grants.filter((g): g is string => typeof g === "string"),
      );
  }
  return roles;
}

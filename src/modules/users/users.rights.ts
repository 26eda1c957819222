import { scopedAssignmentErrors, scopedAssignments } from "../../core/auth/assignments";
import { customRolesColumn, parseCustomRoles } from "../../core/auth/custom-roles";
import { type CustomRoles, isBuiltInRole, NO_CUSTOM_ROLES, rolesBeyond } from "../../core/auth/permissions";
import type { ServiceContext } from "../../core/context";
import { ApiError } from "../../core/errors";
import { validationError } from "../../core/http/validation";
import { UserErrors } from "./users.errors";

/**
 * A caller manages users only within its rights: it cannot give a user a role that grants more than it holds,
 * nor change, delete, re-password or re-enrol a user who already holds such a role (else a `manager` could set an
 * admin's password and sign in as them). A user acting on their own account is held to the first rule only.
 * The admin token and system work carry no permission set and are not limited.
 */
export function assertWithinRights(
  ctx: ServiceContext,
  target: { id: string; roles: readonly string[] } | null,
  newRoles?: readonly string[],
): void {
  if (!ctx.permissions) return;
  const self = target !== null && ctx.actor.type === "user" && ctx.actor.id === target.id;
  // a role scoped to a sub-account (`manager@ten_…`) counts with what the caller holds in that account
  const held = target && !self ? rolesBeyond(ctx.permissions, target.roles, undefined, ctx.accountRights) : [];
  const added = (newRoles ?? []).filter((role) => !target?.roles.includes(role));
  const granted = rolesBeyond(ctx.permissions, added, undefined, ctx.accountRights);
  if (held.length > 0) {
    throw new ApiError(UserErrors.USER_BEYOND_RIGHTS, {
      detail: `User ${target?.id} holds roles beyond this credential's rights: ${held.join(", ")}.`,
    });
  }
  if (granted.length > 0) {
    throw new ApiError(UserErrors.USER_BEYOND_RIGHTS, {
      detail: `This credential cannot grant the roles ${granted.join(", ")}: they carry permissions it lacks.`,
    });
  }
}

/**
 * Roles scoped to a sub-account that a write gives a user (`manager@ten_…`, docs/sub-accounts.md): the account
 * must be a sub-account of this tenant and the role known (400, `roles.<i>` `unknown_account` / `unknown_role`),
 * and the caller must hold the role's grants in that account (403 USER_BEYOND_RIGHTS). Entries the user already
 * holds are not checked again. Costs nothing when no scoped role is given.
 */
export async function assertAssignable(
  ctx: ServiceContext,
  target: { roles: readonly string[] } | null,
  newRoles: readonly string[],
  fieldPrefix: readonly string[] = [],
): Promise<void> {
  if (!ctx.tenant) return;
  const isNew = (entry: string) => !target?.roles.includes(entry);
  const added = scopedAssignments(newRoles).filter((a) => isNew(newRoles[a.index] as string));
  if (added.length === 0) return;
  const custom = await customRolesNamed(
    ctx,
    added.map((a) => a.role).filter((role) => !isBuiltInRole(role)),
  );
  const errors = await scopedAssignmentErrors(ctx.env, ctx.tenant.id, newRoles, {
    isNew,
    custom,
    field: [...fieldPrefix, "roles"].join("."),
  });
  if (errors.length > 0) throw validationError(errors, "user");
  // measured with the custom roles' grants too (assertWithinRights knows only the built-in ones)
  if (!ctx.permissions) return;
  const entries = added.map((a) => newRoles[a.index] as string);
  const beyond = rolesBeyond(ctx.permissions, entries, custom, ctx.accountRights);
  if (beyond.length > 0) {
    throw new ApiError(UserErrors.USER_BEYOND_RIGHTS, {
      detail: `This credential cannot grant the roles ${beyond.join(", ")}: they carry permissions it lacks there.`,
    });
  }
}

/** The tenant's custom roles among `names` (none on a plan without custom roles): one query, none when empty. */
async function customRolesNamed(ctx: ServiceContext, names: readonly string[]): Promise<CustomRoles> {
  if (names.length === 0 || !ctx.tenant) return NO_CUSTOM_ROLES;
  const row = await ctx.db
    .prepare(`SELECT ${customRolesColumn("?1")}`)
    .bind(JSON.stringify(names))
    .first<{ custom_roles: string | null }>();
  return parseCustomRoles(row?.custom_roles, ctx.tenant.plan);
}

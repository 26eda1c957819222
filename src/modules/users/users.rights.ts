import { parseAssignment, scopedAssignmentErrors, scopedAssignments } from "../../core/auth/assignments";
import { rolesBeyond } from "../../core/auth/permissions";
import type { ServiceContext } from "../../core/context";
import { ApiError } from "../../core/errors";
import { validationError } from "../../core/http/validation";
import { roleDefinitions, validateAssignments } from "../roles/roles.service";
import { UserErrors } from "./users.errors";

/**
 * A caller manages users only within its rights: it cannot give a user a role that grants more than it holds,
 * nor change, delete, re-password or re-enrol a user who already holds such a role (else a `manager` could set an
 * admin's password and sign in as them). A user acting on their own account is held to the first rule only.
 * Custom roles count with their definitions (roles.service.ts). The admin token and system work carry no
 * permission set and are not limited.
 */
export async function assertWithinRights(
  ctx: ServiceContext,
  target: { id: string; roles: readonly string[] } | null,
  newRoles?: readonly string[],
): Promise<void> {
  if (!ctx.permissions) return;
  const self = target !== null && ctx.actor.type === "user" && ctx.actor.id === target.id;
  const held =
    target && !self
      ? rolesBeyond(
          ctx.permissions,
          target.roles,
          await roleDefinitions(ctx, roleNames(target.roles)),
          ctx.accountRights,
        )
      : [];
  if (held.length > 0) {
    throw new ApiError(UserErrors.USER_BEYOND_RIGHTS, {
      detail: `User ${target?.id} holds roles beyond this credential's rights: ${held.join(", ")}.`,
    });
  }
  const added = (newRoles ?? []).filter((role) => !target?.roles.includes(role));
  // a user's role may also be a label nobody defined yet (it grants nothing until it is)
  const { beyond } = await validateAssignments(ctx, added, { unknownRoles: "allow" });
  if (beyond.length > 0) {
    throw new ApiError(UserErrors.USER_BEYOND_RIGHTS, {
      detail: `This credential cannot grant the roles ${beyond.join(", ")}: they carry permissions it lacks.`,
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
  const custom = await roleDefinitions(
    ctx,
    added.map((a) => a.role),
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

/** The role names of assignments (`manager@ten_…` → `manager`). */
function roleNames(entries: readonly string[]): string[] {
  return entries.map((entry) => parseAssignment(entry).role);
}

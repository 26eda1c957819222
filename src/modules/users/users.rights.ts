import { rolesBeyond } from "../../core/auth/permissions";
import type { ServiceContext } from "../../core/context";
import { ApiError } from "../../core/errors";
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
    target && !self ? rolesBeyond(ctx.permissions, target.roles, await roleDefinitions(ctx, target.roles)) : [];
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

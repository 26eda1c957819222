import { rolesBeyond } from "../../core/auth/permissions";
import type { ServiceContext } from "../../core/context";
import { ApiError } from "../../core/errors";
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
  const held = target && !self ? rolesBeyond(ctx.permissions, target.roles) : [];
  const added = (newRoles ?? []).filter((role) => !target?.roles.includes(role));
  const granted = rolesBeyond(ctx.permissions, added);
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

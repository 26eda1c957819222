import { ApiError, CoreErrors } from "../../core/errors";
import { UserErrors } from "../users/users.errors";
import { assertWithinRights } from "../users/users.rights";
import * as users from "../users/users.service";
import { ScimErrors, scimError } from "./scim.errors";
import type { ScimContext } from "./scim.http";

/**
 * Group membership is the users' roles: adding a member gives the user the role, removing takes it away, each
 * through the users service (validation, rights, audit `user.updated`, sessions ended on a role change), as
 * PUT /v1/users/{id}/roles would. All changes are checked first, so a member who does not exist or is beyond the
 * credential's rights refuses the whole request before any user is changed.
 */
export interface MembershipChange {
  add: readonly string[];
  remove: readonly string[];
}

const WRITE_ATTEMPTS = 4;

function rolesAfter(roles: readonly string[], role: string, hold: boolean): string[] {
  return hold ? [...new Set([...roles, role])] : roles.filter((r) => r !== role);
}

async function memberOrRefuse(ctx: ScimContext, id: string) {
  try {
    return await users.getUser(ctx, id, false);
  } catch (error) {
    if (error instanceof ApiError && error.code === UserErrors.USER_NOT_FOUND) {
      throw scimError(ScimErrors.SCIM_INVALID_VALUE, `members: no user ${id}.`);
    }
    throw error;
  }
}

function planned(change: MembershipChange) {
  return [...change.add.map((id) => ({ id, hold: true })), ...change.remove.map((id) => ({ id, hold: false }))];
}

/** Refuses (changing nothing) a change naming a user who does not exist or is beyond the caller's rights. */
export async function checkMembership(ctx: ScimContext, role: string, change: MembershipChange): Promise<void> {
  if (change.add.length + change.remove.length === 0) return;
  if (ctx.permissions && !ctx.permissions.has("users:write")) {
    throw new ApiError(CoreErrors.FORBIDDEN, { detail: "This credential lacks the permission users:write." });
  }
  for (const { id, hold } of planned(change)) {
    const { user } = await memberOrRefuse(ctx, id);
    await assertWithinRights(ctx, user, rolesAfter(user.roles, role, hold));
  }
}

export async function changeMembership(ctx: ScimContext, role: string, change: MembershipChange): Promise<void> {
  await checkMembership(ctx, role, change);
  for (const { id, hold } of planned(change)) await setRole(ctx, id, role, hold);
}

async function setRole(ctx: ScimContext, id: string, role: string, hold: boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { user, etag } = await memberOrRefuse(ctx, id);
    const roles = rolesAfter(user.roles, role, hold);
    if (roles.length === user.roles.length && roles.every((r, i) => r === user.roles[i])) return;
    try {
      await users.updateUser(ctx, id, { roles }, etag);
      return;
    } catch (error) {
      const raced = error instanceof ApiError && error.code === CoreErrors.PRECONDITION_FAILED;
      if (!raced || attempt >= WRITE_ATTEMPTS) throw error;
    }
  }
}

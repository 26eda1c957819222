import { credentialGuard } from "../../core/auth/guard";
import type { ServiceContext } from "../../core/context";
import type { UserRow } from "../../core/db/tenant-schema";

/**
 * Access tokens carry the rights of their moment in `scope`. A user who stops being active (disabled, deleted,
 * purged) loses every token issued before now, refresh tokens included; a user whose roles change loses the
 * access tokens, and the next refresh issues tokens with the new roles. The user's credential Durable Object
 * applies it at once; called after the change committed.
 */
export async function endSessionsIfRightsChanged(
  ctx: ServiceContext,
  before: UserRow | null,
  after: UserRow | null,
): Promise<void> {
  if (!before) return;
  const lostAccess = before.status === "active" && after?.status !== "active";
  const rolesChanged = after !== null && JSON.stringify(before.roles) !== JSON.stringify(after.roles);
  const guard = credentialGuard(ctx.env, `user:${ctx.scope}:${before.id}`);
  if (lostAccess) await guard.revokeIssuedBefore(Date.now());
  else if (rolesChanged) await guard.revokeAccessTokensIssuedBefore(Date.now());
}

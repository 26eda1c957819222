import type { z } from "@hono/zod-openapi";
import { grantsOfRoles } from "../../core/auth/permissions";
import type { ServiceContext } from "../../core/context";
import { ApiError } from "../../core/errors";
import type { Auth } from "../../env";
import { UserErrors } from "../users/users.errors";
import { fieldAccess } from "../users/users.fields-access";
import * as users from "../users/users.service";
import { customRolesOf } from "./roles.repo";
import type { MeSchema, UserPermissionsSchema } from "./roles.schema";

type TenantAuth = Extract<Auth, { kind: "tenant" }>;

/** The caller as the API sees it: who, in which tenant, with which roles and effective grants. */
export async function me(ctx: ServiceContext, auth: TenantAuth): Promise<z.infer<typeof MeSchema>> {
  const { actor, tenant } = auth;
  if (actor.type !== "api_key" && actor.type !== "user" && actor.type !== "client") {
    throw new Error(`a tenant credential's actor is an API key, a user or a client, not ${actor.type}`);
  }
  const body: z.infer<typeof MeSchema> = {
    actor: { type: actor.type, id: actor.id },
    tenant: { id: tenant.id, plan: tenant.plan, parentId: tenant.parentId },
    roles: [...auth.roles],
    permissions: [...auth.permissions.list],
  };
  if (actor.type !== "user") return body;
  try {
    return { ...body, user: (await fieldAccess(ctx)).present((await users.getUser(ctx, actor.id, false)).user) };
  } catch (error) {
    // a token outliving its user (deleted meanwhile) still says who it was issued to
    if (error instanceof ApiError && error.code === UserErrors.USER_NOT_FOUND) return body;
    throw error;
  }
}

/** What a user's roles grant under the tenant's plan now (a token of theirs carries at most this). */
export async function userPermissions(
  ctx: ServiceContext,
  userId: string,
): Promise<z.infer<typeof UserPermissionsSchema>> {
  const { user } = await users.getUser(ctx, userId, false);
  const plan = ctx.tenant?.plan;
  const custom = await customRolesOf(ctx.db, user.roles, plan);
  return { userId: user.id, roles: user.roles, permissions: [...grantsOfRoles(user.roles, custom).list] };
}

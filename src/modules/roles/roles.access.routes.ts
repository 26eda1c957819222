import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { fieldAccess } from "../users/users.fields-access";
import { UserIdParamSchema, UserSchema } from "../users/users.schema";
import * as users from "../users/users.service";
import { me, userPermissions } from "./roles.access";
import { AssignRolesSchema, MeSchema, UserPermissionsSchema } from "./roles.schema";

/** Who holds what: the caller itself, a user's effective permissions, and giving a user roles. */

const tags = ["Roles"];
const credential = ["tenant"] as const;

const meRoute = defineRoute({
  method: "get",
  path: "/v1/me",
  tags,
  summary: "The caller: actor, tenant, roles and effective permissions",
  description:
    "For an end user's access token, also the user. `permissions` are the grants this credential carries now: an " +
    "access token's scope was fixed when it was issued.",
  credential,
  permission: "me:read",
  feature: "roles",
  responses: { 200: { description: "The caller", content: { "application/json": { schema: MeSchema } } } },
});

const userPermissionsRoute = defineRoute({
  method: "get",
  path: "/v1/users/{id}/permissions",
  tags,
  summary: "A user's roles and effective permissions",
  description: "What the user's roles grant under the tenant's plan now. A user may read their own.",
  credential,
  permission: "roles:read",
  feature: "roles",
  self: "id",
  errors: [404],
  request: { params: UserIdParamSchema },
  responses: {
    200: {
      description: "The user's effective permissions",
      content: { "application/json": { schema: UserPermissionsSchema } },
    },
  },
});

const assignRoute = defineRoute({
  method: "put",
  path: "/v1/users/{id}/roles",
  tags,
  summary: "Set a user's roles",
  description:
    "Replaces the user's roles, as PATCH /v1/users/{id} with `{roles}` would (audit event `user.updated`, the " +
    "user's access tokens ended). Only roles whose grants the caller holds, and not on a user holding more than " +
    "the caller (403 USER_BEYOND_RIGHTS).",
  credential,
  permission: "roles:assign",
  feature: "roles",
  errors: [404, 409, 412],
  request: {
    params: UserIdParamSchema,
    headers: z.object({
      "if-match": z.string().optional().openapi({ description: "Only if the user still has this ETag (else 412)." }),
    }),
    body: { required: true, content: { "application/json": { schema: AssignRolesSchema } } },
  },
  responses: {
    200: {
      description: "The user with their new roles",
      headers: { ETag: { schema: { type: "string" as const } } },
      content: { "application/json": { schema: UserSchema } },
    },
  },
});

export const roleAccessRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(meRoute, async (c) => {
    const auth = c.get("auth");
    if (auth.kind !== "tenant") throw new Error("GET /v1/me is for tenant credentials");
    return c.json(await me(await serviceContext(c), auth), 200);
  })
  .openapi(userPermissionsRoute, async (c) =>
    c.json(await userPermissions(await serviceContext(c), c.req.valid("param").id), 200),
  )
  .openapi(assignRoute, async (c) => {
    const ctx = await serviceContext(c);
    const { roles } = c.req.valid("json");
    const { user, etag } = await users.updateUser(ctx, c.req.valid("param").id, { roles }, c.req.header("if-match"));
    return c.json((await fieldAccess(ctx)).present(user), 200, { ETag: etag });
  });

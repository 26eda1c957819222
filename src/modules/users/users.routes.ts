import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type ServiceContext, serviceContext } from "../../core/context";
import { notModified } from "../../core/http/etag";
import type { Json } from "../../core/http/merge-patch";
import { PageQuerySchema, pageSchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { RANKED_MATCHES } from "../search/fulltext.query";
import { bulkRoute, runBulk } from "./users.bulk.routes";
import { fieldAccess } from "./users.fields-access";
import {
  ATTRIBUTE_SORT,
  CreateUserSchema,
  DeleteQuerySchema,
  IncludeDeletedQuerySchema,
  USER_SORTS,
  type User,
  UserIdParamSchema,
  UserPatchSchema,
  UserSchema,
  type UserSort,
} from "./users.schema";
import * as users from "./users.service";

const tags = ["Users"];
const etagHeader = { ETag: { schema: { type: "string" as const }, description: "Strong validator of this version" } };
const single = (description: string) => ({
  description,
  headers: etagHeader,
  content: { "application/json": { schema: UserSchema } },
});
const ifMatchHeaders = z.object({
  "if-match": z.string().optional().openapi({ description: "Write only if the user still has this ETag (else 412)." }),
});

const createRoute = defineRoute({
  method: "post",
  path: "/v1/users",
  tags,
  summary: "Create a user",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  errors: [409],
  request: { body: { required: true, content: { "application/json": { schema: CreateUserSchema } } } },
  responses: { 201: single("The user was created") },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/users",
  tags,
  summary: "List users",
  description: "Keyset pagination in a stable order: walking `nextCursor` visits every user exactly once.",
  credential: ["tenant"],
  permission: "users:read",
  feature: "users",
  request: {
    query: PageQuerySchema.extend({
      q: z
        .string()
        .max(200)
        .optional()
        .openapi({
          description:
            "Full-text search: every word of three characters or more must be part of the user's name, username, " +
            "email, phone or a `searchable` custom field, in any case (shorter words are ignored; a `q` without " +
            "any such word, or with more than 8, is a 400). Works with `filter`, `sort`, `includeDeleted` and " +
            "`count`; sorted by `relevance` unless `sort` says otherwise. Matches only through fields the credential " +
            "may read (docs/field-permissions.md): without `users.email:read` a word is not matched against emails.",
          example: "ada example.com",
        }),
      sort: z
        .union([
          z.enum(USER_SORTS),
          z
            .string()
            .regex(ATTRIBUTE_SORT, "A built-in order, or attributes.<name> of a sortable custom field.")
            .transform((value) => value as UserSort),
        ])
        .optional()
        .openapi({
          description:
            "Order; `-` for descending. `relevance` (only with `q`) is the default with `q`, `createdAt` " +
            "without: first the users every word matches in their name, username or searchable fields, best " +
            `match first (bm25) when they are at most ${RANKED_MATCHES.toLocaleString("en-US")}, else newest ` +
            "first; then those some word matched " +
            "only in their email, phone or an encrypted field, newest first. A cursor keeps its first page's " +
            "order; a write between two pages can move a user across it. `attributes.<name>` sorts on a `sortable` " +
            "custom field; users without a value (and, for `lastLoginAt`, who never logged in) come first " +
            "ascending, last descending. A restricted field needs its read grant (else 403 FIELD_NOT_READABLE).",
          example: "-attributes.seats",
        }),
      filter: z
        .string()
        .max(4096)
        .optional()
        .openapi({
          description:
            "SCIM 2.0 filter (RFC 7644 §3.4.2.2) over id, externalId, status, username, name, email, phone, roles, createdAt, " +
            "updatedAt, lastLoginAt, deletedAt, mfa.totp, emailVerified and filterable custom fields " +
            "(`attributes.<name>`); times may be relative (`now-30d`). Within `includeDeleted`. Naming email, phone " +
            'or a restricted field without its read grant → 403 FIELD_NOT_READABLE. `segment eq "<name>"` (or ' +
            "`ne`) matches a saved or learned segment's users (docs/segments.md); an unknown one → 400 INVALID_FILTER.",
          example: 'roles eq "admin" and createdAt gt "now-30d"',
        }),
      count: z
        .enum(["true", "false"])
        .optional()
        .transform((v) => v === "true")
        .openapi({ description: "Also return `total`, the number of users the list matches." }),
      ...IncludeDeletedQuerySchema.shape,
    }),
  },
  responses: {
    200: {
      description: "A page of users",
      content: {
        "application/json": {
          schema: pageSchema(UserSchema, "UserPage").extend({
            total: z.number().int().optional().openapi({ description: "With `count=true`: every matching user." }),
          }),
        },
      },
    },
  },
});

const getRoute = defineRoute({
  method: "get",
  path: "/v1/users/{id}",
  tags,
  summary: "Get a user",
  credential: ["tenant"],
  permission: "users:read",
  feature: "users",
  self: "id",
  errors: [404],
  request: {
    params: UserIdParamSchema,
    query: IncludeDeletedQuerySchema,
    headers: z.object({ "if-none-match": z.string().optional() }),
  },
  responses: { 200: single("The user"), 304: { description: "Not modified (If-None-Match)" } },
});

const patchRoute = defineRoute({
  method: "patch",
  path: "/v1/users/{id}",
  tags,
  summary: "Update a user (JSON merge patch)",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  errors: [404, 409, 412],
  request: {
    params: UserIdParamSchema,
    headers: ifMatchHeaders,
    body: {
      required: true,
      content: {
        "application/merge-patch+json": { schema: UserPatchSchema },
        "application/json": { schema: UserPatchSchema },
      },
    },
  },
  responses: { 200: single("The updated user") },
});

const deleteRoute = defineRoute({
  method: "delete",
  path: "/v1/users/{id}",
  tags,
  summary: "Delete a user (soft by default)",
  credential: ["tenant"],
  permission: "users:delete",
  feature: "users",
  errors: [404, 412],
  request: { params: UserIdParamSchema, query: DeleteQuerySchema, headers: ifMatchHeaders },
  responses: {
    200: single("The soft-deleted user (`status: deleted`)"),
    204: { description: "Purged for good (`permanent=true`)" },
  },
});

const restore = {
  tags,
  summary: "Restore a soft-deleted user",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  errors: [404, 412],
  request: { params: UserIdParamSchema, headers: ifMatchHeaders },
  responses: { 200: single("The restored user") },
} as const;

const restoreRoute = defineRoute({ method: "post", path: "/v1/users/{id}/restore", ...restore });

// the older name of restore, kept working until its sunset (src/modules/versions/versions.registry.ts)
const undeleteRoute = defineRoute({
  method: "post",
  path: "/v1/users/{id}/undelete",
  ...restore,
  summary: "Restore a soft-deleted user (deprecated alias of /restore)",
  deprecated: true,
});

export const usersRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createRoute, async (c) => {
    const ctx = await serviceContext(c);
    const { user, etag } = await users.createUser(ctx, c.req.valid("json"));
    return c.json(await shown(ctx, user), 201, { ETag: etag, Location: `/v1/users/${user.id}` });
  })
  .openapi(listRoute, async (c) => {
    const ctx = await serviceContext(c);
    const page = await users.listUsers(ctx, c.req.valid("query"));
    const access = await fieldAccess(ctx);
    return c.json({ ...page, data: page.data.map((user) => access.present(user)) }, 200);
  })
  .openapi(bulkRoute, runBulk)
  .openapi(getRoute, async (c) => {
    const { id } = c.req.valid("param");
    const ctx = await serviceContext(c);
    const { user, etag } = await users.getUser(ctx, id, c.req.valid("query").includeDeleted);
    if (notModified(c.req.header("if-none-match"), etag)) return c.body(null, 304, { ETag: etag });
    return c.json(await shown(ctx, user), 200, { ETag: etag });
  })
  .openapi(patchRoute, async (c) => {
    const { id } = c.req.valid("param");
    const patch = (c.req.valid("json") ?? {}) as Json;
    const ctx = await serviceContext(c);
    const { user, etag } = await users.updateUser(ctx, id, patch, c.req.header("if-match"));
    return c.json(await shown(ctx, user), 200, { ETag: etag });
  })
  .openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid("param");
    const ctx = await serviceContext(c);
    if (c.req.valid("query").permanent) {
      await users.purgeUser(ctx, id, c.req.header("if-match"));
      return c.body(null, 204);
    }
    const { user, etag } = await users.softDeleteUser(ctx, id, c.req.header("if-match"));
    return c.json(await shown(ctx, user), 200, { ETag: etag });
  })
  .openapi(restoreRoute, async (c) => restored(c, c.req.valid("param").id))
  .openapi(undeleteRoute, async (c) => restored(c, c.req.valid("param").id));

async function restored(c: Context<AppEnv>, id: string) {
  const ctx = await serviceContext(c);
  const { user, etag } = await users.restoreUser(ctx, id, c.req.header("if-match"));
  return c.json(await shown(ctx, user), 200, { ETag: etag });
}

/** Response shaping: the user without the fields this caller may not read (users.fields-access.ts). */
async function shown(ctx: ServiceContext, user: User): Promise<User> {
  return (await fieldAccess(ctx)).present(user);
}

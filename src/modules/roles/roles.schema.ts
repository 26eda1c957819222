import { z } from "@hono/zod-openapi";
import { UserSchema } from "../users/users.schema";

export const ROLE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const ROLE_NAME_MESSAGE = "Lower-case letters, digits, '_' and '-', starting with a letter (at most 64).";
/** A role may hold at most this many grants (patterns keep real roles far below it). */
export const MAX_GRANTS = 100;

const RoleName = z.string().regex(ROLE_NAME, ROLE_NAME_MESSAGE);
const Description = z.string().trim().min(1).max(500);
const GrantList = z
  .array(z.string().min(1).max(200))
  .max(MAX_GRANTS)
  .openapi({
    description:
      "Grants: permissions (`users:read`), field grants (`users.email:read`, `users.attributes.salary:write`) and " +
      "patterns (`users:*`, `users.attributes.*:read`, `*`). Each must grant something in GET /v1/permissions, " +
      "and the caller must hold it.",
    example: ["users:read", "users.email:read", "audit:read"],
  });

export const CreateRoleSchema = z
  .strictObject({
    name: RoleName.openapi({ description: `${ROLE_NAME_MESSAGE} Not a built-in name.`, example: "support-agent" }),
    description: Description.nullish().openapi({ example: "Reads users and their email; reads the audit trail." }),
    permissions: GrantList,
  })
  .openapi("CreateRole", {
    example: {
      name: "support-agent",
      description: "Reads users and their email; reads the audit trail.",
      permissions: ["users:read", "users.email:read", "audit:read"],
    },
  });
export type CreateRoleInput = z.infer<typeof CreateRoleSchema>;

export const RolePatchSchema = z
  .strictObject({
    description: Description.nullable().optional().openapi({ description: "null removes it." }),
    permissions: GrantList.optional().openapi({ description: "Replaces every grant of the role." }),
  })
  .openapi("RolePatch", {
    description: "A JSON merge patch (RFC 7396) of a custom role; its name cannot change.",
    example: { description: "Reads users and the audit trail.", permissions: ["users:read", "audit:read"] },
  });
export type RolePatch = z.infer<typeof RolePatchSchema>;

export const RoleSchema = z
  .object({
    name: z.string().openapi({ example: "support-agent" }),
    description: z.string().nullable().openapi({ example: "Reads users and their email; reads the audit trail." }),
    permissions: z.array(z.string()).openapi({ example: ["users:read", "users.email:read", "audit:read"] }),
    builtIn: z.boolean().openapi({ description: "admin, manager, basic and scim: defined in code, immutable." }),
    createdAt: z
      .string()
      .nullable()
      .openapi({ description: "null for built-in roles.", example: "2026-11-25T19:04:32.123Z" }),
    updatedAt: z.string().nullable().openapi({ example: "2026-11-25T19:04:32.123Z" }),
  })
  .openapi("Role");
export type Role = z.infer<typeof RoleSchema>;

export const RoleListSchema = z
  .object({ data: z.array(RoleSchema) })
  .openapi("RoleList", { description: "Every role: the built-in ones first, then the custom ones by name." });

export const RoleNameParamSchema = z.object({
  name: z
    .string()
    .max(64)
    .openapi({ param: { name: "name", in: "path" }, example: "support-agent" }),
});

const RouteEntry = z
  .object({
    permission: z.string().openapi({ example: "users:read" }),
    kind: z.literal("route"),
    description: z.string().optional(),
    routes: z.array(z.string()).openapi({ example: ["GET /v1/users", "GET /v1/users/{id}"] }),
  })
  .openapi("RoutePermission", { description: "A permission routes declare, with those routes." });

const CapabilityEntry = z
  .object({
    permission: z.string().openapi({ example: "sub-accounts:act" }),
    kind: z.literal("capability"),
    description: z.string(),
  })
  .openapi("CapabilityPermission", { description: "A permission no route declares, checked where it applies." });

const FieldEntry = z
  .object({
    permission: z.string().openapi({ example: "users.attributes.salary:read" }),
    kind: z.literal("field"),
    field: z
      .string()
      .openapi({ description: "The user field: email, phone or attributes.<name>.", example: "attributes.salary" }),
    restricted: z.boolean().openapi({
      description: "Readable and writable only with this grant; other fields follow users:read / users:write.",
    }),
    description: z.string().optional(),
  })
  .openapi("FieldPermission", { description: "A field grant of one of the tenant's user fields." });

export const PermissionEntrySchema = z.discriminatedUnion("kind", [RouteEntry, CapabilityEntry, FieldEntry]);
export type PermissionEntry = z.infer<typeof PermissionEntrySchema>;

export const PermissionCatalogueSchema = z
  .object({ data: z.array(PermissionEntrySchema) })
  .openapi("PermissionCatalogue", {
    example: {
      data: [
        { permission: "users:read", kind: "route", routes: ["GET /v1/users", "GET /v1/users/{id}"] },
        { permission: "sub-accounts:act", kind: "capability", description: "Act on sub-accounts." },
        { permission: "users.email:read", kind: "field", field: "email", restricted: true },
      ],
    },
  });

export const AssignRolesSchema = z
  .strictObject({
    roles: z
      .array(RoleName)
      .max(50)
      .openapi({ description: "Every role the user holds from now on (replaces them).", example: ["manager"] }),
  })
  .openapi("AssignRoles", { example: { roles: ["manager"] } });

export const UserPermissionsSchema = z
  .object({
    userId: z.string().openapi({ example: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    roles: z.array(z.string()).openapi({ example: ["manager"] }),
    permissions: z.array(z.string()).openapi({
      description: "What the roles grant, as the tenant's plan has it now (wildcards kept as written).",
      example: ["users:read", "users:write", "users.email:*"],
    }),
  })
  .openapi("UserPermissions");

export const MeSchema = z
  .object({
    actor: z.object({
      type: z.enum(["api_key", "user", "client"]).openapi({ example: "api_key" }),
      id: z.string().openapi({ example: "key_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    }),
    tenant: z.object({
      id: z.string().openapi({ example: "ten_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
      plan: z.string().openapi({ example: "pro" }),
      parentId: z.string().nullable(),
    }),
    roles: z.array(z.string()).openapi({ example: ["manager"] }),
    permissions: z.array(z.string()).openapi({
      description: "The caller's effective grants (an access token's: its scope).",
      example: ["me:read", "users:read", "users:write"],
    }),
    user: UserSchema.optional().openapi({ description: "When the caller is an end user's access token." }),
  })
  .openapi("Me");

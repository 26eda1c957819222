import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { notModified } from "../../core/http/etag";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { liveFields } from "../schema/attributes";
import { tenantSchema } from "../schema/schema.service";
import { type DeclaredRoute, declaredRoutes, grantableFields, permissionCatalogue } from "./roles.catalogue";
import {
  CreateRoleSchema,
  PermissionCatalogueSchema,
  RoleListSchema,
  RoleNameParamSchema,
  RolePatchSchema,
  RoleSchema,
} from "./roles.schema";
import * as roles from "./roles.service";

const tags = ["Roles"];
const credential = ["tenant"] as const;
const etagHeader = { ETag: { schema: { type: "string" as const }, description: "Strong validator of this version" } };
const single = (description: string) => ({
  description,
  headers: etagHeader,
  content: { "application/json": { schema: RoleSchema } },
});
const ifMatchHeaders = z.object({
  "if-match": z.string().optional().openapi({ description: "Write only if the role still has this ETag (else 412)." }),
});

const createRoute = defineRoute({
  method: "post",
  path: "/v1/roles",
  tags,
  summary: "Create a custom role",
  description:
    "Every grant must name something in GET /v1/permissions (or be a pattern covering something there), and the " +
    "caller must hold it (403 ROLE_GRANTS_NOT_HELD). Other isolates see a role write within " +
    "CREDENTIAL_CACHE_SECONDS; issued access tokens keep their scope until they expire.",
  credential,
  permission: "roles:write",
  feature: "custom-roles",
  errors: [409],
  request: { body: { required: true, content: { "application/json": { schema: CreateRoleSchema } } } },
  responses: { 201: single("The role was created") },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/roles",
  tags,
  summary: "List roles",
  description:
    "The built-in roles (`builtIn: true`) and the tenant's custom roles, SCIM groups included. On a plan without " +
    "custom roles, custom roles are listed but grant nothing.",
  credential,
  permission: "roles:read",
  feature: "roles",
  responses: { 200: { description: "Every role", content: { "application/json": { schema: RoleListSchema } } } },
});

const getRoute = defineRoute({
  method: "get",
  path: "/v1/roles/{name}",
  tags,
  summary: "Get a role",
  credential,
  permission: "roles:read",
  feature: "roles",
  errors: [404],
  request: { params: RoleNameParamSchema, headers: z.object({ "if-none-match": z.string().optional() }) },
  responses: { 200: single("The role"), 304: { description: "Not modified (If-None-Match)" } },
});

const patchRoute = defineRoute({
  method: "patch",
  path: "/v1/roles/{name}",
  tags,
  summary: "Change a custom role (JSON merge patch)",
  description:
    "The caller must hold the role's grants as they are and as they will be (403 ROLE_GRANTS_NOT_HELD). Built-in " +
    "roles cannot change (409 BUILT_IN_ROLE).",
  credential,
  permission: "roles:write",
  feature: "custom-roles",
  errors: [404, 409, 412],
  request: {
    params: RoleNameParamSchema,
    headers: ifMatchHeaders,
    body: {
      required: true,
      content: {
        "application/merge-patch+json": { schema: RolePatchSchema },
        "application/json": { schema: RolePatchSchema },
      },
    },
  },
  responses: { 200: single("The changed role") },
});

const deleteRoute = defineRoute({
  method: "delete",
  path: "/v1/roles/{name}",
  tags,
  summary: "Delete a custom role",
  description:
    "Only a role nobody holds: users (soft-deleted ones included), API keys and OAuth clients holding it make it " +
    "409 ROLE_IN_USE with their counts. Built-in roles cannot be deleted (409 BUILT_IN_ROLE).",
  credential,
  permission: "roles:write",
  feature: "custom-roles",
  errors: [404, 409, 412],
  request: { params: RoleNameParamSchema, headers: ifMatchHeaders },
  responses: { 204: { description: "Deleted" } },
});

const permissionsRoute = defineRoute({
  method: "get",
  path: "/v1/permissions",
  tags,
  summary: "The permission catalogue",
  description:
    "Every permission a route declares (with those routes), the capabilities no route declares, and the field " +
    "grants of the user fields: email, phone and each of the tenant's custom fields. Deny by default: a credential " +
    "may do only what its grants cover.",
  credential,
  permission: "roles:read",
  feature: "roles",
  responses: {
    200: { description: "The catalogue", content: { "application/json": { schema: PermissionCatalogueSchema } } },
  },
});

export const rolesRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createRoute, async (c) => {
    const { role, etag } = await roles.createRole(await serviceContext(c), c.req.valid("json"));
    return c.json(role, 201, { ETag: etag, Location: `/v1/roles/${role.name}` });
  })
  .openapi(listRoute, async (c) => c.json({ data: await roles.listRoles(await serviceContext(c)) }, 200))
  .openapi(getRoute, async (c) => {
    const { role, etag } = await roles.getRole(await serviceContext(c), c.req.valid("param").name);
    if (notModified(c.req.header("if-none-match"), etag)) return c.body(null, 304, { ETag: etag });
    return c.json(role, 200, { ETag: etag });
  })
  .openapi(patchRoute, async (c) => {
    const ctx = await serviceContext(c);
    const { role, etag } = await roles.updateRole(
      ctx,
      c.req.valid("param").name,
      c.req.valid("json"),
      c.req.header("if-match"),
    );
    return c.json(role, 200, { ETag: etag });
  })
  .openapi(deleteRoute, async (c) => {
    await roles.deleteRole(await serviceContext(c), c.req.valid("param").name, c.req.header("if-match"));
    return c.body(null, 204);
  });

/**
 * Serves GET /v1/permissions on the whole app: the catalogue is read from the app's own route table (its OpenAPI
 * registry, which holds every mounted route with its `x-permission`), so it lists exactly what routes check.
 */
export function mountPermissionCatalogue(app: OpenAPIHono<AppEnv>): void {
  let routes: DeclaredRoute[] | undefined;
  app.openapi(permissionsRoute, async (c) => {
    routes ??= declaredRoutes(app.openAPIRegistry.definitions);
    const fields = grantableFields(liveFields(await tenantSchema(await serviceContext(c))));
    return c.json({ data: permissionCatalogue(routes, fields) }, 200);
  });
}

import { OpenAPIHono, z } from "@hono/zod-openapi";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { findById, listResponse, resourceTypes, schemaDocuments, serviceProviderConfig } from "./scim.discovery";
import { defineScimRoute, SCIM_BASE, scimContext, scimJson, scimSuccess } from "./scim.http";
import { scimTenantSchema } from "./scim.tenant-schema";
import { SCIM_MAX_RESULTS } from "./scim.users.service";

/**
 * RFC 7644 §4. They take the same key as the rest (RFC 7644 §4 lets a service provider require it): the
 * extension schema describes the tenant's own fields. `x-shared-resource`: the ids name documents every
 * tenant has (the security tests do not expect another tenant's key to get 404 on them).
 */
const shared = { "x-shared-resource": true };

const configRoute = defineScimRoute({
  method: "get",
  path: `${SCIM_BASE}/ServiceProviderConfig`,
  summary: "SCIM: the service provider's configuration",
  responses: { 200: scimSuccess("ServiceProviderConfig") },
});

const schemasRoute = defineScimRoute({
  method: "get",
  path: `${SCIM_BASE}/Schemas`,
  summary: "SCIM: the schemas (User, Group, the custom-fields extension)",
  responses: { 200: scimSuccess("A ListResponse of Schemas") },
});

const schemaRoute = defineScimRoute({
  ...shared,
  method: "get",
  path: `${SCIM_BASE}/Schemas/{id}`,
  summary: "SCIM: one schema",
  errors: [404],
  request: {
    params: z.object({
      id: z
        .string()
        .max(200)
        .openapi({ param: { name: "id", in: "path" }, example: "urn:ietf:params:scim:schemas:core:2.0:User" }),
    }),
  },
  responses: { 200: scimSuccess("The Schema") },
});

const typesRoute = defineScimRoute({
  method: "get",
  path: `${SCIM_BASE}/ResourceTypes`,
  summary: "SCIM: the resource types (User, Group)",
  responses: { 200: scimSuccess("A ListResponse of ResourceTypes") },
});

const typeRoute = defineScimRoute({
  ...shared,
  method: "get",
  path: `${SCIM_BASE}/ResourceTypes/{id}`,
  summary: "SCIM: one resource type",
  errors: [404],
  request: {
    params: z.object({
      id: z
        .string()
        .max(200)
        .openapi({ param: { name: "id", in: "path" }, example: "User" }),
    }),
  },
  responses: { 200: scimSuccess("The ResourceType") },
});

export const scimDiscoveryRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(configRoute, async (c) => {
    const ctx = await scimContext(c);
    return scimJson(c, serviceProviderConfig(ctx.base, SCIM_MAX_RESULTS));
  })
  .openapi(schemasRoute, async (c) => {
    const ctx = await scimContext(c);
    return scimJson(c, listResponse(schemaDocuments(ctx.base, await scimTenantSchema(ctx))));
  })
  .openapi(schemaRoute, async (c) => {
    const ctx = await scimContext(c);
    const documents = schemaDocuments(ctx.base, await scimTenantSchema(ctx));
    return scimJson(c, findById(documents, c.req.valid("param").id, "schema"));
  })
  .openapi(typesRoute, async (c) => {
    const ctx = await scimContext(c);
    return scimJson(c, listResponse(resourceTypes(ctx.base)));
  })
  .openapi(typeRoute, async (c) => {
    const ctx = await scimContext(c);
    return scimJson(c, findById(resourceTypes(ctx.base), c.req.valid("param").id, "resource type"));
  });

import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { etagOf, notModified } from "../../core/http/etag";
import { PageQuerySchema, pageSchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { rotateDataKey } from "./tenants.keys.service";
import {
  CreatedTenantSchema,
  CreateTenantSchema,
  TenantIdParamSchema,
  TenantSchema,
  UpdateTenantSchema,
} from "./tenants.schema";
import * as tenants from "./tenants.service";

const tags = ["Tenants"];
const credential = ["admin"] as const;
const ifMatchHeaders = z.object({ "if-match": z.string().optional() });
const single = (description: string) => ({
  description,
  headers: { ETag: { schema: { type: "string" as const } } },
  content: { "application/json": { schema: TenantSchema } },
});

const createRoute = defineRoute({
  method: "post",
  path: "/v1/tenants",
  tags,
  summary: "Create a tenant",
  description: "Assigns the tenant its own database from the pool and returns its first API key (role admin), once.",
  credential,
  errors: [503],
  request: { body: { required: true, content: { "application/json": { schema: CreateTenantSchema } } } },
  responses: {
    201: {
      description: "The tenant and its first API key",
      content: { "application/json": { schema: CreatedTenantSchema } },
    },
  },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/tenants",
  tags,
  summary: "List tenants",
  credential,
  request: { query: PageQuerySchema },
  responses: {
    200: {
      description: "A page of tenants",
      content: { "application/json": { schema: pageSchema(TenantSchema, "TenantPage") } },
    },
  },
});

const getRoute = defineRoute({
  method: "get",
  path: "/v1/tenants/{id}",
  tags,
  summary: "Get a tenant",
  credential,
  errors: [404],
  request: { params: TenantIdParamSchema },
  responses: { 200: single("The tenant"), 304: { description: "Not modified" } },
});

const patchRoute = defineRoute({
  method: "patch",
  path: "/v1/tenants/{id}",
  tags,
  summary: "Update a tenant (name, plan)",
  credential,
  errors: [404, 409, 412],
  request: {
    params: TenantIdParamSchema,
    headers: ifMatchHeaders,
    body: {
      required: true,
      content: {
        "application/merge-patch+json": { schema: UpdateTenantSchema },
        "application/json": { schema: UpdateTenantSchema },
      },
    },
  },
  responses: { 200: single("The updated tenant") },
});

const deleteRoute = defineRoute({
  method: "delete",
  path: "/v1/tenants/{id}",
  tags,
  summary: "Delete a tenant and erase its data",
  credential,
  errors: [404, 409, 412],
  request: { params: TenantIdParamSchema, headers: ifMatchHeaders },
  responses: { 204: { description: "Deleted; its database is erased and returned to the pool" } },
});

const RotateDataKeySchema = z
  .strictObject({
    newVersion: z.boolean().optional().openapi({
      description: "Create a new active key version (default true); false only carries on re-encrypting.",
    }),
  })
  .openapi("RotateDataKey", { example: { newVersion: true } });

const DataKeyRotationSchema = z
  .object({
    version: z.number().int().openapi({ description: "The active data-key version.", example: 2 }),
    reencrypted: z.number().int().openapi({ description: "Users re-encrypted by this request.", example: 1000 }),
    remaining: z.number().int().openapi({
      description: "Users still under an older version; the per-minute cron (or another call) carries on.",
      example: 0,
    }),
  })
  .openapi("DataKeyRotation");

const rotateDataKeyRoute = defineRoute({
  method: "post",
  path: "/v1/tenants/{id}/data-keys/rotate",
  tags,
  summary: "Rotate the tenant's data key",
  description:
    "Makes a new data key the active one for the tenant's personal data (email, phone) and re-encrypts up to " +
    "1000 users before answering; the per-minute cron re-encrypts the rest. An older key stays available for " +
    "decryption until no user row uses it. `npm run keys:rotate -- --tenant <id>` calls this until `remaining` is 0.",
  credential,
  errors: [404],
  request: {
    params: TenantIdParamSchema,
    body: { required: false, content: { "application/json": { schema: RotateDataKeySchema } } },
  },
  responses: {
    200: { description: "Rotation progress", content: { "application/json": { schema: DataKeyRotationSchema } } },
  },
});

export const tenantsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createRoute, async (c) => {
    const { tenant, etag, apiKey } = await tenants.createTenant(await serviceContext(c), c.req.valid("json"));
    return c.json({ ...tenant, apiKey }, 201, {
      ETag: etag,
      Location: `/v1/tenants/${tenant.id}`,
      "Cache-Control": "no-store", // it carries the API key secret
    });
  })
  .openapi(listRoute, async (c) =>
    c.json(await tenants.listTenants(await serviceContext(c), c.req.valid("query")), 200),
  )
  .openapi(getRoute, async (c) => {
    const row = await tenants.getTenant(await serviceContext(c), c.req.valid("param").id);
    const etag = etagOf(row.version);
    if (notModified(c.req.header("if-none-match"), etag)) return c.body(null, 304, { ETag: etag });
    return c.json(tenants.toTenant(row), 200, { ETag: etag });
  })
  .openapi(patchRoute, async (c) => {
    const ctx = await serviceContext(c);
    const row = await tenants.updateTenant(ctx, c.req.valid("param").id, c.req.valid("json"), c.req.header("if-match"));
    return c.json(tenants.toTenant(row), 200, { ETag: etagOf(row.version) });
  })
  .openapi(deleteRoute, async (c) => {
    await tenants.deleteTenant(await serviceContext(c), c.req.valid("param").id, c.req.header("if-match"));
    return c.body(null, 204);
  })
  .openapi(rotateDataKeyRoute, async (c) => {
    // an absent body is `{}` (the body is optional)
    const newVersion = c.req.valid("json").newVersion ?? true;
    return c.json(await rotateDataKey(await serviceContext(c), c.req.valid("param").id, { newVersion }), 200);
  });

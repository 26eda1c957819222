import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type ServiceContext, serviceContext } from "../../core/context";
import { controlDb } from "../../core/db/databases";
import { etagOf, notModified } from "../../core/http/etag";
import { pageSchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { ADMIN_CALLER, type Caller } from "./tenants.access";
import { rotateDataKey } from "./tenants.keys.service";
import { childrenRollup } from "./tenants.rollup";
import {
  CreatedTenantSchema,
  CreateTenantSchema,
  DeleteTenantQuerySchema,
  ListTenantsQuerySchema,
  TenantIdParamSchema,
  TenantSchema,
  TenantWithChildrenSchema,
  UpdateTenantSchema,
} from "./tenants.schema";
import * as tenants from "./tenants.service";

const tags = ["Tenants"];
const adminOnly = ["admin"] as const;
// the admin token manages every tenant; a tenant credential its sub-accounts (docs/sub-accounts.md)
const reading = { credential: ["admin", "tenant"], permission: "tenants:read", feature: "sub-accounts" } as const;
const writing = { credential: ["admin", "tenant"], permission: "tenants:write", feature: "sub-accounts" } as const;
const ifMatchHeaders = z.object({ "if-match": z.string().optional() });
const single = (description: string) => ({
  description,
  headers: { ETag: { schema: { type: "string" as const } } },
  content: { "application/json": { schema: TenantSchema } },
});

/**
 * Tenants live in the control database, and their changes go to the platform's trail, whoever makes them; a
 * tenant credential acts within the tenant it acts on (its own, or the one it names with Uom-Account).
 */
async function platformContext(c: Context<AppEnv>): Promise<{ ctx: ServiceContext; caller: Caller }> {
  const ctx = await serviceContext(c);
  const auth = c.get("auth");
  if (auth.kind === "admin") return { ctx, caller: ADMIN_CALLER };
  return {
    ctx: { ...ctx, db: await controlDb(c.env), scope: "platform", tenant: null },
    caller: { kind: "tenant", tenantId: auth.tenant.id },
  };
}

const createRoute = defineRoute({
  method: "post",
  path: "/v1/tenants",
  tags,
  summary: "Create a tenant or a sub-account",
  description:
    "Assigns the tenant its own database from the pool and returns its first API key (role admin), once. The " +
    "admin token creates any tenant; a tenant credential creates a sub-account of its tenant (or of one of its " +
    "sub-accounts, `parentId`), on a plan no higher than the parent's, at most 3 levels deep (409 " +
    "SUB_ACCOUNT_DEPTH_EXCEEDED) and within the parent's plan quota `subAccounts` (403 QUOTA_EXCEEDED).",
  ...writing,
  errors: [404, 409, 503],
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
  summary: "List tenants or sub-accounts",
  description:
    "The admin token lists every tenant (or the direct sub-accounts of `parentId`); a tenant credential lists the " +
    "direct sub-accounts of its tenant, or of one of its sub-accounts.",
  ...reading,
  errors: [404],
  request: { query: ListTenantsQuerySchema },
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
  summary: "Get a tenant, with its sub-accounts' rollup",
  description:
    "The tenant and its direct sub-accounts with their user and request counts (`children`). A tenant credential " +
    "reads its own tenant and its sub-accounts; any other id is a 404.",
  ...reading,
  errors: [404],
  request: { params: TenantIdParamSchema },
  responses: {
    200: {
      description: "The tenant",
      headers: { ETag: { schema: { type: "string" as const } } },
      content: { "application/json": { schema: TenantWithChildrenSchema } },
    },
    304: { description: "Not modified" },
  },
});

const patchRoute = defineRoute({
  method: "patch",
  path: "/v1/tenants/{id}",
  tags,
  summary: "Update a tenant (name, plan)",
  description:
    "A tenant credential renames its tenant or a sub-account; the plan is changed by the admin token only (a " +
    "tenant asks with POST /v1/plan/change-requests).",
  ...writing,
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
  description:
    "A tenant with sub-accounts is a 409 TENANT_HAS_CHILDREN unless `cascade=true`, which deletes the whole " +
    "subtree, the deepest first. A tenant credential deletes its sub-accounts, never its own tenant.",
  ...writing,
  errors: [404, 409, 412],
  request: { params: TenantIdParamSchema, headers: ifMatchHeaders, query: DeleteTenantQuerySchema },
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
  credential: adminOnly,
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
    const { ctx, caller } = await platformContext(c);
    const { tenant, etag, apiKey } = await tenants.createTenant(ctx, c.req.valid("json"), caller);
    return c.json({ ...tenant, apiKey }, 201, {
      ETag: etag,
      Location: `/v1/tenants/${tenant.id}`,
      "Cache-Control": "no-store", // it carries the API key secret
    });
  })
  .openapi(listRoute, async (c) => {
    const { ctx, caller } = await platformContext(c);
    return c.json(await tenants.listTenants(ctx, c.req.valid("query"), caller), 200);
  })
  .openapi(getRoute, async (c) => {
    const { ctx, caller } = await platformContext(c);
    const row = await tenants.getTenant(ctx, c.req.valid("param").id, caller);
    // the ETag versions the tenant's own fields; the rollup is a live view beside them (docs/sub-accounts.md)
    const etag = etagOf(row.version);
    if (notModified(c.req.header("if-none-match"), etag)) return c.body(null, 304, { ETag: etag });
    const children = await childrenRollup(c.env, ctx.db, row.id);
    return c.json({ ...tenants.toTenant(row), children }, 200, { ETag: etag });
  })
  .openapi(patchRoute, async (c) => {
    const { ctx, caller } = await platformContext(c);
    const id = c.req.valid("param").id;
    const row = await tenants.updateTenant(ctx, id, c.req.valid("json"), c.req.header("if-match"), caller);
    return c.json(tenants.toTenant(row), 200, { ETag: etagOf(row.version) });
  })
  .openapi(deleteRoute, async (c) => {
    const { ctx, caller } = await platformContext(c);
    const { cascade } = c.req.valid("query");
    await tenants.deleteTenant(ctx, c.req.valid("param").id, c.req.header("if-match"), { cascade, caller });
    return c.body(null, 204);
  })
  .openapi(rotateDataKeyRoute, async (c) => {
    // an absent body is `{}` (the body is optional)
    const newVersion = c.req.valid("json").newVersion ?? true;
    return c.json(await rotateDataKey(await serviceContext(c), c.req.valid("param").id, { newVersion }), 200);
  });

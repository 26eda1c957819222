import { z } from "@hono/zod-openapi";
import { PageQuerySchema } from "../../core/http/pagination";
import { PLANS } from "../../core/plans";

export type { Plan } from "../../core/plans";

const TenantName = z.string().trim().min(1).max(200);

export const CreateTenantSchema = z
  .strictObject({
    name: TenantName.openapi({ example: "Acme Corp" }),
    plan: z
      .enum(PLANS)
      .optional()
      .openapi({
        description:
          "Default: the parent's plan for a sub-account, `free` otherwise. A tenant key may not give a sub-account " +
          "a plan above its parent's.",
      }),
    parentId: z
      .string()
      .max(64)
      .nullish()
      .openapi({
        description:
          "Make it a sub-account of this tenant. With a tenant key: its own tenant (the default) or one of its " +
          "sub-accounts. At most 3 levels (a root tenant is level 1); the parent's plan bounds how many it may have.",
      }),
  })
  .openapi("CreateTenant", { example: { name: "Acme — Sales department" } });

export const UpdateTenantSchema = z
  .strictObject({
    name: TenantName.optional(),
    plan: z.enum(PLANS).optional().openapi({
      description: "The platform admin token only; a tenant asks with POST /v1/plan/change-requests.",
    }),
  })
  .openapi("UpdateTenant", { example: { name: "Acme — Field sales" } });

export const TenantSchema = z
  .object({
    id: z.string().openapi({ example: "ten_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    name: z.string(),
    plan: z.enum(PLANS),
    parentId: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Tenant");
export type Tenant = z.infer<typeof TenantSchema>;

export const SubAccountSummarySchema = z
  .object({
    id: z.string().openapi({ example: "ten_01JD8Z6Q1W3V8K2N4T5R6Y7P9B" }),
    name: z.string(),
    plan: z.enum(PLANS),
    users: z.int().openapi({ description: "Users of the sub-account, soft-deleted ones excluded.", example: 42 }),
    requestsThisMonth: z.int().openapi({
      description:
        "Tenant-credential requests served to the sub-account this calendar month (UTC), as its usage meter counts " +
        "them (an isolate sends its counts every few seconds).",
      example: 1280,
    }),
  })
  .openapi("SubAccountSummary");

export const TenantWithChildrenSchema = TenantSchema.extend({
  children: z.array(SubAccountSummarySchema).openapi({
    description:
      "Its direct sub-accounts (the oldest 100) with their user and request counts: a live rollup, not part of " +
      "the tenant's version (the ETag and If-None-Match cover the tenant's own fields).",
  }),
}).openapi("TenantWithChildren");
export type TenantWithChildren = z.infer<typeof TenantWithChildrenSchema>;

export const CreatedTenantSchema = TenantSchema.extend({
  apiKey: z.object({
    id: z.string().openapi({ example: "key_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    secret: z.string().openapi({
      description: "The tenant's first API key (role admin). Shown once: only its hash is stored.",
      example: "uom_sk_4hWq0v2m0PZ6bq3Y1x8RkT5aLcN7dEfGh1a2B3",
    }),
  }),
}).openapi("CreatedTenant");

export const TenantIdParamSchema = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "ten_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
});

export const ListTenantsQuerySchema = PageQuerySchema.extend({
  parentId: z
    .string()
    .max(64)
    .optional()
    .openapi({
      description:
        "Only the direct sub-accounts of this tenant. A tenant key lists its own tenant's by default, and may name " +
        "one of its sub-accounts.",
    }),
});

export const DeleteTenantQuerySchema = z.strictObject({
  cascade: z
    .enum(["true", "false"])
    .optional()
    .transform((v) => v === "true")
    .openapi({ description: "Delete its sub-accounts too, the deepest first (else a tenant with some is a 409)." }),
});

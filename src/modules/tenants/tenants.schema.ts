import { z } from "@hono/zod-openapi";

import { PLANS } from "../../core/plans";

export type { Plan } from "../../core/plans";

const TenantName = z.string().trim().min(1).max(200);

export const CreateTenantSchema = z
  .strictObject({
    name: TenantName.openapi({ example: "Acme Corp" }),
    plan: z.enum(PLANS).default("free"),
    parentId: z.string().max(64).nullish().openapi({ description: "Make it a sub-account of this tenant." }),
  })
  .openapi("CreateTenant");

export const UpdateTenantSchema = z
  .strictObject({ name: TenantName.optional(), plan: z.enum(PLANS).optional() })
  .openapi("UpdateTenant", { example: { plan: "pro" } });

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

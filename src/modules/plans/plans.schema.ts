import { z } from "@hono/zod-openapi";
import { PageQuerySchema } from "../../core/http/pagination";
import { FEATURES, type Feature, PLANS } from "../../core/plans";

const PlanName = z.enum(PLANS).openapi({ example: "pro" });
const CHANGE_STATUSES = ["pending", "applied", "cancelled"] as const;

const Limit = (description: string, example: number | null) =>
  z.number().int().nullable().openapi({ description, example });
const Used = (description: string, example: number) => z.number().int().openapi({ description, example });

const Bounds = z.object({
  burst: z.number().int().openapi({ example: 200 }),
  ratePerSecond: z.number().openapi({ example: 50 }),
});

export const ChangeRequestSchema = z
  .object({
    id: z.string().openapi({ example: "pcr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    tenantId: z.string().openapi({ example: "ten_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    fromPlan: PlanName.openapi({ description: "The plan when the request was made.", example: "free" }),
    toPlan: PlanName.openapi({ description: "The plan asked for.", example: "pro" }),
    note: z.string().nullable().openapi({ example: "We expect 20,000 users by March." }),
    status: z.enum(CHANGE_STATUSES).openapi({
      description:
        "`pending` until the platform admin sets the tenant's plan to `toPlan` (PATCH /v1/tenants/{id}), which " +
        "makes it `applied`, or until it is cancelled (DELETE).",
      example: "pending",
    }),
    createdAt: z.string().openapi({ example: "2026-11-03T09:12:44.120Z" }),
    resolvedAt: z.string().nullable().openapi({ description: "When it was applied or cancelled.", example: null }),
  })
  .openapi("PlanChangeRequest");
export type ChangeRequest = z.infer<typeof ChangeRequestSchema>;

export const CreateChangeRequestSchema = z
  .strictObject({
    plan: PlanName.openapi({ description: "The plan wanted; not the current one (409 PLAN_UNCHANGED)." }),
    note: z.string().trim().max(1000).optional().openapi({ description: "For the platform admin." }),
  })
  .openapi("CreatePlanChangeRequest", { example: { plan: "pro", note: "We expect 20,000 users by March." } });

export const ChangeRequestQuerySchema = PageQuerySchema.extend({
  status: z.enum(CHANGE_STATUSES).optional().openapi({ example: "pending" }),
  tenantId: z.string().max(64).optional().openapi({
    description: "The admin token: one tenant's requests. A tenant credential only ever sees its own.",
    example: "ten_01JD8Z6Q1W3V8K2N4T5R6Y7P9A",
  }),
});

export const ChangeRequestIdParamSchema = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "pcr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
});

const FEATURE_NAMES = Object.keys(FEATURES) as [Feature, ...Feature[]];

export const PlanOverviewSchema = z
  .object({
    plan: PlanName,
    features: z.array(
      z.object({
        name: z.enum(FEATURE_NAMES),
        description: z.string(),
        included: z.boolean(),
        requiredPlan: PlanName.openapi({ description: "The cheapest plan that includes it." }),
      }),
    ),
    quotas: z.object({
      maxUsers: z.object({
        limit: Limit("Users stored, soft-deleted ones included (restorable) until purged; null: unlimited.", 100000),
        used: Used("Users stored now.", 1250),
      }),
      requestsPerMonth: z.object({
        limit: Limit("Requests with a tenant credential per calendar month (UTC); null: unlimited.", 5000000),
        used: Used(
          "Requests counted this month; behind by at most one flush window (USAGE_FLUSH_SECONDS, 5 s).",
          48210,
        ),
        period: z.string().openapi({ description: "The month counted (UTC).", example: "2026-11" }),
      }),
      subAccounts: z.object({
        limit: Limit("Direct sub-accounts.", 25),
        used: Used("Direct sub-accounts now.", 2),
      }),
      webhookEndpoints: z.object({
        limit: Limit("Webhook endpoints.", 20),
        used: Used("Always 0 until webhooks exist (the Webhooks issue).", 0),
      }),
      auditRetentionDays: z.object({
        limit: Limit("Days of audit events the audit API returns (older ones are kept, not shown).", 90),
      }),
    }),
    rateLimits: z.object({
      default: Bounds.openapi({ description: "What the tenant gets until it sets its own rate limits." }),
      max: Bounds.openapi({ description: "The most the tenant may set." }),
    }),
    pendingChangeRequest: ChangeRequestSchema.nullable(),
  })
  .openapi("PlanOverview");
export type PlanOverview = z.infer<typeof PlanOverviewSchema>;

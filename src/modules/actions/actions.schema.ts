import { z } from "@hono/zod-openapi";

export const ACTION_TRIGGERS = ["user.create.before", "user.login.before"] as const;
export type ActionTrigger = (typeof ACTION_TRIGGERS)[number];
export const MAX_TIMEOUT_MS = 10_000;

const Url = z.url({ error: "An absolute URL." }).max(2048).openapi({ example: "https://hooks.example.com/uom" });

export const CreateActionSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional().openapi({ example: "Block disposable emails" }),
    url: Url.openapi({
      description: "https only (plain http to loopback is accepted in development); private addresses are refused.",
    }),
    trigger: z.enum(ACTION_TRIGGERS),
    timeoutMs: z.number().int().min(100).max(MAX_TIMEOUT_MS).default(5000),
    failurePolicy: z
      .enum(["open", "closed"])
      .default("closed")
      .openapi({
        description:
          "On timeout, network error, non-2xx or an unreadable answer: `open` proceeds (logged), `closed` refuses " +
          "with 503 ACTION_UNAVAILABLE.",
      }),
    enabled: z.boolean().default(true),
  })
  .openapi("CreateAction");
export type CreateActionInput = z.infer<typeof CreateActionSchema>;

export const ActionPatchSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    url: Url.optional(),
    trigger: z.enum(ACTION_TRIGGERS).optional(),
    timeoutMs: z.number().int().min(100).max(MAX_TIMEOUT_MS).optional(),
    failurePolicy: z.enum(["open", "closed"]).optional(),
    enabled: z.boolean().optional(),
  })
  .openapi("ActionPatch");
export type ActionPatch = z.infer<typeof ActionPatchSchema>;

export const ActionSchema = z
  .object({
    id: z.string().openapi({ example: "act_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    name: z.string(),
    url: z.string(),
    trigger: z.enum(ACTION_TRIGGERS),
    timeoutMs: z.number().int(),
    failurePolicy: z.enum(["open", "closed"]),
    enabled: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Action");
export type Action = z.infer<typeof ActionSchema>;

export const CreatedActionSchema = ActionSchema.extend({
  secret: z.string().openapi({
    description: "The signing secret (Standard Webhooks `whsec_…`): shown once, stored sealed.",
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  }),
}).openapi("CreatedAction");

export const EXECUTION_OUTCOMES = ["allowed", "modified", "denied", "failed_open", "failed_closed"] as const;

export const ExecutionSchema = z
  .object({
    id: z.string(),
    trigger: z.enum(ACTION_TRIGGERS),
    outcome: z.enum(EXECUTION_OUTCOMES),
    httpStatus: z.number().int().nullable(),
    durationMs: z.number().int(),
    error: z.string().nullable().openapi({ description: "Why a call failed: timeout, network, HTTP status, answer." }),
    createdAt: z.string(),
  })
  .openapi("ActionExecution");
export type Execution = z.infer<typeof ExecutionSchema>;

/** What an action answers (docs/actions.md). */
export const ActionAnswerSchema = z.discriminatedUnion("action", [
  z.object({ action: z.literal("allow"), attributes: z.record(z.string(), z.unknown()).optional() }),
  z.object({ action: z.literal("deny"), message: z.string().max(500).optional() }),
]);

export const ActionIdParamSchema = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "act_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
});

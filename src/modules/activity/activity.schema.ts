import { z } from "@hono/zod-openapi";
import { PageQuerySchema, pageSchema } from "../../core/http/pagination";
import { LOGIN, LOGIN_FAILED } from "./activity.repo";

export const MAX_EVENTS = 1_000;
const MAX_PROPERTIES_BYTES = 2_048;

const Timestamp = z.iso.datetime({ offset: true, error: "An RFC 3339 date-time, such as 2026-01-01T00:00:00Z." });

const ActivityType = z
  .string()
  .regex(/^[a-z][a-z0-9_.:-]{0,63}$/, "1–64 characters: lower-case letters, digits and _ . : -, from a letter.")
  .refine((type) => type !== LOGIN && type !== LOGIN_FAILED, {
    message: `"${LOGIN}" and "${LOGIN_FAILED}" are recorded by the logins themselves.`,
  })
  .openapi({ description: "What the user did, in your product's words.", example: "report.exported" });

const ActivityEventInput = z
  .strictObject({
    userId: z.string().max(64).optional().openapi({ example: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    externalId: z
      .string()
      .max(255)
      .optional()
      .openapi({ description: "The user's `externalId`, instead of `userId`." }),
    type: ActivityType,
    occurredAt: Timestamp.optional().openapi({
      description: "When it happened (default: now); at most 5 minutes ahead, not before the plan's retention.",
    }),
    properties: z
      .record(z.string(), z.unknown())
      .refine((p) => JSON.stringify(p).length <= MAX_PROPERTIES_BYTES, {
        message: `At most ${MAX_PROPERTIES_BYTES} bytes of JSON.`,
      })
      .optional()
      .openapi({
        description: "Anything about the event worth keeping (at most 2 KB of JSON).",
        example: { rows: 120 },
      }),
    id: z
      .string()
      .regex(/^[\x21-\x7e]{1,128}$/, "1–128 visible ASCII characters.")
      .optional()
      .openapi({
        description:
          "Your id of the event: an event whose id was recorded before is a duplicate, counted once (send a batch " +
          "again safely).",
        example: "evt-8f14e45f",
      }),
  })
  .refine((e) => (e.userId === undefined) !== (e.externalId === undefined), {
    message: "Name the user by userId or by externalId (one of them).",
    path: ["userId"],
  })
  .openapi("ActivityEventInput");

export const ActivityBatchSchema = z
  .strictObject({ events: z.array(ActivityEventInput).min(1).max(MAX_EVENTS) })
  .openapi("ActivityBatch");
export type ActivityBatch = z.infer<typeof ActivityBatchSchema>;

export const ActivityBatchResultSchema = z
  .object({
    received: z.number().int(),
    recorded: z.number().int().openapi({ description: "Events recorded by this request." }),
    duplicates: z.number().int().openapi({
      description: "Events whose `id` was recorded before or came twice in the batch: not recorded again.",
    }),
  })
  .openapi("ActivityBatchResult", { example: { received: 3, recorded: 2, duplicates: 1 } });
export type ActivityBatchResult = z.infer<typeof ActivityBatchResultSchema>;

export const ActivitySchema = z
  .object({
    id: z.string().openapi({ example: "act_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    userId: z.string().nullable(),
    type: z.string().openapi({ description: "`login`, `login_failed`, or a product event's type.", example: "login" }),
    occurredAt: z.string(),
    ip: z.string().nullable().openapi({ description: "The client's address, for logins." }),
    userAgent: z.string().nullable().openapi({ description: "The client's user agent, for logins." }),
    properties: z.record(z.string(), z.unknown()).nullable(),
    eventId: z.string().nullable().openapi({ description: "The sender's `id` of a product event." }),
  })
  .openapi("Activity");
export type Activity = z.infer<typeof ActivitySchema>;

export const ActivityQuerySchema = PageQuerySchema.extend({
  type: z.string().max(64).optional().openapi({ description: "Only this type.", example: "login_failed" }),
  from: Timestamp.optional().openapi({ description: "Events at or after this time." }),
  to: Timestamp.optional().openapi({ description: "Events before this time." }),
});
export type ActivityQuery = z.infer<typeof ActivityQuerySchema>;

export const ActivityPageSchema = pageSchema(ActivitySchema, "ActivityPage");

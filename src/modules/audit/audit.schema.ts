import { z } from "@hono/zod-openapi";
import { PageQuerySchema } from "../../core/http/pagination";

const Timestamp = z.iso.datetime({ offset: true, error: "An RFC 3339 date-time, such as 2026-01-01T00:00:00Z." });

export const AuditQuerySchema = PageQuerySchema.extend({
  resourceId: z.string().max(64).optional(),
  action: z.string().max(64).optional().openapi({ example: "user.updated" }),
  actorId: z.string().max(64).optional(),
  since: Timestamp.optional().openapi({ description: "Events at or after this time." }),
  until: Timestamp.optional().openapi({ description: "Events before this time." }),
});

export const AuditEventSchema = z
  .object({
    id: z.string().openapi({ example: "aud_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    action: z.string().openapi({ example: "user.updated" }),
    actor: z.object({ type: z.string().openapi({ example: "api_key" }), id: z.string().nullable() }),
    resource: z.object({ type: z.string().openapi({ example: "user" }), id: z.string().nullable() }),
    changes: z
      .record(z.string(), z.object({ from: z.unknown(), to: z.unknown() }))
      .openapi({ example: { name: { from: "A***e", to: "A***g" }, "attributes.seats": { from: 3, to: 5 } } }),
    requestId: z.string().nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    createdAt: z.string(),
    hash: z.string().nullable().openapi({ description: "This event's link in the tamper-evident chain." }),
  })
  .openapi("AuditEvent");

export const AuditVerificationSchema = z
  .object({
    intact: z.boolean(),
    checked: z.number().int(),
    firstBrokenId: z.string().optional(),
  })
  .openapi("AuditVerification", { example: { intact: true, checked: 1280 } });

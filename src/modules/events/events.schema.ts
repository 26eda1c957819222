import { z } from "@hono/zod-openapi";
import { PageQuerySchema } from "../../core/http/pagination";

const DELIVERIES = ["pending", "dispatched", "dead"] as const;

const Timestamp = z.iso.datetime({ offset: true, error: "An RFC 3339 date-time, such as 2026-01-01T00:00:00Z." });

export const EventsQuerySchema = PageQuerySchema.extend({
  type: z
    .string()
    .max(64)
    .regex(/^[a-z_]+(\.([a-z_]+|\*))?$/, "An event type (user.created) or a family of them (user.*).")
    .optional()
    .openapi({ description: "An event type, or `user.*` for every type of a family.", example: "user.*" }),
  since: Timestamp.optional().openapi({ description: "Events at or after this time." }),
  delivery: z
    .enum(DELIVERIES)
    .optional()
    .openapi({ description: "Only events in this delivery state (`dead`: given up, see docs/events.md)." }),
});

export const EventSchema = z
  .object({
    id: z.string().openapi({ example: "evt_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    type: z.string().openapi({ example: "user.updated" }),
    tenantId: z.string(),
    occurredAt: z.string(),
    sequence: z.number().int().openapi({ description: "Per subject, from 1: order one resource's events by it." }),
    subjectId: z.string().nullable().openapi({ description: "The resource the event is about." }),
    delivery: z.enum(DELIVERIES).openapi({
      description:
        "`pending`: not yet acknowledged by the event consumers (sent, or waiting for the sweeper); `dispatched`: " +
        "acknowledged; `dead`: given up after the re-send cap or the dead-letter queue, never sent again.",
    }),
    data: z.record(z.string(), z.unknown()).openapi({
      description:
        "Ids, types and the names of changed fields, never their values or any personal data: fetch the resource " +
        "for its current state (as your credential may read it).",
      example: {
        resource: { type: "user", id: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" },
        actor: { type: "api_key", id: "key_01JD8Z6Q1W3V8K2N4T5R6Y7P9B" },
        fields: ["name", "attributes.seats"],
        requestId: "req_01JD8Z6Q1W3V8K2N4T5R6Y7P9C",
      },
    }),
  })
  .openapi("Event");

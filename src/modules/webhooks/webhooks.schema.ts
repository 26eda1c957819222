import { z } from "@hono/zod-openapi";
import { PageQuerySchema } from "../../core/http/pagination";

/** An endpoint listens to at most this many filters. */
export const MAX_FILTERS = 50;
const EXAMPLE_URL = "https://receiver.example/uom-webhooks";

const Url = z
  .string()
  .trim()
  .min(1)
  .max(2048)
  .openapi({
    description:
      "https only; http to a loopback address (127.0.0.1, ::1, localhost) in local development only. Addresses " +
      "inside a network (private, loopback, link-local, CGNAT, unique-local, multicast) and local names are " +
      "refused (400 WEBHOOK_URL_NOT_ALLOWED, naming the rule).",
    example: EXAMPLE_URL,
  });

const Filter = z
  .string()
  .max(64)
  .regex(/^(\*|[a-z_]+\.([a-z_]+|\*))$/, "An event type (user.created), a family of them (user.*), or * for all.");

const Filters = z
  .array(Filter)
  .min(1)
  .max(MAX_FILTERS)
  .openapi({
    description: "Event types (`user.created`), families (`user.*`) or `*` for every event (docs/events.md).",
    example: ["user.created", "user.*"],
  });

const Description = z.string().trim().max(500);

export const CreateWebhookSchema = z
  .strictObject({
    url: Url,
    events: Filters,
    description: Description.nullish().openapi({ example: "CRM sync" }),
  })
  .openapi("CreateWebhook", {
    example: { url: EXAMPLE_URL, events: ["user.created", "user.*"], description: "CRM sync" },
  });
export type CreateWebhookInput = z.infer<typeof CreateWebhookSchema>;

export const WebhookPatchSchema = z
  .strictObject({
    url: Url.optional(),
    events: Filters.optional().openapi({ description: "Replaces every filter." }),
    description: Description.nullable().optional().openapi({ description: "null removes it." }),
    status: z
      .enum(["enabled", "disabled"])
      .optional()
      .openapi({ description: "`enabled` turns a disabled endpoint back on (its failure count starts again)." }),
  })
  .openapi("WebhookPatch", {
    description: "A JSON merge patch (RFC 7396) of an endpoint.",
    example: { events: ["user.*", "role.*"], status: "enabled" },
  });
export type WebhookPatch = z.infer<typeof WebhookPatchSchema>;

export const WebhookSchema = z
  .object({
    id: z.string().openapi({ example: "whk_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    url: z.string().openapi({ example: EXAMPLE_URL }),
    events: z.array(z.string()).openapi({ example: ["user.created", "user.*"] }),
    description: z.string().nullable(),
    status: z.enum(["enabled", "disabled"]),
    disabledReason: z
      .enum(["manual", "gone", "failures"])
      .nullable()
      .openapi({
        description:
          "`manual` (PATCH), `gone` (the receiver answered 410), `failures` (WEBHOOK_DISABLE_AFTER_FAILURES failed " +
          "attempts in a row).",
      }),
    disabledAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Webhook");
export type Webhook = z.infer<typeof WebhookSchema>;

export const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z.string().openapi({
    description: "The signing secret (Standard Webhooks `whsec_…`): shown only here, store it now.",
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  }),
}).openapi("WebhookWithSecret");

export const WebhookListSchema = z
  .object({ data: z.array(WebhookSchema), nextCursor: z.string().nullable() })
  .openapi("WebhookPage");

export const WebhookIdParamSchema = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "whk_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
});

export const DeliveryParamSchema = WebhookIdParamSchema.extend({
  deliveryId: z
    .string()
    .max(64)
    .openapi({ param: { name: "deliveryId", in: "path" }, example: "dlv_01JD8Z6Q1W3V8K2N4T5R6Y7P9B" }),
});

export const DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;

export const DeliveriesQuerySchema = PageQuerySchema.extend({
  status: z.enum(DELIVERY_STATUSES).optional().openapi({ description: "Only deliveries in this state." }),
});

export const AttemptSchema = z
  .object({
    attempt: z.number().int().openapi({ description: "1 for the first request of the delivery." }),
    attemptedAt: z.string(),
    statusCode: z.number().int().nullable().openapi({ description: "The receiver's status; null when no answer." }),
    error: z.string().nullable().openapi({ description: "Why it failed without an answer (timeout, refused, …)." }),
    durationMs: z.number().int(),
    responseBody: z.string().nullable().openapi({ description: "The start of the response body (at most 1 KiB)." }),
  })
  .openapi("WebhookAttempt");

export const DeliverySchema = z
  .object({
    id: z.string().openapi({ example: "dlv_01JD8Z6Q1W3V8K2N4T5R6Y7P9B" }),
    endpointId: z.string(),
    eventId: z.string().openapi({ description: "Also the `webhook-id` header of every attempt." }),
    eventType: z.string().openapi({ example: "user.created" }),
    status: z.enum(DELIVERY_STATUSES),
    nextAttemptAt: z.string().nullable().openapi({ description: "When the next attempt is due (pending only)." }),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    deadLetteredAt: z.string().nullable().openapi({ description: "When its final failure was recorded." }),
    createdAt: z.string(),
    updatedAt: z.string(),
    attempts: z.array(AttemptSchema).openapi({ description: "Every request made, oldest first." }),
  })
  .openapi("WebhookDelivery");
export type Delivery = z.infer<typeof DeliverySchema>;

export const DeliveryPageSchema = z
  .object({ data: z.array(DeliverySchema), nextCursor: z.string().nullable() })
  .openapi("WebhookDeliveryPage");

export const ReplaySchema = z
  .strictObject({
    since: z.iso
      .datetime({ offset: true, error: "An RFC 3339 date-time, such as 2026-01-01T00:00:00Z." })
      .openapi({ description: "Every matching event at or after this time is delivered again." }),
  })
  .openapi("WebhookReplay", { example: { since: "2026-11-25T00:00:00Z" } });

export const ReplayResultSchema = z
  .object({
    queued: z.number().int().openapi({ description: "Deliveries queued by this call." }),
    nextSince: z.string().nullable().openapi({
      description: "More events remain (at most 10,000 per call): call again with this `since`; null when done.",
    }),
  })
  .openapi("WebhookReplayResult", { example: { queued: 42, nextSince: null } });

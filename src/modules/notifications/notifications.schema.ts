import { z } from "@hono/zod-openapi";
import { PageQuerySchema } from "../../core/http/pagination";
import { CHANNELS, OPTIONAL_CATEGORIES } from "./catalogue";

const STATUSES = ["queued", "sent", "failed", "suppressed"] as const;

export const NotificationsQuerySchema = PageQuerySchema.extend({
  userId: z.string().max(64).optional().openapi({ description: "Messages to this user." }),
  status: z.enum(STATUSES).optional(),
  channel: z.enum(CHANNELS).optional(),
});

export const NotificationSchema = z
  .object({
    id: z.string().openapi({ example: "ntf_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    eventId: z.string().openapi({ description: "The event (GET /v1/events) the message is about." }),
    eventType: z.string().openapi({ example: "user.created" }),
    template: z.string().openapi({ description: "The template's event key.", example: "user.created" }),
    channel: z.enum(CHANNELS),
    category: z
      .string()
      .openapi({ description: "`security` (essential) or an optional category.", example: "onboarding" }),
    userId: z.string(),
    status: z.enum(STATUSES).openapi({
      description:
        "`queued` (waiting or being retried), `sent`, `failed` (gave up), `suppressed` (not sent, see `error`).",
    }),
    attempts: z.number().int(),
    error: z.string().nullable().openapi({ description: "Why the last attempt failed, or why it was suppressed." }),
    createdAt: z.string(),
    updatedAt: z.string(),
    sentAt: z.string().nullable(),
  })
  .openapi("Notification");

export const PreferencesSchema = z
  .object({
    userId: z.string(),
    optedOut: z.array(z.enum(OPTIONAL_CATEGORIES)),
    essential: z.array(z.string()).openapi({ description: "Categories no opt-out stops.", example: ["security"] }),
  })
  .openapi("NotificationPreferences");

export const PreferencesInputSchema = z
  .strictObject({
    optedOut: z
      .array(z.enum(OPTIONAL_CATEGORIES))
      .max(OPTIONAL_CATEGORIES.length)
      .openapi({
        description: "The non-essential categories the user gets no message of: `onboarding` (welcome), `reminders`.",
        example: ["reminders"],
      }),
  })
  .openapi("NotificationPreferencesInput", { example: { optedOut: ["reminders"] } });

export const UnsubscribeQuerySchema = z.object({
  token: z.string().min(1).max(600).openapi({ description: "The signed token of the message's link." }),
});

export const PushSubscriptionInputSchema = z
  .strictObject({
    endpoint: z.string().url().max(2048),
    keys: z.strictObject({
      p256dh: z.string().regex(/^[A-Za-z0-9_-]{86,88}={0,2}$/, "The P-256 public key, base64url (65 bytes)."),
      auth: z.string().regex(/^[A-Za-z0-9_-]{22,24}={0,2}$/, "The 16-byte secret, base64url."),
    }),
    expirationTime: z.number().nullable().optional(),
  })
  .openapi("PushSubscriptionInput", {
    description: "A browser's PushSubscription.toJSON().",
    example: {
      endpoint: "https://fcm.googleapis.com/fcm/send/…",
      keys: {
        p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        auth: "tBHItJI5svbpez7KI4CCXg",
      },
    },
  });

export const PushSubscriptionSchema = z.object({ id: z.string(), createdAt: z.string() }).openapi("PushSubscription", {
  description: "The endpoint and keys are sealed and never returned.",
  example: { id: "psh_01JD8Z6Q1W3V8K2N4T5R6Y7P9A", createdAt: "2026-11-25T19:04:32.123Z" },
});

export const PushSubscriptionParamSchema = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" } }),
  subscriptionId: z
    .string()
    .max(64)
    .openapi({ param: { name: "subscriptionId", in: "path" } }),
});

import { z } from "@hono/zod-openapi";
import { CHANNELS, NOTIFIABLE_EVENTS } from "./catalogue";

const EVENTS = Object.keys(NOTIFIABLE_EVENTS) as [string, ...string[]];

export const LOCALE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/;
export const Locale = z
  .string()
  .regex(LOCALE, "A BCP 47 language tag such as en, fr or fr-CA.")
  .openapi({ description: "A BCP 47 language tag (`en`, `fr-CA`).", example: "en" });

/** The longest bodies: HTML mail stays under Gmail's 102 KB clipping; an SMS under 10 segments. */
export const LIMITS = { subject: 200, html: 100_000, text: 50_000, sms: 1_600, push: 2_000 } as const;

const fields = {
  name: z.string().trim().min(1).max(100).openapi({ example: "Welcome (French)" }),
  event: z.enum(EVENTS).openapi({
    description:
      "What the message is about: `user.created` (welcome), `user.email_verification_requested`, " +
      "`user.password_reset_requested`, `user.activation_reminder`, `user.re_engagement`, `user.login.new_device` (a sign-in from a new device).",
    example: "user.created",
  }),
  channel: z.enum(CHANNELS).openapi({ example: "email" }),
  locale: Locale,
  subject: z
    .string()
    .max(LIMITS.subject)
    .nullish()
    .openapi({ description: "Email subject (required for email) or push title; not for SMS." }),
  html: z
    .string()
    .max(LIMITS.html)
    .nullish()
    .openapi({ description: "Email only. Every `{{variable}}` is HTML-escaped; `{{{…}}}` is refused." }),
  text: z.string().min(1).max(LIMITS.text).openapi({
    description: "The plain-text body (email's text part, the SMS, the push body). Variables are not escaped.",
    example: "Hello {{user.name}}, welcome to {{app.name}}.",
  }),
};

export const CreateTemplateSchema = z.strictObject(fields).openapi("CreateNotificationTemplate", {
  example: {
    name: "Welcome (French)",
    event: "user.created",
    channel: "email",
    locale: "fr",
    subject: "Bienvenue, {{user.name}}",
    html: "<p>Bonjour {{user.name}}</p>",
    text: "Bonjour {{user.name}}",
  },
});
export type CreateTemplateInput = z.infer<typeof CreateTemplateSchema>;

export const TemplatePatchSchema = z
  .strictObject({
    name: fields.name.optional(),
    subject: fields.subject,
    html: fields.html,
    text: fields.text.optional(),
  })
  .openapi("NotificationTemplatePatch", {
    description: "The fields to change; `null` removes subject or html. Event, channel and locale cannot change.",
  });
export type TemplatePatch = z.infer<typeof TemplatePatchSchema>;

export const TemplateSchema = z
  .object({
    id: z.string().openapi({ example: "ntp_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    name: z.string(),
    event: z.string(),
    channel: z.enum(CHANNELS),
    locale: z.string(),
    subject: z.string().nullable(),
    html: z.string().nullable(),
    text: z.string(),
    builtIn: z.boolean().openapi({
      description:
        "A default shipped with the service (id `default.…`): read-only; create one for the same " +
        "event, channel and locale to replace it.",
    }),
    variables: z.array(z.string()).openapi({ description: "The variables the template uses.", example: ["user.name"] }),
    createdAt: z.string().nullable(),
    updatedAt: z.string().nullable(),
  })
  .openapi("NotificationTemplate");
export type Template = z.infer<typeof TemplateSchema>;

export const TemplateListQuerySchema = z.strictObject({
  event: fields.event.optional(),
  channel: fields.channel.optional(),
  locale: Locale.optional(),
  includeDefaults: z
    .enum(["true", "false"])
    .default("true")
    .openapi({ description: "List the shipped defaults too (the tenant's own first)." }),
});

export const TemplateIdParamSchema = z.object({
  id: z
    .string()
    .max(120)
    .openapi({ param: { name: "id", in: "path" }, example: "ntp_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
});

export const PreviewSchema = z
  .strictObject({
    data: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({ description: "Variables to render with; absent: the event's sample data." }),
  })
  .openapi("NotificationPreviewRequest", { example: { data: { user: { name: "Ada <admin>" } } } });

export const PreviewResultSchema = z
  .object({
    subject: z.string().nullable(),
    html: z.string().nullable(),
    text: z.string(),
    warnings: z.array(z.string()).openapi({
      description: "Variables the template uses that the data lacks (rendered empty).",
      example: ["user.nickname"],
    }),
  })
  .openapi("NotificationPreview");

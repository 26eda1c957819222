import { z } from "@hono/zod-openapi";
import { Locale } from "./templates.schema";

const Host = z
  .string()
  .trim()
  .min(1)
  .max(253)
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/, "A host name or an IP address.");
const From = z
  .string()
  .trim()
  .max(400)
  .regex(/^([^<>\r\n]*<[^\s@<>"]+@[^\s@<>"]+>|[^\s@<>"]+@[^\s@<>"]+)$/, 'An address, or "Name <address>".')
  .openapi({ example: "Example <no-reply@example.com>" });
const Secret = z.string().min(1).max(1000);
const HttpUrl = z.string().url().max(2048);

export const SmtpSchema = z
  .strictObject({
    provider: z.literal("smtp"),
    host: Host.openapi({ example: "smtp.example.com" }),
    port: z.number().int().min(1).max(65535).openapi({ example: 587 }),
    security: z.enum(["starttls", "tls", "none"]).openapi({
      description: "`starttls` (RFC 3207, usually port 587), `tls` (implicit, port 465), `none` (development only).",
    }),
    username: z.string().max(320).optional(),
    password: Secret.optional().openapi({ description: "Write-only; absent keeps the stored one." }),
    from: From,
  })
  .openapi("SmtpChannel");

export const HttpEmailSchema = z
  .strictObject({
    provider: z.literal("http"),
    format: z.enum(["resend", "postmark"]).openapi({ description: "The request body and auth header style." }),
    url: HttpUrl.openapi({ example: "https://api.resend.com/emails" }),
    apiKey: Secret.optional().openapi({ description: "Write-only; absent keeps the stored one." }),
    from: From,
  })
  .openapi("HttpEmailChannel");

export const EmailChannelSchema = z.discriminatedUnion("provider", [SmtpSchema, HttpEmailSchema]);

export const SmsChannelSchema = z
  .strictObject({
    provider: z.literal("twilio"),
    accountSid: z.string().trim().min(1).max(64).openapi({ example: "AC0123456789abcdef0123456789abcdef" }),
    authToken: Secret.optional().openapi({ description: "Write-only; absent keeps the stored one." }),
    from: z.string().trim().min(1).max(64).openapi({ example: "+15005550006" }),
    baseUrl: HttpUrl.optional().openapi({
      description: "A Twilio-compatible API's origin (default https://api.twilio.com).",
    }),
  })
  .openapi("SmsChannel");

export const PushChannelSchema = z
  .strictObject({
    subject: z
      .string()
      .max(320)
      .regex(/^(mailto:[^\s@]+@[^\s@]+|https:\/\/\S+)$/, "A mailto: or https: URI (RFC 8292 §2.1).")
      .openapi({ example: "mailto:ops@example.com" }),
    rotateKeys: z.boolean().optional().openapi({
      description: "Generate a new VAPID key pair (existing subscriptions were made for the old public key).",
    }),
  })
  .openapi("PushChannel");

export const ChannelsSchema = z
  .strictObject({
    email: EmailChannelSchema.nullish(),
    sms: SmsChannelSchema.nullish(),
    push: PushChannelSchema.nullish(),
  })
  .openapi("NotificationChannelsInput", {
    description:
      "Replaces every channel: an absent or null channel is removed. (The example's host is an RFC 2606 `.invalid` " +
      "name, so a client that sends it as is reaches nobody.)",
    example: {
      email: {
        provider: "smtp",
        host: "smtp.example.invalid",
        port: 587,
        security: "starttls",
        username: "mailer",
        password: "secret",
        from: "Example <no-reply@example.com>",
      },
    },
  });
export type ChannelsInput = z.infer<typeof ChannelsSchema>;

export const ChannelsViewSchema = z
  .object({
    email: z.record(z.string(), z.unknown()).nullable().openapi({
      description: "Credentials are never returned: `hasPassword` / `hasApiKey` tell whether one is stored.",
    }),
    sms: z.record(z.string(), z.unknown()).nullable().openapi({ description: "`hasAuthToken` instead of the token." }),
    push: z
      .object({ subject: z.string(), publicKey: z.string() })
      .nullable()
      .openapi({ description: "`publicKey`: the VAPID application server key (base64url) for PushManager.subscribe." }),
    updatedAt: z.string().nullable(),
  })
  .openapi("NotificationChannels", {
    example: {
      email: {
        provider: "smtp",
        host: "smtp.example.com",
        port: 587,
        security: "starttls",
        username: "mailer",
        hasPassword: true,
        from: "Example <no-reply@example.com>",
      },
      sms: null,
      push: {
        subject: "mailto:ops@example.com",
        publicKey: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
      },
      updatedAt: "2026-11-25T19:04:32.123Z",
    },
  });
export type ChannelsView = z.infer<typeof ChannelsViewSchema>;

export const SettingsSchema = z
  .strictObject({
    appName: z.string().trim().min(1).max(100).default("our service").openapi({ example: "Example" }),
    defaultLocale: Locale.default("en"),
    links: z
      .strictObject({
        passwordReset: HttpUrl.optional(),
        emailVerification: HttpUrl.optional(),
        signIn: HttpUrl.optional(),
      })
      .default({})
      .openapi({
        description:
          "Your app's pages the messages link to; `{{token}}` in a URL is replaced by the reset or verification " +
          "token (url-encoded).",
        example: {
          passwordReset: "https://app.example.com/reset-password?token={{token}}",
          emailVerification: "https://app.example.com/verify-email?token={{token}}",
          signIn: "https://app.example.com/sign-in",
        },
      }),
    activationReminderDays: z.number().int().min(0).max(365).default(3).openapi({
      description: "Remind users who never signed in this many days after their creation; 0 turns reminders off.",
    }),
  })
  .openapi("NotificationSettings");
export type Settings = z.infer<typeof SettingsSchema>;
export const DEFAULT_SETTINGS: Settings = SettingsSchema.parse({});
